// Issue #4 "Failure": two `keyhole serve` replicas on a PRIVATE PostgreSQL cluster and a PRIVATE Redis
// server (test/support/services.ts), which the test stops and starts again while the replicas run.
// While a dependency is down, what needs it answers 503 with Cache-Control: no-store (and
// Retry-After), no token is issued, no token is accepted on an unknown revocation state, and
// /health/ready says which dependency is missing; when it returns, service resumes without a restart.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../../src/authserver/users.ts';
import { openStorage } from '../../src/storage/open.ts';
import { ReplicaSet } from '../support/replicas.ts';
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
  waitFor,
} from '../support/services.ts';
import { callTool, obtainTokens, PASSWORD, readiness, registerClient } from './harness.ts';

const REPLICAS = 2;

let pg: PrivatePostgres;
let redis: PrivateRedis;
let set: ReplicaSet;

before(async () => {
  [pg, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
  const databaseUrl = await pg.createDatabase('keyhole');
  set = await ReplicaSet.start({
    count: REPLICAS,
    databaseUrl,
    redisUrl: redis.url,
    redisPrefix: 'keyhole:',
    env: { KEYHOLE_LOG_LEVEL: 'error' },
  });
  const storage = await openStorage({ kind: 'postgres', url: databaseUrl, redisUrl: redis.url });
  try {
    await createUser(storage, 'alice', PASSWORD);
  } finally {
    await storage.close();
  }
});

after(async () => {
  await set?.close();
  await Promise.all([pg?.close(), redis?.close()]);
});

async function onEveryReplica<T>(fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    set.balancer.pin(i);
    try {
      out.push(await fn());
    } finally {
      set.balancer.pin(undefined);
    }
  }
  return out;
}

function assertUnavailable(res: Response, what: string): void {
  assert.equal(res.status, 503, what);
  assert.equal(res.headers.get('cache-control'), 'no-store', what);
  assert.ok(res.headers.get('retry-after'), `${what}: Retry-After`);
}

