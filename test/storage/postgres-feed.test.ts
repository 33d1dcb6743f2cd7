// The change feed on PostgreSQL LISTEN/NOTIFY (src/storage/postgres/feed.ts), for replicas that share
// only the database: a revocation written by one storage, announced by the very statement that writes
// it, reaches every storage on the database (the writer included) exactly once, and an aborted one never;
// junk on the channel is ignored; a subscriber is told when its connection is lost and told "up" again
// only after a probe proved the new one; closing never hangs. With Redis, Redis's feed is the only one.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openStorage } from '../../src/storage/open.ts';
import { Database } from '../../src/storage/postgres/db.ts';
import {
  changeChannel,
  DEFAULT_CHANGE_CHANNEL,
  FEED_APPLICATION_NAME,
  PostgresChangeFeed,
} from '../../src/storage/postgres/feed.ts';
import { PostgresUnavailableError } from '../../src/storage/postgres/index.ts';
import type { ChangeFeed, Storage, StorageChange } from '../../src/storage/types.ts';
import {
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  REDIS_URL,
  redisPrefix,
} from '../support/databases.ts';
import { type PrivatePostgres, startPrivatePostgres, waitFor } from '../support/services.ts';

function collect(feed: ChangeFeed) {
  const changes: StorageChange[] = [];
  const states: boolean[] = [];
  const stop = feed.subscribe(
    (c) => changes.push(c),
    (up) => states.push(up),
  );
  return { changes, states, stop };
}

/** A plain session on `url` (closed by the caller). */
async function session(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  return c;
}

/**
 * Everything announced on `channel` of `url`'s database, heard by a LISTEN of the test's own, less the
 * feeds' probes (each feed's heartbeat sends one every few seconds).
 */
async function eavesdrop(url: string, channel = DEFAULT_CHANGE_CHANNEL) {
  const c = await session(url);
  const payloads: string[] = [];
  c.on('notification', (n) => {
    if (n.channel === channel && !n.payload?.startsWith('{"type":"probe"')) payloads.push(n.payload ?? '');
  });
  await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  return { payloads, close: () => c.end() };
}

const MIN = 60_000;

