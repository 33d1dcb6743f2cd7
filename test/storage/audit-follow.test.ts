// Following the audit trail loses nothing (AuditFollower, src/storage/audit-follow.ts): on PostgreSQL
// concurrent appends commit out of id order, for real here — one connection holds an INSERT open in
// its transaction while another commits a newer id — and the record that commits late is handed over
// when it appears, once; an id that never commits (rolled back) is given up after the bound and said
// so; the number of ids waited for stays capped; an outage gives nothing up and loses nothing. The
// lookup by id (AuditStore.find) is index-backed and behaves alike on memory, SQLite and PostgreSQL,
// which follow through the same path. Needs PostgreSQL on 127.0.0.1:5432 (test/support/databases.ts).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type AuditBatch, AuditFollower, formatIdRanges } from '../../src/storage/audit-follow.ts';
import { isStorageUnavailable } from '../../src/storage/errors.ts';
import { openStorage } from '../../src/storage/open.ts';
import { APPEND, BY_IDS } from '../../src/storage/postgres/audit.ts';
import { migrate } from '../../src/storage/postgres/index.ts';
import { BY_IDS_SQL as SQLITE_BY_IDS } from '../../src/storage/sqlite/audit.ts';
import type { AuditStore, Storage } from '../../src/storage/types.ts';
import { createDatabase, dropDatabase } from '../support/databases.ts';
import { startPrivatePostgres } from '../support/services.ts';

const T = 1_700_000_000_000;

/** A clock the test moves by hand. */
function clock(start = T) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** Every id handed over by the follower, in the order handed over; fails on a repeat. */
function collector() {
  const ids: number[] = [];
  const gaveUp: number[] = [];
  const overflow: Array<[number, number]> = [];
  return {
    ids,
    gaveUp,
    overflow,
    take(batch: AuditBatch): number[] {
      const got = batch.records.map((r) => r.id);
      for (const id of got) assert.ok(!ids.includes(id), `id ${id} handed over twice`);
      ids.push(...got);
      for (const r of batch.gaveUp) for (let id = r.from; id <= r.to; id++) gaveUp.push(id);
      for (const r of batch.overflow) overflow.push([r.from, r.to]);
      return got;
    },
  };
}

/** The real store, counting the ids each find() asks for (no behaviour changed). */
function counted(store: AuditStore) {
  const asked: number[] = [];
  const wrapped: AuditStore = {
    append: (type, data, time) => store.append(type, data, time),
    tail: (limit, afterId) => store.tail(limit, afterId),
    find: (ids) => {
      asked.push(ids.length);
      return store.find(ids);
    },
  };
  return { store: wrapped, asked };
}

// ---------------------------------------------------------------------------------------------------
// find(ids) on every adapter

const adapters: Array<[string, () => Promise<{ storage: Storage; done: () => Promise<void> }>]> = [
  [
    'memory',
    async () => {
      const storage = await openStorage({ kind: 'memory' });
      return { storage, done: () => storage.close() };
    },
  ],
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keyhole-audit-follow-'));
      const storage = await openStorage({ kind: 'sqlite', path: join(dir, 'keyhole.db') });
      return {
        storage,
        done: async () => {
          await storage.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      const url = await createDatabase();
      const storage = await openStorage({ kind: 'postgres', url });
      return {
        storage,
        done: async () => {
          await storage.close();
          await dropDatabase(url);
        },
      };
    },
  ],
];

