// The Redis side of scale-out storage (issue #4): the whole storage contract on memory + Redis, and
// what only a shared server can show — one-time consumption raced across two separate connections,
// keys that carry a real expiry, prefix isolation, and a clear failure when Redis is unreachable.
// Needs Redis on 127.0.0.1:6379 (KEYHOLE_TEST_REDIS_URL overrides); CI starts it. Without it these
// tests FAIL, they do not skip. Every key goes under a random per-run prefix, deleted in `after`.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openStorage } from '../../src/storage/open.ts';
import { connectRedis, type RedisClient } from '../../src/storage/redis/client.ts';
import { openRedisStores, RedisStores, RedisUnavailableError } from '../../src/storage/redis/index.ts';
import type { AuthorizationCodeRecord } from '../../src/storage/types.ts';
import { storageContract } from './contract.ts';

const REDIS_URL = process.env.KEYHOLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `keyhole-test:${randomUUID()}:`;
let n = 0;
/** A fresh, empty key space for one test. */
const freshPrefix = () => `${RUN}${n++}:`;

let admin: RedisClient;
before(async () => {
  try {
    admin = await connectRedis({ url: REDIS_URL, connectTimeoutMs: 2000 });
  } catch (err) {
    throw new Error(
      `Redis is required for these tests and is not reachable at ${REDIS_URL} ` +
        '(start it, e.g. `redis-server --save "" --appendonly no`, or set KEYHOLE_TEST_REDIS_URL)',
      { cause: err },
    );
  }
});
after(async () => {
  if (!admin) return;
  for await (const keys of admin.scanIterator({ MATCH: `${RUN}*`, COUNT: 1000 })) {
    if (keys.length > 0) await admin.unlink(keys);
  }
  await admin.close();
});

storageContract('memory+redis', () =>
  openStorage({ kind: 'memory+redis', redisUrl: REDIS_URL, redisPrefix: freshPrefix() }),
);

const MIN = 60_000;
const code = (codeHash: string, T: number, over: Partial<AuthorizationCodeRecord> = {}) => ({
  codeHash,
  clientId: 'c',
  userId: 'u',
  redirectUri: 'https://app.example/cb',
  scopes: [] as string[],
  resource: 'http://127.0.0.1:3000/mcp',
  codeChallenge: 'x',
  codeChallengeMethod: 'S256' as const,
  authTime: T,
  expiresAt: T + MIN,
  ...over,
});

