// Revocations over PostgreSQL/SQLite + Redis (issue #4 "Failure"): the database keeps every revocation,
// Redis is its fast copy, and a Redis that lost the copy — flushed, restarted empty or from an older
// snapshot, failed over — is refilled from the database before a read is answered, so a revoked token
// is never taken for live because Redis forgot it. Needs Redis on 127.0.0.1:6379 (CI starts it).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isStorageUnavailable } from '../../src/storage/errors.ts';
import { openMemoryStorage } from '../../src/storage/memory/index.ts';
import { openStorage } from '../../src/storage/open.ts';
import { connectRedis, type RedisClient } from '../../src/storage/redis/client.ts';
import { openRedisStores } from '../../src/storage/redis/index.ts';
import type { RevocationStore } from '../../src/storage/types.ts';
import { deleteRedisKeys, REDIS_URL, redisPrefix } from '../support/databases.ts';
import { startPrivateRedis } from '../support/services.ts';

const MIN = 60_000;
let admin: RedisClient;
const prefixes: string[] = [];
const dirs: string[] = [];

before(async () => {
  admin = await connectRedis({ url: REDIS_URL });
});
after(async () => {
  for (const p of prefixes) await deleteRedisKeys(p);
  admin?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function prefix(): string {
  const p = redisPrefix();
  prefixes.push(p);
  return p;
}

/** What a flush (or a restart without persistence) does to one deployment's keys. */
async function forget(p: string): Promise<void> {
  await deleteRedisKeys(p);
  assert.equal((await admin.keys(`${p}*`)).length, 0);
}

/** A durable store that counts full reads (instrumentation, not a fake: it delegates to a real store). */
function counting(store: RevocationStore): RevocationStore & { reads: number } {
  const counted = {
    reads: 0,
    revoke: (id: string, expiresAt: number) => store.revoke(id, expiresAt),
    isRevoked: (id: string, now: number) => store.isRevoked(id, now),
    listActive: (now: number) => {
      counted.reads++;
      return store.listActive(now);
    },
  };
  return counted;
}

describe('revocations backed by the database, copied to Redis', () => {
  test('SQLite + Redis: every revocation is in the database too; a flushed Redis is refilled before answering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhole-rev-'));
    dirs.push(dir);
    const p = prefix();
    const path = join(dir, 'keyhole.db');
    const s = await openStorage({ kind: 'sqlite', path, redisUrl: REDIS_URL, redisPrefix: p });
    const T = Date.now();
    try {
      await s.revocations.revoke('jti-1', T + MIN);
      await s.revocations.revoke('grant:g1', T + 2 * MIN);
      await forget(p);
      // isRevoked restores first, then answers from the copy.
      assert.equal(await s.revocations.isRevoked('jti-1', T), true);
      assert.equal(await s.revocations.isRevoked('jti-unknown', T), false);
      assert.equal(Number(await admin.get(`${p}{rev}:id:grant:g1`)), T + 2 * MIN);
      await forget(p);
      // listActive too.
      assert.deepEqual(
        (await s.revocations.listActive(T)).sort((a, b) => a.expiresAt - b.expiresAt),
        [
          { id: 'jti-1', expiresAt: T + MIN },
          { id: 'grant:g1', expiresAt: T + 2 * MIN },
        ],
      );
    } finally {
      await s.close();
    }
    // The database alone knows them: SQLite opened without Redis.
    const durable = await openStorage({ kind: 'sqlite', path });
    try {
      assert.equal(await durable.revocations.isRevoked('jti-1', T), true);
      assert.equal(await durable.revocations.isRevoked('grant:g1', T), true);
    } finally {
      await durable.close();
    }
  });

  test('a marker left by an older server (restarted from a snapshot) is not trusted', async () => {
    const p = prefix();
    const fast = await openRedisStores({ url: REDIS_URL, prefix: p });
    const durable = openMemoryStorage();
    const store = fast.revocations.backedBy(durable.revocations);
    const T = Date.now();
    try {
      // A write alone does not make the copy complete; the first read does (nothing to restore yet).
      await store.revoke('before-snapshot', T + MIN);
      assert.equal(await store.isComplete(), false);
      assert.deepEqual(
        (await store.listActive(T)).map((e) => e.id),
        ['before-snapshot'],
      );
      assert.equal(await store.isComplete(), true);
      // The snapshot: the marker of a server that has since restarted, without the later revocation.
      await store.revoke('after-snapshot', T + MIN);
      await admin.del(`${p}{rev}:id:after-snapshot`);
      await admin.zRem(`${p}{rev}:index`, 'after-snapshot');
      await admin.set(`${p}{rev}:complete`, '0'.repeat(40));
      assert.equal(await store.isRevoked('after-snapshot', T), true);
      assert.deepEqual((await store.listActive(T)).map((e) => e.id).sort(), [
        'after-snapshot',
        'before-snapshot',
      ]);
      assert.match(String(await admin.get(`${p}{rev}:complete`)), /^[0-9a-f]{40}$/);
      assert.notEqual(await admin.get(`${p}{rev}:complete`), '0'.repeat(40));
    } finally {
      await fast.close();
    }
  });

  test('a large list is restored in batches; concurrent readers share one restore', async () => {
    const p = prefix();
    const fast = await openRedisStores({ url: REDIS_URL, prefix: p });
    const memory = openMemoryStorage();
    const durable = counting(memory.revocations);
    const store = fast.revocations.backedBy(durable);
    const T = Date.now();
    try {
      // Revocations Redis never saw (written to the database only), more than one RESTORE batch.
      for (let i = 0; i < 1201; i++) await memory.revocations.revoke(`jti-${i}`, T + MIN + i);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.isRevoked(`jti-${i * 60}`, T)),
      );
      assert.deepEqual(answers, Array(20).fill(true));
      assert.equal(durable.reads, 1);
      assert.equal(await admin.zCard(`${p}{rev}:index`), 1201);
      assert.equal((await store.listActive(T)).length, 1201);
      // Complete now: later reads come from Redis alone.
      assert.equal(durable.reads, 1);
      // An expired revocation in the database is not copied.
      await memory.revocations.revoke('expired', T - 1);
      await forget(p);
      assert.equal((await store.listActive(T)).length, 1201);
      assert.equal(await admin.exists(`${p}{rev}:id:expired`), 0);
    } finally {
      await fast.close();
    }
  });

  test('a revocation that reached the database but not Redis is completed when Redis returns', async () => {
    const redis = await startPrivateRedis();
    const fast = await openRedisStores({ url: redis.url, prefix: 'keyhole:', commandTimeoutMs: 500 });
    const durable = openMemoryStorage();
    const store = fast.revocations.backedBy(durable.revocations);
    const T = Date.now();
    try {
      assert.equal(await store.isRevoked('x', T), false);
      await redis.crash();
      // The database has it; Redis is unreachable: the caller is told (503 at the edge) and may retry.
      await assert.rejects(store.revoke('jti-during-outage', T + MIN), isStorageUnavailable);
      assert.equal(await durable.revocations.isRevoked('jti-during-outage', T), true);
      await assert.rejects(store.isRevoked('jti-during-outage', T), isStorageUnavailable);
      // Redis returns empty (a new server): the copy is refilled on the first read.
      await redis.start();
      let answer: boolean | undefined;
      while (answer === undefined) {
        answer = await store.isRevoked('jti-during-outage', T).catch((err: unknown) => {
          if (!isStorageUnavailable(err)) throw err;
          return new Promise<undefined>((r) => setTimeout(() => r(undefined), 50));
        });
      }
      assert.equal(answer, true);
    } finally {
      await fast.close();
      await redis.close();
    }
  });

  test('without a durable store (Redis on its own) nothing changes: no marker is read or written', async () => {
    const p = prefix();
    const fast = await openRedisStores({ url: REDIS_URL, prefix: p });
    const T = Date.now();
    try {
      await fast.revocations.revoke('j', T + MIN);
      assert.equal(await fast.revocations.isRevoked('j', T), true);
      assert.equal(await admin.exists(`${p}{rev}:complete`), 0);
    } finally {
      await fast.close();
    }
  });
});