describe('change feed on PostgreSQL (LISTEN/NOTIFY), two storages on one database', () => {
  let url: string;
  let a: Storage;
  let b: Storage;
  before(async () => {
    url = await createDatabase();
    a = await openStorage({ kind: 'postgres', url, poolSize: 4 });
    b = await openStorage({ kind: 'postgres', url, poolSize: 4 });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    if (url) await dropDatabase(url);
  });

  test('without Redis the storage carries the PostgreSQL feed; the LISTEN connection opens on the first subscribe', async () => {
    assert.ok(a.changes instanceof PostgresChangeFeed);
    assert.equal((a.changes as PostgresChangeFeed).channel, 'keyhole_changes');
    const listeners = async () => {
      const c = await session(url);
      try {
        const { rows } = await c.query(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
          [FEED_APPLICATION_NAME],
        );
        return rows[0].n as number;
      } finally {
        await c.end();
      }
    };
    // Publishing alone (the CLI's `keys rotate`) opens no listening connection.
    await a.changes!.publish({ type: 'keys' });
    assert.equal(await listeners(), 0);
    const onA = collect(a.changes!);
    const onB = collect(b.changes!);
    await waitFor('both feeds up', () => a.changes!.up && b.changes!.up, 10_000);
    // One per storage, however many subscribers it has.
    const again = collect(a.changes!);
    await waitFor('the second subscriber is told up', () => again.states.length === 1, 5000);
    assert.equal(await listeners(), 2);
    assert.deepEqual(onA.states, [true]);
    assert.deepEqual(onB.states, [true]);
    for (const c of [onA, onB, again]) c.stop();
  });

  test("a revocation on A reaches A's and B's subscribers once; only a new or longer revocation is announced", async () => {
    const onA = collect(a.changes!);
    const onB = collect(b.changes!);
    const heard = await eavesdrop(url);
    try {
      await waitFor('up', () => a.changes!.up && b.changes!.up, 10_000);
      const expiresAt = Date.now() + 10 * MIN;
      await a.revocations.revoke('jti-1', expiresAt);
      // The same or an earlier expiry changes nothing: not announced. A later one is.
      await a.revocations.revoke('jti-1', expiresAt);
      await b.revocations.revoke('jti-1', expiresAt - MIN);
      await b.revocations.revoke('jti-1', expiresAt + MIN);
      await b.changes!.publish({ type: 'keys' });
      const expected: StorageChange[] = [
        { type: 'revoked', id: 'jti-1', expiresAt },
        { type: 'revoked', id: 'jti-1', expiresAt: expiresAt + MIN },
        { type: 'keys' },
      ];
      await waitFor(
        'the marker reaches both',
        () => onA.changes.length >= 3 && onB.changes.length >= 3,
        5000,
      );
      assert.deepEqual(onA.changes, expected);
      assert.deepEqual(onB.changes, expected);
      // On the wire: exactly those three messages (one NOTIFY each), no duplicate.
      await waitFor('the eavesdropper hears the marker', () => heard.payloads.length >= 3, 5000);
      assert.deepEqual(
        heard.payloads.map((p) => JSON.parse(p)),
        expected,
      );
      assert.equal(await a.revocations.isRevoked('jti-1', expiresAt + 1), true);
    } finally {
      onA.stop();
      onB.stop();
      await heard.close();
    }
  });

  test('a revocation whose transaction aborts is not announced (and not stored)', async () => {
    const onB = collect(b.changes!);
    const admin = await session(url);
    try {
      await waitFor('up', () => b.changes!.up, 10_000);
      // An AFTER trigger fires once the statement's NOTIFY is already queued: its failure aborts both.
      await admin.query(`
        CREATE FUNCTION refuse_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.id = 'doomed' THEN RAISE EXCEPTION 'refused for the test'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_revocation AFTER INSERT OR UPDATE ON revocations
          FOR EACH ROW EXECUTE FUNCTION refuse_revocation();
      `);
      await assert.rejects(a.revocations.revoke('doomed', Date.now() + MIN), /refused for the test/);
      assert.equal(await a.revocations.isRevoked('doomed', Date.now()), false);
      // The same at the SQL level: NOTIFY inside a transaction that is rolled back is never delivered.
      await admin.query('BEGIN');
      await admin.query('SELECT pg_notify($1, $2)', [
        DEFAULT_CHANGE_CHANNEL,
        JSON.stringify({ type: 'revoked', id: 'rolled-back', expiresAt: Date.now() + MIN }),
      ]);
      await admin.query('ROLLBACK');
      // NOTIFY is delivered in commit order: the marker, committed after both, arrives after anything
      // either could have sent.
      await a.changes!.publish({ type: 'keys' });
      await waitFor('the marker', () => onB.changes.length >= 1, 5000);
      assert.deepEqual(onB.changes, [{ type: 'keys' }]);
    } finally {
      await admin.query('DROP TRIGGER IF EXISTS refuse_revocation ON revocations').catch(() => {});
      await admin.end();
      onB.stop();
    }
  });

  test('a revocation too large for a NOTIFY payload is refused before anything is written', async () => {
    const id = `x${'y'.repeat(8000)}`;
    await assert.rejects(a.revocations.revoke(id, Date.now() + MIN), RangeError);
    assert.equal(await a.revocations.isRevoked(id, Date.now()), false);
  });

  test('payloads on the channel that are not changes are ignored', async () => {
    const onB = collect(b.changes!);
    const raw = await session(url);
    try {
      await waitFor('up', () => b.changes!.up, 10_000);
      for (const m of [
        '',
        'not json',
        '[]',
        'null',
        '{"type":"revoked","id":1,"expiresAt":2}',
        '{"type":"revoked","id":"a","expiresAt":"2"}',
        '{"type":"revoked","id":"a","expiresAt":1.5}',
        '{"type":"unknown"}',
        '{"type":"probe"}',
        '{"type":"probe","nonce":"not-one-of-ours"}',
      ]) {
        await raw.query('SELECT pg_notify($1, $2)', [DEFAULT_CHANGE_CHANNEL, m]);
      }
      await a.changes!.publish({ type: 'keys' });
      await waitFor('the marker', () => onB.changes.length >= 1, 5000);
      assert.deepEqual(onB.changes, [{ type: 'keys' }]);
      assert.equal(b.changes!.up, true);
    } finally {
      await raw.end();
      onB.stop();
    }
  });

  test('a schema of its own (search_path) gets a channel of its own', async () => {
    const admin = await session(url);
    await admin.query('CREATE SCHEMA tenant_b');
    await admin.end();
    const inSchema = new URL(url);
    inSchema.searchParams.set('options', '-c search_path=tenant_b');
    const t = await openStorage({ kind: 'postgres', url: inSchema.href, poolSize: 2 });
    const onB = collect(b.changes!);
    const onT = collect(t.changes!);
    try {
      const channel = (t.changes as PostgresChangeFeed).channel;
      assert.equal(channel, 'keyhole_changes:tenant_b');
      assert.equal(changeChannel('x'.repeat(63)).length <= 63, true);
      await waitFor('up', () => b.changes!.up && t.changes!.up, 10_000);
      await t.revocations.revoke('in-tenant', Date.now() + MIN);
      await a.revocations.revoke('in-public', Date.now() + MIN);
      await waitFor('each hears its own', () => onT.changes.length >= 1 && onB.changes.length >= 1, 5000);
      // Each storage's marker, published last, proves nothing else is on the way.
      await t.changes!.publish({ type: 'keys' });
      await a.changes!.publish({ type: 'keys' });
      await waitFor('markers', () => onT.changes.length >= 2 && onB.changes.length >= 2, 5000);
      assert.deepEqual(
        onT.changes.map((c) => (c.type === 'revoked' ? c.id : c.type)),
        ['in-tenant', 'keys'],
      );
      assert.deepEqual(
        onB.changes.map((c) => (c.type === 'revoked' ? c.id : c.type)),
        ['in-public', 'keys'],
      );
      assert.equal(await t.revocations.isRevoked('in-public', Date.now()), false);
    } finally {
      onB.stop();
      onT.stop();
      await t.close();
    }
  });
});