function refresh(refreshToken: string, clientId: string): Promise<Response> {
  return fetch(`${set.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: clientId,
    }),
  });
}

describe('PostgreSQL and Redis stopped and started while the replicas run', () => {
  test('Redis down: 503 no-store, no token accepted or issued; back: service resumes', async () => {
    const tokens = await obtainTokens(set, { username: 'alice' });
    for (const res of await onEveryReplica(() => callTool(set, tokens.access_token, 'echo', { text: 'x' }))) {
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    await redis.stop();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} reports Redis unavailable`, async () => {
        const r = await readiness(set, i);
        return r.status === 503 && r.checks.redis === 'unavailable';
      });
    }
    // The revocation state is unknown: even a token every replica has cached is not accepted.
    for (const res of await onEveryReplica(() => callTool(set, tokens.access_token, 'echo', { text: 'x' }))) {
      assertUnavailable(res, 'tools/call');
      await res.body?.cancel();
    }
    // No token is issued: the refresh is refused and, Redis back, the same refresh token still works.
    for (const res of await onEveryReplica(() => refresh(tokens.refresh_token!, tokens.clientId))) {
      assertUnavailable(res, '/token refresh');
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.error, 'temporarily_unavailable');
      assert.equal(body.access_token, undefined);
    }
    const revoke = await fetch(`${set.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token, client_id: tokens.clientId }),
    });
    assertUnavailable(revoke, '/revoke');
    await revoke.body?.cancel();

    await redis.start();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} ready again`, async () => (await readiness(set, i)).status === 200);
    }
    for (const res of await onEveryReplica(() => callTool(set, tokens.access_token, 'echo', { text: 'x' }))) {
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    const again = await refresh(tokens.refresh_token!, tokens.clientId);
    assert.equal(again.status, 200, await again.clone().text());
    await again.body?.cancel();
  });

  test('PostgreSQL down: token and registration answer 503; tools keep working; back: resumes', async () => {
    const tokens = await obtainTokens(set, { username: 'alice' });
    await pg.stop();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} reports the database unavailable`, async () => {
        const r = await readiness(set, i);
        return r.status === 503 && r.checks.database === 'unavailable';
      });
    }
    for (const res of await onEveryReplica(() => refresh(tokens.refresh_token!, tokens.clientId))) {
      assertUnavailable(res, '/token refresh');
      assert.equal(((await res.json()) as { error: string }).error, 'temporarily_unavailable');
    }
    const register = await fetch(`${set.issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' }),
    });
    assertUnavailable(register, '/register');
    await register.body?.cancel();
    // Verifying a token needs neither the database (keys are in memory) nor anything it is missing.
    for (const res of await onEveryReplica(() => callTool(set, tokens.access_token, 'echo', { text: 'x' }))) {
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }

    await pg.start();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} ready again`, async () => (await readiness(set, i)).status === 200);
    }
    for (const res of await onEveryReplica(() => registerClient(set).then(() => 'ok')))
      assert.equal(res, 'ok');
    const again = await refresh(tokens.refresh_token!, tokens.clientId);
    assert.equal(again.status, 200, await again.clone().text());
    await again.body?.cancel();
  });

  test('Redis comes back from an older snapshot: revoked tokens stay refused on every replica, restarted ones too', async () => {
    const revokedToken = await obtainTokens(set, { username: 'alice' });
    const revokedGrant = await obtainTokens(set, { username: 'alice' });
    const untouched = await obtainTokens(set, { username: 'alice' });
    // A snapshot taken before the revocations (stop() saves one): what a crash between two RDB saves,
    // or a lagging replica promoted, would bring back.
    await redis.stop();
    await redis.start();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} ready again`, async () => (await readiness(set, i)).status === 200);
    }
    const revoke = async (token: string, clientId: string) => {
      const res = await fetch(`${set.issuer}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: clientId }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
    };
    // An access token by its jti, and a whole grant through its refresh token (RFC 7009 §2.1).
    await revoke(revokedToken.access_token, revokedToken.clientId);
    await revoke(revokedGrant.refresh_token!, revokedGrant.clientId);
    const statuses = async () => {
      const out: number[][] = [];
      for (const t of [revokedToken, revokedGrant, untouched]) {
        const row: number[] = [];
        for (const res of await onEveryReplica(() => callTool(set, t.access_token, 'echo', { text: 'x' }))) {
          row.push(res.status);
          await res.body?.cancel();
        }
        out.push(row);
      }
      return out;
    };
    const expected = [Array(REPLICAS).fill(401), Array(REPLICAS).fill(401), Array(REPLICAS).fill(200)];
    await waitFor(
      'the revocations reach every replica',
      async () => JSON.stringify(await statuses()) === JSON.stringify(expected),
    );

    // Crashed, Redis comes back from that snapshot: it knows none of the revocations made since.
    await redis.crash();
    await redis.start();
    // Replica 1 is also restarted: a fresh process knows only what storage tells it.
    await set.kill(1);
    await set.startReplica(1);
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} ready again`, async () => (await readiness(set, i)).status === 200);
    }
    assert.deepEqual(await statuses(), expected);
    // The refresh token of the revoked grant stays dead, and Redis holds the restored copy again.
    const dead = await refresh(revokedGrant.refresh_token!, revokedGrant.clientId);
    assert.equal(dead.status, 400);
    assert.equal(((await dead.json()) as { error: string }).error, 'invalid_grant');
    const { connectRedis } = await import('../../src/storage/redis/client.ts');
    const raw = await connectRedis({ url: redis.url });
    try {
      assert.match(String(await raw.get('keyhole:{rev}:complete')), /^[0-9a-f]{40}$/);
      assert.ok((await raw.zCard('keyhole:{rev}:index')) >= 2);
    } finally {
      raw.destroy();
    }
  });
});
