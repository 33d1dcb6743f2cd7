// Issue #4 "Replicas" without Redis: `keyhole serve` processes sharing only one PostgreSQL database
// (no KEYHOLE_REDIS_URL) learn of each other's revocations and key rotations within a second, over
// the database's LISTEN/NOTIFY change feed (src/storage/postgres/feed.ts) rather than the guard's
// 30-second sync; and, since a replica whose feed is down cannot know what it missed, the database
// stopped makes every token-bearing request 503 until it is back (issue #4 "Failure").

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../../src/authserver/users.ts';
import { openStorage } from '../../src/storage/open.ts';
import { complete } from '../cli/helpers.ts';
import { createDatabase, dropDatabase } from '../support/databases.ts';
import { ReplicaSet } from '../support/replicas.ts';
import { type PrivatePostgres, startPrivatePostgres, waitFor } from '../support/services.ts';
import {
  callTool,
  challengeError,
  echoOn,
  everyReplicaWithin,
  obtainTokens,
  PASSWORD,
  readiness,
} from './harness.ts';

const REPLICAS = 2;
/** `alice`, `bob`, … in the database at `url`. */
async function addUsers(url: string, names: string[]): Promise<void> {
  const storage = await openStorage({ kind: 'postgres', url });
  try {
    for (const name of names) await createUser(storage, name, PASSWORD);
  } finally {
    await storage.close();
  }
}

function jwtHeader(token: string): { kid: string } {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string };
}

describe('replicas on PostgreSQL only: revocations and key rotations within a second', () => {
  let databaseUrl: string;
  let set: ReplicaSet;
  before(async () => {
    databaseUrl = await createDatabase();
    await addUsers(databaseUrl, ['alice', 'bob', 'carol']);
    set = await ReplicaSet.start({ count: REPLICAS, databaseUrl });
    assert.equal(set.env.KEYHOLE_REDIS_URL, undefined);
  });
  after(async () => {
    await set?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('every replica is ready on PostgreSQL alone, its revocation view current', async () => {
    for (let i = 0; i < REPLICAS; i++) {
      const r = await readiness(set, i);
      assert.equal(r.status, 200, JSON.stringify(r.checks));
      assert.equal(r.checks.redis, undefined);
      assert.equal(r.checks.revocations, undefined);
    }
  });

  test('a token revoked at one replica is refused by the other, which had cached it, within a second', async () => {
    const { access_token: token, clientId } = await obtainTokens(set, { username: 'bob' });
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, token), 200);
    set.balancer.pin(0);
    const res = await fetch(`${set.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: clientId }),
    });
    set.balancer.pin(undefined);
    assert.equal(res.status, 200); // RFC 7009 §2.2
    await res.body?.cancel();
    await everyReplicaWithin(
      set,
      'refusing',
      performance.now(),
      async (i) => (await echoOn(set, i, token)) === 401,
    );
    set.balancer.pin(1);
    const again = await callTool(set, token, 'echo', { text: 'x' });
    set.balancer.pin(undefined);
    assert.equal(challengeError(again), 'invalid_token');
    await again.body?.cancel();
  });

  test('removing a user (keyhole users remove, another process) logs them out on every replica', async () => {
    const { access_token: token } = await obtainTokens(set, { username: 'carol' });
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, token), 200);
    const removed = await complete(['users', 'remove', 'carol'], { env: set.env });
    assert.equal(removed.code, 0, removed.stderr);
    await everyReplicaWithin(
      set,
      'refusing',
      performance.now(),
      async (i) => (await echoOn(set, i, token)) === 401,
    );
  });

  test('keyhole keys rotate (no overlap): every replica serves the new JWKS and signs with the new key', async () => {
    const { access_token: before } = await obtainTokens(set, { username: 'alice' });
    const oldKid = jwtHeader(before).kid;
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, before), 200);
    const rotated = await complete(['keys', 'rotate'], {
      env: { ...set.env, KEYHOLE_KEY_ROTATION_OVERLAP_SEC: '0' },
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    const since = performance.now();
    await everyReplicaWithin(set, 'publishing only the new key', since, async (i) => {
      const res = await fetch(new URL('/jwks.json', set.direct(i)));
      const jwks = (await res.json()) as { keys: { kid: string }[] };
      return jwks.keys.length > 0 && !jwks.keys.some((k) => k.kid === oldKid);
    });
    await everyReplicaWithin(
      set,
      'refusing the retired key',
      since,
      async (i) => (await echoOn(set, i, before)) === 401,
    );
    for (let i = 0; i < REPLICAS; i++) {
      set.balancer.pin(i);
      const { access_token: fresh } = await obtainTokens(set, { username: 'alice' }).finally(() =>
        set.balancer.pin(undefined),
      );
      assert.notEqual(jwtHeader(fresh).kid, oldKid, `replica ${i} signed with the retired key`);
      for (let j = 0; j < REPLICAS; j++) assert.equal(await echoOn(set, j, fresh), 200);
    }
  });
});

describe('replicas on PostgreSQL only, the database stopped and started (private cluster)', () => {
  let server: PrivatePostgres;
  let set: ReplicaSet;
  before(async () => {
    server = await startPrivatePostgres();
    const databaseUrl = await server.createDatabase('keyhole');
    await addUsers(databaseUrl, ['alice']);
    set = await ReplicaSet.start({ count: REPLICAS, databaseUrl, env: { KEYHOLE_LOG_LEVEL: 'error' } });
  });
  after(async () => {
    await set?.close();
    await server?.close();
  });

  test('feed down: cached tokens get 503 no-store and readiness names revocations; back: service resumes', async () => {
    const { access_token: token } = await obtainTokens(set, { username: 'alice' });
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, token), 200);
    await server.stop();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} reports its revocation view stale`, async () => {
        const r = await readiness(set, i);
        return r.status === 503 && r.checks.revocations === 'unavailable';
      });
      // Revocations made meanwhile could not reach it: even a cached token is not accepted.
      set.balancer.pin(i);
      const res = await callTool(set, token, 'echo', { text: 'x' });
      set.balancer.pin(undefined);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(res.headers.get('retry-after'));
      await res.body?.cancel();
    }
    await server.start();
    for (let i = 0; i < REPLICAS; i++) {
      await waitFor(`replica ${i} ready again`, async () => (await readiness(set, i)).status === 200);
      assert.equal(await echoOn(set, i, token), 200);
    }
  });
});
