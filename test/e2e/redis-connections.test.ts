// How many Redis connections one Keyhole holds (docs/storage.md "Connections"), counted by the server
// itself (CLIENT LIST) on a PRIVATE Redis (test/support/services.ts) that nothing else uses, so every
// connection it lists besides the test's own is the Keyhole's. With Redis storage, the rate limiter,
// the CIMD cache and the legacy-session backplane borrow the storage's command connection and the
// change feed's subscriber: two connections, `keyhole:storage` and `keyhole:subscriber`, whatever the
// process serves, and none once it is closed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createKeyhole } from '../../src/app/keyhole.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createDatabase, dropDatabase } from '../support/databases.ts';
import { names, redisConnections } from '../support/redis-clients.ts';
import { type PrivateRedis, startPrivateRedis, waitFor } from '../support/services.ts';
import { initialize, post, rpc, SseReader } from '../transport/http/helpers.ts';
import { addUser, obtainTokens, startKeyhole } from './harness.ts';

let redis: PrivateRedis;
let databaseUrl: string;

before(async () => {
  [redis, databaseUrl] = await Promise.all([startPrivateRedis(), createDatabase()]);
});

after(async () => {
  await Promise.all([redis?.close(), databaseUrl ? dropDatabase(databaseUrl) : undefined]);
});

describe('Redis connections of one Keyhole (CLIENT LIST on a private Redis)', () => {
  test('PostgreSQL + Redis: two connections, keyhole:storage and keyhole:subscriber, through OAuth and a legacy session; none after close', async () => {
    const k = await startKeyhole({
      env: { KEYHOLE_DATABASE_URL: databaseUrl, KEYHOLE_REDIS_URL: redis.url, KEYHOLE_LOG_LEVEL: 'error' },
    });
    try {
      // Right after start: the storage's connection and the feed's subscriber, nothing else.
      assert.deepEqual(names(await redisConnections(redis.url)), ['keyhole:storage', 'keyhole:subscriber']);

      // Registration, sign-in and the code exchange go through the rate limiter (in Redis).
      await addUser(k, 'alice');
      const { access_token: token } = await obtainTokens(k, { username: 'alice' });
      const auth = { authorization: `Bearer ${token}` };
      // A legacy session (the backplane) with its standalone GET stream (a channel of its own).
      const { sessionId, headers } = await initialize(k.mcpUrl, '2025-11-25', {}, auth);
      const get = await fetch(k.mcpUrl, { headers: { ...headers, accept: 'text/event-stream' } });
      assert.equal(get.status, 200);
      const stream = new SseReader(get);
      assert.equal((await stream.next())?.data, '', 'priming event');
      const listed = await post(k.mcpUrl, headers, rpc('tools/list', {}, 1));
      assert.equal(listed.status, 200, listed.text);

      const held = await redisConnections(redis.url);
      assert.deepEqual(names(held), ['keyhole:storage', 'keyhole:subscriber'], JSON.stringify(held));
      const storage = held.find((c) => c.name === 'keyhole:storage')!;
      const subscriber = held.find((c) => c.name === 'keyhole:subscriber')!;
      // The subscriber carries the change feed's channel, the session bus and the session's channel.
      assert.equal(storage.sub, 0);
      assert.ok(subscriber.sub >= 3, `subscriber holds ${subscriber.sub} channels`);
      assert.ok(sessionId);
      await stream.cancel();
    } finally {
      await k.stop({ remove: true });
    }
    await waitFor(
      'every connection closed',
      async () => (await redisConnections(redis.url)).length === 0,
      10_000,
    );
  });

  test('--auth none: the session backplane opens its own two, keyhole:sessions and keyhole:sessions-subscriber, and closes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhole-redis-connections-'));
    const config = loadConfig({
      flags: { port: '0', 'data-dir': join(dir, 'data'), auth: 'none' },
      env: { KEYHOLE_REDIS_URL: redis.url },
      cwd: tmpdir(),
    });
    const keyhole = await createKeyhole(config, {
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    try {
      const url = await keyhole.listen();
      const { headers } = await initialize(url);
      const get = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
      assert.equal(get.status, 200);
      const stream = new SseReader(get);
      await stream.next();
      assert.deepEqual(names(await redisConnections(redis.url)), [
        'keyhole:sessions',
        'keyhole:sessions-subscriber',
      ]);
      await stream.cancel();
    } finally {
      await keyhole.close();
      rmSync(dir, { recursive: true, force: true });
    }
    await waitFor(
      'every connection closed',
      async () => (await redisConnections(redis.url)).length === 0,
      10_000,
    );
  });
});
