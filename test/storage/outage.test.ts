// Storage outages at the adapter level (issue #4 "Failure"), on PRIVATE PostgreSQL and Redis servers
// (test/support/services.ts) that the tests stop, freeze and start again: every operation fails fast
// with StorageUnavailableError while the server is away (never a hang, never a made-up answer such as
// "not revoked"), the outage is reported once, and the same adapter instance answers again once the
// server is back, without being reopened. The shared servers on 5432/6379 are not touched.

import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RedisRateLimiter } from '../../src/authserver/rate-limit-redis.ts';
import {
  isStorageConflict,
  isStorageUnavailable,
  StorageConflictError,
  type StorageUnavailableError,
} from '../../src/storage/errors.ts';
import { Database, statement } from '../../src/storage/postgres/db.ts';
import { PostgresStorage, PostgresUnavailableError } from '../../src/storage/postgres/index.ts';
import { connectRedis } from '../../src/storage/redis/client.ts';
import { openRedisStores, RedisUnavailableError } from '../../src/storage/redis/index.ts';
import type { AuthorizationCodeRecord, ClientRecord } from '../../src/storage/types.ts';
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
  waitFor,
} from '../support/services.ts';

/** Generous bound on "answered promptly": the adapters' own budgets are about 2 s. */
const PROMPT_MS = 8000;

