// The Redis stores' two connections (docs/storage.md "Connections"), on a PRIVATE Redis
// (test/support/services.ts) so CLIENT LIST shows only them: named `keyhole:storage` and
// `keyhole:subscriber`, the subscriber lent (Storage.redis) and closed only by the stores. A server
// that refuses CLIENT SETNAME (an ACL user without `client|setname`) still gets working, unnamed
// connections; a server that cannot be reached fails the lender's subscriber() instead of hanging.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { openStorage } from '../../src/storage/open.ts';
import { openRedisStores, RedisUnavailableError } from '../../src/storage/redis/index.ts';
import type { StorageChange } from '../../src/storage/types.ts';
import { names, redisConnections } from '../support/redis-clients.ts';
import { type PrivateRedis, startPrivateRedis, waitFor } from '../support/services.ts';

let redis: PrivateRedis;

before(async () => {
  redis = await startPrivateRedis();
});

after(async () => {
  await redis?.close();
});

/** Waits until the server lists no connection but the asking one. */
async function allClosed(): Promise<void> {
  await waitFor(
    'every connection closed',
    async () => (await redisConnections(redis.url)).length === 0,
    10_000,
  );
}

describe('Redis stores: two named connections, lent and closed by the stores', () => {
  test('the storage lends keyhole:storage and the change feed’s keyhole:subscriber (started on demand), and closes both', async () => {
    const storage = await openStorage({ kind: 'memory+redis', redisUrl: redis.url, redisPrefix: 'lend:' });
    try {
      const lent = storage.redis;
      assert.ok(lent, 'a storage with Redis lends its connections');
      assert.deepEqual(names(await redisConnections(redis.url)), ['keyhole:storage']);
      const sub = await lent.subscriber();
      assert.ok(sub.isReady);
      assert.equal(await lent.subscriber(), sub);
      // The lent subscriber is the change feed's: the feed comes up on it without another connection.
      const changes: StorageChange[] = [];
      storage.changes?.subscribe(
        (c) => changes.push(c),
        () => {},
      );
      await waitFor('feed up', () => storage.changes?.up === true, 5000);
      await storage.changes?.publish({ type: 'keys' });
      await waitFor('delivered', () => changes.length === 1, 5000);
      assert.deepEqual(names(await redisConnections(redis.url)), ['keyhole:storage', 'keyhole:subscriber']);
    } finally {
      await storage.close();
    }
    await allClosed();
  });

  test('a storage without Redis lends nothing', async () => {
    const storage = await openStorage({ kind: 'memory' });
    assert.equal(storage.redis, undefined);
    await storage.close();
  });

  test('an ACL user without client|setname gets unnamed connections that work, not a failed start', async () => {
    const admin = createClient({ url: redis.url });
    await admin.connect();
    try {
      await admin.sendCommand([
        'ACL',
        'SETUSER',
        'limited',
        'reset',
        'on',
        '>limited-pw',
        '~*',
        '&*',
        '+@all',
        '-client|setname',
      ]);
      const url = `redis://limited:limited-pw@127.0.0.1:${redis.port}`;
      const stores = await openRedisStores({ url, prefix: 'acl:' });
      try {
        await stores.ping();
        await stores.redis.subscriber();
        const mine = (await redisConnections(redis.url)).filter((c) => c.user === 'limited');
        assert.deepEqual(names(mine), ['', '']);
      } finally {
        await stores.close();
      }
      // A refused password is still a clear start-up error (the retry without a name changes nothing).
      await assert.rejects(
        openRedisStores({ url: `redis://limited:wrong@127.0.0.1:${redis.port}`, prefix: 'acl:' }),
        RedisUnavailableError,
      );
    } finally {
      await admin.sendCommand(['ACL', 'DELUSER', 'limited']);
      admin.destroy();
    }
    await allClosed();
  });

  test('subscriber() with Redis gone rejects with RedisUnavailableError within the connect timeout; close does not hang', async () => {
    const stores = await openRedisStores({ url: redis.url, prefix: 'gone:', connectTimeoutMs: 300 });
    try {
      await redis.crash();
      await assert.rejects(stores.redis.subscriber(), RedisUnavailableError);
    } finally {
      await stores.close();
      await redis.start();
    }
    await allClosed();
  });
});
