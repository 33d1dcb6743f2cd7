// The Redis session backplane's connections and deadlines (issue #4 "Replicas", "Failure"). In a
// Keyhole with Redis storage it borrows the storage's connections (Storage.redis): closing it must leave
// them open for the storage, and drop only its own subscriptions from the shared subscriber. On its own
// connections (`url`) it closes them. Either way every call runs under the command connection's
// deadline and an outage rejects with RedisUnavailableError (503 at the HTTP edge, legacy-replicas).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { openRedisStores, RedisUnavailableError } from '../../../src/storage/redis/index.ts';
import type { StorageChange } from '../../../src/storage/types.ts';
import type { BusMessage, SessionRecord } from '../../../src/transport/http/backplane.ts';
import {
  createRedisSessionBackplane,
  type RedisSessionBackplane,
} from '../../../src/transport/http/redis-backplane.ts';
import { deleteRedisKeys, REDIS_URL, redisPrefix } from '../../support/databases.ts';
import { type PrivateRedis, startPrivateRedis, waitFor } from '../../support/services.ts';

const TTL = 60_000;

function record(): SessionRecord {
  return {
    kind: 'streamable',
    protocolVersion: '2025-11-25',
    clientCapabilities: {},
    clientInfo: { name: 't', version: '1' },
    initialized: true,
    logLevel: undefined,
    subscriptions: [],
    principal: undefined,
    version: 1,
  };
}

/** Channels under `prefix` that some connection of the server at `url` is subscribed to. */
async function channels(prefix: string, url = REDIS_URL): Promise<string[]> {
  const c = createClient({ url });
  await c.connect();
  try {
    return (await c.pubSubChannels(`${prefix}*`)).map(String).sort();
  } finally {
    c.destroy();
  }
}

/** Live events a listener received, as `<stream>:<data>`. */
function collector(): { events: string[]; listener: (streamId: string, seq: number, data: string) => void } {
  const events: string[] = [];
  return { events, listener: (streamId, _seq, data) => events.push(`${streamId}:${data}`) };
}

const noReceiver = { onMessage: (_m: BusMessage) => {}, onLost: () => {} };