describe('with Redis, the Redis feed is the only one', () => {
  let url: string;
  const prefix = redisPrefix();
  let s: Storage;
  before(async () => {
    url = await createDatabase();
    s = await openStorage({ kind: 'postgres', url, redisUrl: REDIS_URL, redisPrefix: prefix });
  });
  after(async () => {
    await s?.close();
    await deleteRedisKeys(prefix);
    if (url) await dropDatabase(url);
  });

  test('a revocation is announced once, on Redis; nothing on PostgreSQL', async () => {
    assert.ok(!(s.changes instanceof PostgresChangeFeed));
    const on = collect(s.changes!);
    const heard = await eavesdrop(url);
    try {
      await waitFor('up', () => s.changes!.up, 10_000);
      await s.revocations.revoke('jti-r', Date.now() + MIN);
      await s.changes!.publish({ type: 'keys' });
      await waitFor('the marker', () => on.changes.length >= 2, 5000);
      assert.deepEqual(
        on.changes.map((c) => c.type),
        ['revoked', 'keys'],
      );
      // Written to PostgreSQL too (the durable copy), but never announced there; a NOTIFY of the test's
      // own, sent after, arrives first and alone.
      const raw = await session(url);
      await raw.query('SELECT pg_notify($1, $2)', [DEFAULT_CHANGE_CHANNEL, 'marker']);
      await raw.end();
      await waitFor('the test marker', () => heard.payloads.length >= 1, 5000);
      assert.deepEqual(heard.payloads, ['marker']);
    } finally {
      on.stop();
      await heard.close();
    }
  });

  test('SQLite and memory storage have no PostgreSQL feed', async () => {
    const sqlite = await openStorage({ kind: 'sqlite', path: ':memory:' });
    const memory = await openStorage({ kind: 'memory' });
    try {
      assert.equal(sqlite.changes, undefined);
      assert.equal(memory.changes, undefined);
    } finally {
      await sqlite.close();
      await memory.close();
    }
  });
});