/** The promise's rejection, failing the test if it resolves or has not settled within PROMPT_MS. */
async function rejection(what: string, promise: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), PROMPT_MS);
  });
  try {
    const outcome = await Promise.race([
      promise.then(
        () => ({ ok: true as const }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
      hung,
    ]);
    assert.notEqual(outcome, 'hung', `${what}: no answer within ${PROMPT_MS} ms`);
    if (outcome === 'hung' || outcome.ok) assert.fail(`${what}: succeeded while the server is away`);
    return outcome.err;
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts the operation fails as an outage of `backend`, promptly. */
async function assertUnavailable(what: string, promise: Promise<unknown>, backend: 'redis' | 'postgres') {
  const err = await rejection(what, promise);
  assert.ok(isStorageUnavailable(err), `${what}: expected StorageUnavailableError, got ${String(err)}`);
  assert.equal((err as StorageUnavailableError).code, 'STORAGE_UNAVAILABLE');
  assert.equal((err as StorageUnavailableError).backend, backend);
  assert.ok(
    err instanceof (backend === 'redis' ? RedisUnavailableError : PostgresUnavailableError),
    `${what}: ${String(err)}`,
  );
}

const MIN = 60_000;
const code = (codeHash: string, T: number): AuthorizationCodeRecord => ({
  codeHash,
  clientId: 'c',
  userId: 'u',
  redirectUri: 'https://app.example/cb',
  scopes: [],
  resource: 'http://127.0.0.1:3000/mcp',
  codeChallenge: 'x',
  codeChallengeMethod: 'S256',
  authTime: T,
  expiresAt: T + 10 * MIN,
});

const client = (clientId: string): ClientRecord => ({
  clientId,
  source: 'dynamic',
  redirectUris: ['https://app.example/cb'],
  grantTypes: ['authorization_code'],
  responseTypes: ['code'],
  tokenEndpointAuthMethod: 'none',
  metadata: {},
  createdAt: Date.now(),
});

describe('Redis outage (private redis-server)', () => {
  let redis: PrivateRedis;
  before(async () => {
    redis = await startPrivateRedis();
  });
  after(async () => {
    await redis?.close();
  });

  test('stopped: every operation fails fast as RedisUnavailableError; reported once; back without reopening', async () => {
    const errors: Error[] = [];
    let reconnects = 0;
    const stores = await openRedisStores({
      url: redis.url,
      prefix: 'outage-a:',
      onError: (err) => errors.push(err),
      onReconnect: () => reconnects++,
    });
    const limiter = new RedisRateLimiter(stores.client, { prefix: 'outage-a:' });
    let attempts = 0;
    stores.client.on('reconnecting', () => attempts++);
    try {
      const T = Date.now();
      await stores.codes.put(code('kept', T));
      await stores.revocations.revoke('jti-1', T + 10 * MIN);

      await redis.stop();
      await assertUnavailable('codes.consume', stores.codes.consume('kept', T + 1), 'redis');
      await assertUnavailable('codes.put', stores.codes.put(code('new', T)), 'redis');
      await assertUnavailable('codes.markRedeemed', stores.codes.markRedeemed('kept', 'g'), 'redis');
      // Unknown is not "not revoked": the read rejects instead of answering false.
      await assertUnavailable('revocations.isRevoked', stores.revocations.isRevoked('jti-1', T + 1), 'redis');
      await assertUnavailable('revocations.revoke', stores.revocations.revoke('jti-2', T + MIN), 'redis');
      await assertUnavailable('revocations.listActive', stores.revocations.listActive(T + 1), 'redis');
      await assertUnavailable('ping', stores.ping(), 'redis');
      // The rate limiter fails closed: no answer, rather than "allowed".
      await assertUnavailable('rateLimit.hit', Promise.resolve(limiter.hit('k', 10, MIN, T)), 'redis');

      // The client keeps trying; however many attempts fail, the outage is reported once.
      await waitFor('two reconnection attempts', () => attempts >= 2);
      assert.equal(errors.length, 1, 'one report per outage');
      assert.ok(errors[0] instanceof RedisUnavailableError);

      await redis.start();
      await waitFor('the same client to answer again', () =>
        stores.ping().then(
          () => true,
          () => false,
        ),
      );
      assert.equal(reconnects, 1);
      // Nothing was consumed while Redis was away: the code is still there, once.
      assert.equal((await stores.codes.consume('kept', T + 2)).status, 'ok');
      assert.equal(await stores.revocations.isRevoked('jti-1', T + 2), true);
      assert.equal(
        await stores.revocations.isRevoked('jti-2', T + 2),
        false,
        'the failed revoke wrote nothing',
      );
      assert.deepEqual(await limiter.hit('k', 10, MIN, T), { ok: true });
    } finally {
      await stores.close();
    }
  });

  test('crashed (SIGKILL): outage while away, then the same client reconnects to the empty server', async () => {
    const stores = await openRedisStores({ url: redis.url, prefix: 'outage-b:' });
    try {
      const T = Date.now();
      await stores.codes.put(code('lost', T));
      await redis.crash();
      await assertUnavailable('codes.consume', stores.codes.consume('lost', T + 1), 'redis');
      await redis.start();
      await waitFor('reconnection', () =>
        stores.ping().then(
          () => true,
          () => false,
        ),
      );
      // The snapshot from before (if any) predates this key: a crash without persistence loses codes,
      // which then read as missing (invalid_grant at the token endpoint), never as valid.
      assert.equal((await stores.codes.consume('lost', T + 2)).status, 'missing');
    } finally {
      await stores.close();
    }
  });

  test('frozen (no replies on an open connection): commands give up at their deadline', async () => {
    const stores = await openRedisStores({ url: redis.url, prefix: 'outage-c:', commandTimeoutMs: 300 });
    try {
      await stores.ping();
      redis.pause();
      try {
        await assertUnavailable(
          'isRevoked on a frozen server',
          stores.revocations.isRevoked('x', 1),
          'redis',
        );
        await assertUnavailable('consume on a frozen server', stores.codes.consume('x', 1), 'redis');
      } finally {
        redis.resume();
      }
      await waitFor('answers after resume', () =>
        stores.ping().then(
          () => true,
          () => false,
        ),
      );
    } finally {
      await stores.close();
    }
  });

  test('a server that accepts connections but never answers: start-up fails within the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    try {
      await assertUnavailable(
        'connectRedis to a silent server',
        connectRedis({ url: `redis://:s3cret@127.0.0.1:${port}`, connectTimeoutMs: 300 }),
        'redis',
      );
      const err = await rejection(
        'again',
        connectRedis({ url: `redis://:s3cret@127.0.0.1:${port}`, connectTimeoutMs: 300 }),
      );
      assert.doesNotMatch((err as Error).message, /s3cret/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe('PostgreSQL outage (private cluster)', () => {
  let pg: PrivatePostgres;
  before(async () => {
    pg = await startPrivatePostgres();
  });
  after(async () => {
    await pg?.close();
  });

  test('stopped: reads and transactions fail fast as PostgresUnavailableError; reported once; the pool recovers', async () => {
    const url = await pg.createDatabase('outage_a');
    const availability: boolean[] = [];
    const storage = await PostgresStorage.open(url, {
      poolSize: 4,
      onAvailability: (up) => availability.push(up),
    });
    try {
      await storage.clients.create(client('before'));
      // A conflict is not an outage, and an outage is not a conflict.
      const conflict = await rejection('duplicate create', storage.clients.create(client('before')));
      assert.ok(conflict instanceof StorageConflictError && !isStorageUnavailable(conflict));

      // Idle pooled connections die with the server: the pool drops them and the process lives on.
      await pg.stop();
      await assertUnavailable('clients.get', storage.clients.get('before'), 'postgres');
      await assertUnavailable('clients.create', storage.clients.create(client('during')), 'postgres');
      await assertUnavailable('users.getByUsername', storage.users.getByUsername('alice'), 'postgres');
      await assertUnavailable('ping', storage.ping(), 'postgres');
      assert.deepEqual(availability, [false], 'one report per outage');
      const err = await rejection('grants.findRefresh', storage.grants.findRefresh('nope'));
      assert.ok(!isStorageConflict(err));
      assert.match((err as Error).message, /PostgreSQL at 127\.0\.0\.1:\d+\/outage_a is unreachable/);

      await pg.start();
      await waitFor('the same pool to answer again', () =>
        storage.ping().then(
          () => true,
          () => false,
        ),
      );
      assert.deepEqual(availability, [false, true]);
      assert.equal((await storage.clients.get('before'))?.clientId, 'before');
      assert.equal(await storage.clients.get('during'), undefined, 'the failed create wrote nothing');
      await storage.clients.create(client('after'));
    } finally {
      await storage.close();
    }
  });

  test('frozen server: a statement gives up at the query timeout, and the pool recovers after', async () => {
    const url = await pg.createDatabase('outage_b');
    const storage = await PostgresStorage.open(url, { poolSize: 2, queryTimeoutMs: 500 });
    try {
      await storage.ping();
      pg.pause();
      try {
        await assertUnavailable('ping on a frozen server', storage.ping(), 'postgres');
        await assertUnavailable(
          'a transaction on a frozen server',
          storage.grants.findRefresh('x'),
          'postgres',
        );
      } finally {
        pg.resume();
      }
      await waitFor('answers after resume', () =>
        storage.ping().then(
          () => true,
          () => false,
        ),
      );
    } finally {
      await storage.close();
    }
  });

  test('statement_timeout: a statement running too long is cancelled and reported as an outage', async () => {
    const db = new Database(await pg.createDatabase('outage_c'), { statementTimeoutMs: 200 });
    try {
      const err = await rejection('pg_sleep', db.run(statement('sleep', 'SELECT pg_sleep(5)'), []));
      assert.ok(err instanceof PostgresUnavailableError, String(err));
      assert.equal(((err as Error).cause as { code?: string }).code, '57014');
      // The pool is fine afterwards.
      assert.equal((await db.run(statement('one', 'SELECT 1 AS n'), [])).rows[0]?.n, 1);
    } finally {
      await db.end();
    }
  });

  test('a server that accepts connections but never answers: a query fails within the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    const db = new Database(`postgres://keyhole:s3cret@127.0.0.1:${port}/keyhole`, { connectTimeoutMs: 300 });
    try {
      const err = await rejection('SELECT 1', db.run(statement('one', 'SELECT 1'), []));
      assert.ok(err instanceof PostgresUnavailableError, String(err));
      assert.doesNotMatch((err as Error).message, /s3cret/);
    } finally {
      await db.end();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