describe('Redis stores', () => {
  test('Redis is reachable (CI starts it on 127.0.0.1:6379)', async () => {
    assert.ok(admin, `no connection to ${REDIS_URL}`);
    assert.equal(await admin.ping(), 'PONG');
  });

  test('50 concurrent consumers of one code over two connections: exactly one ok', async () => {
    const prefix = freshPrefix();
    const a = await openRedisStores({ url: REDIS_URL, prefix });
    const b = await openRedisStores({ url: REDIS_URL, prefix });
    try {
      const T = Date.now();
      await a.codes.put(code('race', T));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).codes.consume('race', T + 1 + i)),
      );
      assert.equal(results.filter((r) => r.status === 'ok').length, 1);
      assert.equal(results.filter((r) => r.status === 'replayed').length, 49);
      // The grant recorded through one connection is seen by a replay through the other.
      await b.codes.markRedeemed('race', 'grant-7');
      const replay = await a.codes.consume('race', T + 100);
      assert.equal(replay.status, 'replayed');
      assert.equal(replay.status === 'replayed' && replay.record.grantId, 'grant-7');
      assert.deepEqual(replay.status === 'replayed' && replay.record.scopes, [], 'empty arrays survive');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('keys carry a PX expiry: codes, revocations and the revocation index', async () => {
    const prefix = freshPrefix();
    const s = await openRedisStores({ url: REDIS_URL, prefix, expiryGraceMs: 1000 });
    try {
      const T = Date.now();
      await s.codes.put(code('ttl', T));
      const codeTtl = await admin.pTTL(`${prefix}code:ttl`);
      assert.ok(codeTtl > 0 && codeTtl <= MIN + 1000, `code PTTL ${codeTtl}`);
      // Consuming keeps the record (and its TTL) for replay detection.
      assert.equal((await s.codes.consume('ttl', T + 1)).status, 'ok');
      assert.ok((await admin.pTTL(`${prefix}code:ttl`)) > 0);

      await s.revocations.revoke('jti-1', T + 10 * MIN);
      const revTtl = await admin.pTTL(`${prefix}{rev}:id:jti-1`);
      assert.ok(revTtl > 9 * MIN && revTtl <= 10 * MIN + 1000, `revocation PTTL ${revTtl}`);
      const indexTtl = await admin.pTTL(`${prefix}{rev}:index`);
      assert.ok(indexTtl > 9 * MIN && indexTtl <= 10 * MIN + 1000, `index PTTL ${indexTtl}`);
      // A later expiry extends both; an earlier one changes nothing.
      await s.revocations.revoke('jti-1', T + 20 * MIN);
      await s.revocations.revoke('jti-1', T + 5 * MIN);
      assert.ok((await admin.pTTL(`${prefix}{rev}:id:jti-1`)) > 19 * MIN);
      assert.ok((await admin.pTTL(`${prefix}{rev}:index`)) > 19 * MIN);
    } finally {
      await s.close();
    }
  });

  test('Redis drops an expired code by itself', async () => {
    const prefix = freshPrefix();
    const s = await openRedisStores({ url: REDIS_URL, prefix, expiryGraceMs: 0 });
    try {
      await s.codes.put(code('short', Date.now(), { expiresAt: Date.now() + 20 }));
      const key = `${prefix}code:short`;
      assert.equal(await admin.exists(key), 1);
      // Waits for Redis's own expiry (no timed assertion: only that it happens).
      while ((await admin.exists(key)) === 1) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(await s.codes.consume('short', Date.now()), { status: 'missing' });
    } finally {
      await s.close();
    }
  });

  test('markRedeemed of an unknown code creates no key', async () => {
    const prefix = freshPrefix();
    const s = await openRedisStores({ url: REDIS_URL, prefix });
    try {
      await s.codes.markRedeemed('ghost', 'g');
      assert.equal(await admin.exists(`${prefix}code:ghost`), 0);
    } finally {
      await s.close();
    }
  });

  test('revocations are shared across connections and isolated by prefix', async () => {
    const prefix = freshPrefix();
    const a = await openRedisStores({ url: REDIS_URL, prefix });
    const b = await openRedisStores({ url: REDIS_URL, prefix });
    const other = await openRedisStores({ url: REDIS_URL, prefix: freshPrefix() });
    try {
      const T = Date.now();
      await a.revocations.revoke('grant:g1', T + MIN);
      assert.equal(await b.revocations.isRevoked('grant:g1', T), true);
      assert.deepEqual(await b.revocations.listActive(T), [{ id: 'grant:g1', expiresAt: T + MIN }]);
      assert.equal(await other.revocations.isRevoked('grant:g1', T), false);
      assert.deepEqual(await other.revocations.listActive(T), []);
      // Ids with the separator or glob characters are just ids.
      await a.revocations.revoke('a:b*[c]', T + MIN);
      assert.equal(await b.revocations.isRevoked('a:b*[c]', T), true);
      assert.equal(await b.revocations.isRevoked('a:b', T), false);
    } finally {
      await a.close();
      await b.close();
      await other.close();
    }
  });

  test('listActive purges index entries only once expired for every clock (caller, adapter, grace)', async () => {
    const prefix = freshPrefix();
    const T = Date.now();
    const s = await openRedisStores({ url: REDIS_URL, prefix, expiryGraceMs: 1000, now: () => T });
    try {
      await s.revocations.revoke('old', T - 2000);
      await s.revocations.revoke('recent', T - 500);
      await s.revocations.revoke('live', T + MIN);
      // A caller far in the future sees nothing, but purges only what the adapter clock allows.
      assert.deepEqual(await s.revocations.listActive(T + 2 * MIN), []);
      assert.deepEqual(await admin.zRange(`${prefix}{rev}:index`, 0, -1), ['recent', 'live']);
    } finally {
      await s.close();
    }
  });

  test('composed storage: ping covers Redis, close closes its connection', async () => {
    const s = await openStorage({ kind: 'memory+redis', redisUrl: REDIS_URL, redisPrefix: freshPrefix() });
    assert.equal(s.kind, 'memory');
    await s.ping();
    await s.close();
    await assert.rejects(s.ping());
  });

  test('a lost connection is re-established without a restart', async () => {
    const s = await openRedisStores({ url: REDIS_URL, prefix: freshPrefix() });
    try {
      const id = await s.client.clientId();
      await admin.clientKill({ filter: 'ID', id });
      let recovered = false;
      while (!recovered) {
        recovered = await s.ping().then(
          () => true,
          () => new Promise<boolean>((r) => setTimeout(() => r(false), 20)),
        );
      }
      assert.ok(recovered);
      assert.notEqual(await s.client.clientId(), id, 'a new connection');
    } finally {
      await s.close();
    }
  });

  test('unreachable Redis: openRedisStores and openStorage fail with a clear error, no secret in it', async () => {
    const port = await closedPort();
    const url = `redis://:s3cret@127.0.0.1:${port}`;
    for (const open of [
      () => openRedisStores({ url, connectTimeoutMs: 1000 }),
      () => openStorage({ kind: 'memory+redis', redisUrl: url }),
    ]) {
      await assert.rejects(open(), (err: Error) => {
        assert.ok(err instanceof RedisUnavailableError, String(err));
        assert.match(
          err.message,
          new RegExp(`cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}`),
        );
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      });
    }
  });

  test('RedisStores wraps an existing client', async () => {
    const client = await connectRedis({ url: REDIS_URL });
    const s = new RedisStores(client, { prefix: freshPrefix() });
    await s.ping();
    await s.close();
    await s.close(); // idempotent
    assert.equal(client.isOpen, false);
  });
});

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