for (const [name, open] of adapters) {
  describe(`AuditStore.find and AuditFollower on ${name}`, () => {
    test('find(ids): the records that exist, in id order, each once; none for none', async () => {
      const { storage, done } = await open();
      try {
        for (let i = 1; i <= 5; i++) await storage.audit.append(`e${i}`, { i }, T + i);
        const all = await storage.audit.tail(10);
        const [a, , c, , e] = all;
        assert.deepEqual(await storage.audit.find([e!.id, a!.id, 999_999, a!.id, c!.id]), [a, c, e]);
        assert.deepEqual(await storage.audit.find([]), []);
        assert.deepEqual(await storage.audit.find([999_998, 999_999]), []);
      } finally {
        await done();
      }
    });

    test('a follower prints the window, then every new record once, in order, with nothing to wait for', async () => {
      const { storage, done } = await open();
      try {
        for (let i = 1; i <= 3; i++) await storage.audit.append(`e${i}`, {}, T + i);
        const { store, asked } = counted(storage.audit);
        const f = new AuditFollower(store, { page: 2 });
        const got = collector();
        assert.deepEqual(
          got.take(await f.start(2)).length,
          2,
          'the newest two: -n is honoured with the lookback',
        );
        for (let i = 4; i <= 8; i++) await storage.audit.append(`e${i}`, {}, T + i);
        let batch: AuditBatch;
        do {
          batch = await f.poll();
          got.take(batch);
        } while (batch.more);
        const types = (await storage.audit.find(got.ids)).map((r) => r.type);
        assert.deepEqual(types, ['e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8']);
        assert.deepEqual(
          got.ids,
          [...got.ids].sort((x, y) => x - y),
        );
        assert.deepEqual(f.waiting, []);
        assert.deepEqual(asked, [], 'ids commit in order here: no lookups by id');
        assert.deepEqual(got.take(await f.poll()), []);
      } finally {
        await done();
      }
    });

    test('a follower started on an empty trail prints everything appended after', async () => {
      const { storage, done } = await open();
      try {
        const f = new AuditFollower(storage.audit);
        const got = collector();
        assert.deepEqual(got.take(await f.start(20)), []);
        assert.deepEqual(got.take(await f.poll()), []);
        await storage.audit.append('e1', {}, T);
        await storage.audit.append('e2', {}, T + 1);
        assert.equal(got.take(await f.poll()).length, 2);
        assert.deepEqual(f.waiting, []);
        await assert.rejects(f.start(1), /already started/);
      } finally {
        await done();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Out-of-order commits on PostgreSQL, for real

describe('AuditFollower on PostgreSQL: appends that commit out of id order', () => {
  let url: string;
  let storage: Storage;
  const clients: pg.Client[] = [];

  before(async () => {
    url = await createDatabase();
    await migrate(url);
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await dropDatabase(url);
  });

  /** A separate session, as another replica's pooled connection. */
  async function session(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return c;
  }

  /**
   * BEGIN, then the adapter's own INSERT, held open: the sequence has handed out the id, the row is
   * not visible to anyone else until commit.
   */
  async function holdAppend(c: pg.Client, type: string): Promise<number> {
    await c.query('BEGIN');
    await c.query(APPEND.text, [T, type, JSON.stringify({ held: true })]);
    const { rows } = await c.query<{ id: string }>(
      "SELECT currval(pg_get_serial_sequence('audit_log', 'id')) AS id",
    );
    return Number(rows[0]!.id);
  }

  async function fresh(): Promise<Storage> {
    await storage?.close();
    const c = await session();
    await c.query('TRUNCATE audit_log RESTART IDENTITY');
    storage = await openStorage({ kind: 'postgres', url });
    return storage;
  }
  after(async () => storage?.close());

  test('a record committed after a newer one is printed when it appears, once', async () => {
    const s = await fresh();
    await s.audit.append('first', {}, T);
    const f = new AuditFollower(s.audit);
    const got = collector();
    got.take(await f.start(20));

    const a = await session();
    const held = await holdAppend(a, 'late'); // takes id N, does not commit yet
    await s.audit.append('early', {}, T + 1); // takes N + 1 and commits
    const between = await f.poll();
    got.take(between);
    assert.deepEqual(
      between.records.map((r) => r.type),
      ['early'],
      'the poll in between sees N + 1 only',
    );
    assert.deepEqual(f.waiting, [held], 'and waits for N');
    got.take(await f.poll());
    assert.deepEqual(f.waiting, [held], 'still in flight: still waited for');

    await a.query('COMMIT');
    const late = await f.poll();
    assert.deepEqual(
      late.records.map((r) => [r.id, r.type, r.data]),
      [[held, 'late', { held: true }]],
    );
    got.take(late);
    assert.deepEqual(f.waiting, []);
    assert.deepEqual(got.take(await f.poll()), [], 'nothing twice');
  });

  test('several in flight at once, across pages: each late one once, the new ones in order', async () => {
    const s = await fresh();
    await s.audit.append('first', {}, T);
    const f = new AuditFollower(s.audit, { page: 2 });
    const got = collector();
    got.take(await f.start(1));
    const holders = [await session(), await session(), await session()];
    const held: number[] = [];
    for (const [i, c] of holders.entries()) {
      held.push(await holdAppend(c, `late${i}`));
      await s.audit.append(`new${i}`, {}, T + i);
    }
    let batch: AuditBatch;
    do {
      batch = await f.poll();
      got.take(batch);
    } while (batch.more);
    assert.deepEqual(f.waiting, held);
    // Commit in reverse: the order of commits does not matter.
    for (const c of holders.reverse()) await c.query('COMMIT');
    assert.deepEqual(got.take(await f.poll()), held);
    assert.deepEqual(f.waiting, []);
    const all = (await s.audit.tail(100)).map((r) => r.id);
    assert.deepEqual(
      [...got.ids].sort((x, y) => x - y),
      all,
      'every record, exactly once',
    );
  });

  test('a follower starting while an append is in flight below the newest record still gets it', async () => {
    const s = await fresh();
    await s.audit.append('old', {}, T);
    const a = await session();
    const held = await holdAppend(a, 'late');
    await s.audit.append('newest', {}, T + 1);
    const f = new AuditFollower(s.audit);
    assert.deepEqual(
      (await f.start(1)).records.map((r) => r.type),
      ['newest'],
    );
    assert.deepEqual(f.waiting, [held], 'the lookback below the window waits for it');
    await a.query('COMMIT');
    assert.deepEqual(
      (await f.poll()).records.map((r) => r.type),
      ['late'],
    );
  });

  test('an id that never commits (rolled back) is given up once the bound has passed, and said so', async () => {
    const s = await fresh();
    const time = clock();
    const f = new AuditFollower(s.audit, { now: time.now });
    const got = collector();
    got.take(await f.start(20));
    await s.audit.append('before', {}, T);
    got.take(await f.poll());

    const a = await session();
    const burned = await holdAppend(a, 'rolled back');
    await s.audit.append('after', {}, T + 1);
    got.take(await f.poll());
    assert.deepEqual(f.waiting, [burned]);
    await a.query('ROLLBACK');

    time.advance(29_999);
    got.take(await f.poll());
    assert.deepEqual(f.waiting, [burned], 'not yet: 30 s have not passed');
    assert.deepEqual(got.gaveUp, []);

    time.advance(1);
    got.take(await f.poll());
    assert.deepEqual(f.waiting, []);
    assert.deepEqual(got.gaveUp, [burned], 'given up, and reported');
    await s.audit.append('later', {}, T + 2);
    got.take(await f.poll());
    assert.deepEqual(got.take(await f.poll()), []);
    assert.deepEqual(
      (await s.audit.find(got.ids)).map((r) => r.type),
      ['before', 'after', 'later'],
      'each committed record once, the burned id never',
    );
  });

  test('the ids waited for stay capped: the oldest are given up first, and reported', async () => {
    const s = await fresh();
    const a = await session();
    const { store, asked } = counted(s.audit);
    const f = new AuditFollower(store, { maxGaps: 1000, page: 500 });
    const got = collector();
    await s.audit.append('first', {}, T);
    got.take(await f.start(1));
    // 1,200 separate gaps: each a burned id (nextval, as a failed INSERT leaves it) below a record.
    await a.query(`DO $$ BEGIN FOR i IN 1..1200 LOOP
      PERFORM nextval(pg_get_serial_sequence('audit_log', 'id'));
      INSERT INTO audit_log (time, type, data) VALUES (i, 'n', '{}');
    END LOOP; END $$`);
    let batch: AuditBatch;
    do {
      batch = await f.poll();
      got.take(batch);
      assert.ok(f.waiting.length <= 1000, `${f.waiting.length} waited for`);
    } while (batch.more);
    assert.equal(got.ids.length, 1201);
    assert.equal(f.waiting.length, 1000);
    const burned = Array.from({ length: 1200 }, (_, i) => 2 + 2 * i);
    assert.deepEqual(f.waiting, burned.slice(200), 'the newest 1,000 are kept');
    const overflowed = got.overflow.flatMap(([from, to]) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i),
    );
    assert.deepEqual(overflowed, burned.slice(0, 200), 'the oldest 200 given up, each reported');
    assert.ok(Math.max(...asked) <= 1000, 'a lookup asks for at most the cap');

    // A jump wider than the cap (the sequence moved on by 5,000): not enumerated, reported as a range.
    await a.query(`SELECT setval(pg_get_serial_sequence('audit_log', 'id'),
      (SELECT max(id) FROM audit_log) + 5000)`);
    const before = (await s.audit.tail(1))[0]!.id;
    await s.audit.append('after the jump', {}, T);
    got.take(await f.poll());
    assert.equal(f.waiting.length, 1000);
    assert.deepEqual(
      f.waiting,
      Array.from({ length: 1000 }, (_, i) => before + 4001 + i),
    );
    assert.deepEqual(
      got.overflow.at(-1),
      [before + 1, before + 4000],
      'the jump below the cap, as one range',
    );
    assert.equal(got.overflow.length, 200 + 1000 + 1, 'and the 1,000 older ones, pushed out');
    // A late record among the kept ids is still handed over.
    const late = before + 4500;
    await a.query(`INSERT INTO audit_log (id, time, type, data) VALUES ($1, $2, 'late', '{}')`, [late, T]);
    assert.deepEqual(got.take(await f.poll()), [late]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Outage

describe('AuditFollower across a PostgreSQL outage', () => {
  test('a failed poll changes nothing; time spent unreachable gives no id up; nothing is lost', async () => {
    const server = await startPrivatePostgres();
    let storage: Storage | undefined;
    try {
      const url = await server.createDatabase('keyhole_follow');
      storage = await openStorage({ kind: 'postgres', url });
      const time = clock();
      const f = new AuditFollower(storage.audit, { now: time.now });
      const got = collector();
      await storage.audit.append('first', {}, T);
      got.take(await f.start(20));
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query("SELECT nextval(pg_get_serial_sequence('audit_log', 'id'))"); // id 2, never used
      await c.end();
      await storage.audit.append('third', {}, T);
      got.take(await f.poll());
      assert.deepEqual(f.waiting, [2]);

      await server.stop();
      time.advance(60_000);
      await assert.rejects(f.poll(), (err) => isStorageUnavailable(err));
      assert.deepEqual(f.waiting, [2], 'not given up: no lookup answered');
      await server.start();

      // Id 2 commits now, late (as a transaction on the far side of a partition could): handed over.
      const d = new pg.Client({ connectionString: url });
      await d.connect();
      await d.query(`INSERT INTO audit_log (id, time, type, data) VALUES (2, $1, 'second', '{}')`, [T]);
      await d.end();
      await storage.audit.append('fourth', {}, T);
      let batch: AuditBatch | undefined;
      for (let i = 0; i < 20 && batch === undefined; i++) {
        try {
          batch = await f.poll();
        } catch (err) {
          // The pool may hand out a connection the restart ended before it notices.
          if (!isStorageUnavailable(err)) throw err;
        }
      }
      got.take(batch!);
      assert.deepEqual(got.ids, [1, 3, 2, 4]);
      assert.deepEqual(f.waiting, []);
      assert.deepEqual(got.gaveUp, []);
    } finally {
      await storage?.close();
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Plans

test('the lookup by id is a primary-key search on PostgreSQL (20,000 rows) and SQLite', async () => {
  const url = await createDatabase();
  try {
    await migrate(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(`INSERT INTO audit_log (time, type, data)
        SELECT g, 't', '{}' FROM generate_series(1, 20000) g`);
      await c.query('ANALYZE');
      const plan = (await c.query(`EXPLAIN ${BY_IDS.text}`, [[5, 600, 19_999]])).rows
        .map((r) => String(r['QUERY PLAN']))
        .join('\n');
      assert.match(plan, /Index Scan using audit_log_pkey/, plan);
      assert.doesNotMatch(plan, /Seq Scan/, plan);
    } finally {
      await c.end();
    }
  } finally {
    await dropDatabase(url);
  }
  const { DatabaseSync } = await import('node:sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'keyhole-audit-plan-'));
  try {
    const s = await openStorage({ kind: 'sqlite', path: join(dir, 'keyhole.db') });
    await s.close();
    const db = new DatabaseSync(join(dir, 'keyhole.db'));
    const plan = db
      .prepare(`EXPLAIN QUERY PLAN ${SQLITE_BY_IDS}`)
      .all({ ids: '[1,2]' })
      .map((r) => String(r.detail))
      .join('; ');
    db.close();
    assert.match(plan, /SEARCH audit_log USING INTEGER PRIMARY KEY/, plan);
    assert.doesNotMatch(plan, /SCAN audit_log/, plan);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('given-up ids are reported as short ranges, a long list summed up', () => {
  assert.equal(
    formatIdRanges([
      { from: 9, to: 9 },
      { from: 12, to: 13 },
    ]),
    '9, 12-13',
  );
  const many = Array.from({ length: 12 }, (_, i) => ({ from: 10 * i, to: 10 * i + 1 }));
  assert.equal(
    formatIdRanges(many),
    '0-1, 10-11, 20-21, 30-31, 40-41, 50-51, 60-61, 70-71, 80-81, 90-91, … (24 ids in all)',
  );
});