describe('a session backplane on borrowed connections (Storage.redis)', () => {
  test('closing it leaves the storage’s connections open and drops only its own subscriptions; the feed and another backplane carry on', async () => {
    const prefix = redisPrefix();
    const stores = await openRedisStores({ url: REDIS_URL, prefix });
    try {
      const sub = await stores.redis.subscriber();
      assert.equal(await stores.redis.subscriber(), sub, 'one subscriber connection');
      const a = await createRedisSessionBackplane({ redis: stores.redis, prefix });
      const b = await createRedisSessionBackplane({ redis: stores.redis, prefix });
      a.attach(noReceiver);
      b.attach(noReceiver);
      const sid = randomUUID();
      await a.create(sid, record(), TTL);
      // Both listen to the same session channel, on the one shared connection.
      const onA = collector();
      const onB = collector();
      await a.listen(sid, onA.listener);
      await b.listen(sid, onB.listener);
      assert.deepEqual(await channels(prefix), [
        `${prefix}changes`,
        `${prefix}ls:bus`,
        `${prefix}ls:ch:${sid}`,
      ]);
      await a.publishLive(sid, 's', 'one');
      await waitFor('both receive', () => onA.events.length === 1 && onB.events.length === 1, 5000);

      await a.close();
      assert.ok(stores.client.isOpen, 'the command connection stays open');
      assert.ok(sub.isOpen, 'the subscriber stays open');
      await stores.ping();
      await assert.rejects(a.ping(), /closed/);
      // B's subscriptions of the same channels are untouched.
      await b.publishLive(sid, 's', 'two');
      await waitFor('B still receives', () => onB.events.length === 2, 5000);
      assert.deepEqual(onB.events, ['s:one', 's:two']);
      assert.deepEqual(onA.events, ['s:one'], 'A no longer receives');
      assert.deepEqual(await channels(prefix), [
        `${prefix}changes`,
        `${prefix}ls:bus`,
        `${prefix}ls:ch:${sid}`,
      ]);

      await b.close();
      assert.deepEqual(
        await channels(prefix),
        [`${prefix}changes`],
        'only the change feed’s channel is left',
      );
      assert.ok(sub.isOpen);

      // The change feed, on the same subscriber, still delivers.
      const changes: StorageChange[] = [];
      const stop = stores.changes.subscribe(
        (c) => changes.push(c),
        () => {},
      );
      await waitFor('feed up', () => stores.changes.up, 5000);
      await stores.changes.publish({ type: 'keys' });
      await waitFor('the change arrives', () => changes.length === 1, 5000);
      stop();
    } finally {
      await stores.close();
      await deleteRedisKeys(prefix);
    }
    assert.ok(!stores.client.isOpen, 'closed by its owner');
  });

  describe('with a private Redis', () => {
    let redis: PrivateRedis;
    before(async () => {
      redis = await startPrivateRedis();
    });
    after(async () => {
      redis.resume();
      await redis?.close();
    });

    test('calls run under the lender’s command deadline: Redis frozen, they reject with RedisUnavailableError; resumed, they answer', async () => {
      const stores = await openRedisStores({ url: redis.url, prefix: 'borrowed:', commandTimeoutMs: 300 });
      const plane = await createRedisSessionBackplane({ redis: stores.redis, prefix: 'borrowed:' });
      try {
        const sid = randomUUID();
        await plane.create(sid, record(), TTL);
        redis.pause();
        try {
          const err = await plane.load(sid, TTL).then(
            () => assert.fail('load answered while Redis was frozen'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof RedisUnavailableError, String(err));
          assert.match(err.message, /within 300 ms/);
          await assert.rejects(
            plane.listen(sid, () => {}),
            RedisUnavailableError,
          );
        } finally {
          redis.resume();
        }
        assert.equal((await plane.load(sid, TTL))?.kind, 'streamable');
      } finally {
        await plane.close();
        await stores.close();
      }
    });
  });
});

describe('a session backplane on its own connections (url)', () => {
  let redis: PrivateRedis;
  before(async () => {
    redis = await startPrivateRedis();
  });
  after(async () => {
    redis.resume();
    await redis?.close();
  });

  /** Every operation once; each must reject with RedisUnavailableError. */
  async function assertEveryCallUnavailable(plane: RedisSessionBackplane, sid: string, deadline?: RegExp) {
    const calls: [string, Promise<unknown>][] = [
      ['create', plane.create(randomUUID(), record(), TTL)],
      ['load', plane.load(sid, TTL)],
      ['exists', plane.exists(sid)],
      ['mutate', plane.mutate(sid, { op: 'initialized' }, TTL)],
      ['remove', plane.remove(randomUUID())],
      ['append', plane.append(sid, 's', undefined, 'x', TTL)],
      ['allocate', plane.allocate(sid, 's')],
      ['addStream', plane.addStream(sid, 's2', TTL)],
      ['hasStream', plane.hasStream(sid, 's')],
      ['read', plane.read(sid, 's', 0)],
      ['dropStream', plane.dropStream(sid, 's3')],
      ['publishLive', plane.publishLive(sid, 's', 'x')],
      ['publish', plane.publish({ t: 'end', from: plane.replicaId, sid })],
      ['ping', plane.ping()],
      ['listen', plane.listen(randomUUID(), () => {})],
    ];
    const outcomes = await Promise.allSettled(calls.map(([, p]) => p));
    outcomes.forEach((o, i) => {
      const what = calls[i]![0];
      assert.equal(o.status, 'rejected', `${what} answered`);
      const reason = (o as PromiseRejectedResult).reason;
      assert.ok(reason instanceof RedisUnavailableError, `${what}: ${String(reason)}`);
      if (deadline) assert.match(reason.message, deadline, what);
    });
  }

  test('commandTimeoutMs is honoured for every call while Redis is frozen; stopped, calls fail at once; back, it answers; close never hangs', async () => {
    const plane = await createRedisSessionBackplane({
      url: redis.url,
      prefix: 'own:',
      commandTimeoutMs: 300,
    });
    let closed = false;
    try {
      plane.attach(noReceiver);
      const sid = randomUUID();
      await plane.create(sid, record(), TTL);
      await plane.append(sid, 's', undefined, 'first', TTL);

      redis.pause();
      try {
        await assertEveryCallUnavailable(plane, sid, /within 300 ms/);
      } finally {
        redis.resume();
      }
      assert.equal((await plane.load(sid, TTL))?.kind, 'streamable');

      await redis.stop();
      await assertEveryCallUnavailable(plane, sid);
      await redis.start();
      await waitFor(
        'Redis is back',
        () =>
          plane.load(sid, TTL).then(
            (r) => r?.kind === 'streamable',
            () => false,
          ),
        15_000,
      );

      // Frozen again, with commands queued on both connections: close still returns (bounded).
      redis.pause();
      const queued = plane.load(sid, TTL).catch(() => undefined);
      const listening = plane.listen(randomUUID(), () => {}).catch(() => undefined);
      await plane.close();
      closed = true;
      await Promise.all([queued, listening]);
    } finally {
      redis.resume();
      if (!closed) await plane.close();
    }
  });
});