describe('change feed across a PostgreSQL restart (private cluster)', () => {
  let server: PrivatePostgres;
  let url: string;
  before(async () => {
    server = await startPrivatePostgres();
    url = await server.createDatabase('feed');
  });
  after(async () => {
    await server?.close();
  });

  test('down while the server is stopped, up again after a probe once it is back, then delivering', async () => {
    const a = await openStorage({ kind: 'postgres', url, poolSize: 2 });
    const b = await openStorage({ kind: 'postgres', url, poolSize: 2 });
    try {
      const onB = collect(b.changes!);
      await waitFor('subscribed', () => b.changes!.up, 10_000);
      await server.stop();
      await waitFor('the subscriber notices', () => !b.changes!.up, 10_000);
      assert.deepEqual(onB.states, [true, false]);
      await assert.rejects(a.changes!.publish({ type: 'keys' }), PostgresUnavailableError);
      await server.start();
      await waitFor('subscribed again', () => b.changes!.up, 15_000);
      assert.deepEqual(onB.states, [true, false, true]);
      const expiresAt = Date.now() + MIN;
      await waitFor(
        'a can revoke again',
        () =>
          a.revocations.revoke('after-restart', expiresAt).then(
            () => true,
            () => false,
          ),
        15_000,
      );
      await waitFor('delivered after the restart', () => onB.changes.length >= 1, 5000);
      assert.deepEqual(onB.changes, [{ type: 'revoked', id: 'after-restart', expiresAt }]);
      onB.stop();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('closing never hangs: not while the server is stopped, not while it is frozen', async () => {
    const stopped = await openStorage({ kind: 'postgres', url, poolSize: 2 });
    const onStopped = collect(stopped.changes!);
    await waitFor('up', () => stopped.changes!.up, 10_000);
    await server.stop();
    await waitFor('down', () => !stopped.changes!.up, 10_000);
    // Reconnecting (refused) when closed: the loop ends, the storage closes.
    await stopped.close();
    assert.deepEqual(onStopped.states, [true, false]);
    await server.start();

    // A frozen server (SIGSTOP: connections open, nothing answers) is noticed by the heartbeat probe;
    // closing a feed whose connection is still open to it (no heartbeat) drops the connection rather
    // than wait for a goodbye that cannot come.
    const db = new Database(url, { poolSize: 1 });
    const feed = new PostgresChangeFeed(db, { heartbeatMs: 100, probeTimeoutMs: 500 });
    const quiet = new PostgresChangeFeed(db, { heartbeatMs: 0 });
    const onFeed = collect(feed);
    const onQuiet = collect(quiet);
    try {
      await waitFor('up', () => feed.up && quiet.up, 10_000);
      server.pause();
      await waitFor('the heartbeat notices', () => !feed.up, 10_000);
      assert.deepEqual(onFeed.states, [true, false]);
      assert.equal(quiet.up, true, 'without a heartbeat, nothing has told the quiet feed yet');
      await quiet.close();
      assert.deepEqual(onQuiet.states, [true, false]);
      await feed.close();
      assert.equal(feed.up, false);
    } finally {
      server.resume();
      await db.end();
    }
    // Closed is closed: a later subscriber is never told "up", and closing again is a no-op.
    const late = collect(feed);
    await feed.close();
    assert.deepEqual(late.states, []);
  });
});
