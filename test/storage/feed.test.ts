// The Redis change feed (src/storage/redis/feed.ts): what one process publishes reaches every other
// process on the same prefix and no other; a subscriber is told when its subscription is lost and
// only told "up" again once a probe proves it live after reconnection.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectRedis } from '../../src/storage/redis/client.ts';
import { openRedisStores, type RedisStores } from '../../src/storage/redis/index.ts';
import type { StorageChange } from '../../src/storage/types.ts';
import { deleteRedisKeys, REDIS_URL, redisPrefix } from '../support/databases.ts';
import { type PrivateRedis, startPrivateRedis, waitFor } from '../support/services.ts';

function collect(stores: RedisStores) {
  const changes: StorageChange[] = [];
  const states: boolean[] = [];
  const stop = stores.changes.subscribe(
    (c) => changes.push(c),
    (up) => states.push(up),
  );
  return { changes, states, stop };
}

describe('change feed on the shared Redis', () => {
  const prefix = redisPrefix();
  const other = redisPrefix();
  let a: RedisStores;
  let b: RedisStores;
  let c: RedisStores;
  before(async () => {
    [a, b, c] = await Promise.all([
      openRedisStores({ url: REDIS_URL, prefix }),
      openRedisStores({ url: REDIS_URL, prefix }),
      openRedisStores({ url: REDIS_URL, prefix: other }),
    ]);
  });
  after(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
    await deleteRedisKeys(prefix);
    await deleteRedisKeys(other);
  });

  test('a revocation and a key change reach the other process on the prefix, not another prefix', async () => {
    const onB = collect(b);
    const onC = collect(c);
    await waitFor('b subscribed', () => b.changes.up && c.changes.up, 5000);
    assert.deepEqual(onB.states, [true]);
    const expiresAt = Date.now() + 60_000;
    await a.revocations.revoke('jti-1', expiresAt);
    await a.changes.publish({ type: 'keys' });
    await waitFor('both changes arrive', () => onB.changes.length === 2, 5000);
    assert.deepEqual(onB.changes, [{ type: 'revoked', id: 'jti-1', expiresAt }, { type: 'keys' }]);
    // Revoking again with an earlier expiry changes nothing, so nothing is announced.
    await a.revocations.revoke('jti-1', expiresAt - 1000);
    await a.changes.publish({ type: 'keys' });
    await waitFor('the marker arrives', () => onB.changes.length === 3, 5000);
    assert.deepEqual(onB.changes[2], { type: 'keys' });
    assert.deepEqual(onC.changes, []);
    onB.stop();
    onC.stop();
  });

  test('messages that are not changes are ignored', async () => {
    const onB = collect(b);
    await waitFor('subscribed', () => b.changes.up, 5000);
    const raw = await connectRedis({ url: REDIS_URL });
    try {
      for (const m of [
        'not json',
        '[]',
        '{"type":"revoked","id":1}',
        '{"type":"unknown"}',
        '{"type":"probe"}',
      ]) {
        await raw.publish(b.changes.channel, m);
      }
      await a.changes.publish({ type: 'keys' });
      await waitFor('the marker arrives', () => onB.changes.length === 1, 5000);
      assert.deepEqual(onB.changes, [{ type: 'keys' }]);
    } finally {
      raw.destroy();
      onB.stop();
    }
  });
});

describe('change feed across a Redis restart', () => {
  let redis: PrivateRedis;
  let a: RedisStores;
  let b: RedisStores;
  before(async () => {
    redis = await startPrivateRedis();
    [a, b] = await Promise.all([openRedisStores({ url: redis.url }), openRedisStores({ url: redis.url })]);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.close();
  });

  test('down while Redis is gone, up again (after a probe) once it is back, then delivering', async () => {
    const onB = collect(b);
    await waitFor('subscribed', () => b.changes.up, 5000);
    await redis.stop();
    await waitFor('the subscriber notices', () => !b.changes.up, 10_000);
    assert.deepEqual(onB.states, [true, false]);
    await redis.start();
    await waitFor('subscribed again', () => b.changes.up, 15_000);
    assert.deepEqual(onB.states, [true, false, true]);
    await waitFor(
      'a can publish again',
      () =>
        a.changes.publish({ type: 'keys' }).then(
          () => true,
          () => false,
        ),
      15_000,
    );
    await waitFor('delivered after the restart', () => onB.changes.length >= 1, 5000);
    onB.stop();
  });
});
