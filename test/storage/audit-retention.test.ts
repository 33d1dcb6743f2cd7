// Audit retention (auth.auditRetentionDays): audit records older than the retention are deleted by the
// storage's purger, oldest first and at most a batch per run, beside writes (audit appends among them);
// without a retention nothing is ever deleted. Real SQLite files and a real PostgreSQL database (a
// temporary one per test); the clock is injected through the `now` of each append and purge. Also: the
// schema upgrade that adds the index, two replicas purging one database at once, the index the purge
// walks, and the wiring from the configuration (debug line per purge).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { openConfiguredStorage } from '../../src/app/storage.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { MemoryStorage } from '../../src/storage/memory/index.ts';
import { Database } from '../../src/storage/postgres/db.ts';
import { PostgresStorage } from '../../src/storage/postgres/index.ts';
import { applyMigrations } from '../../src/storage/postgres/migrate.ts';
import { MIGRATIONS as PG_MIGRATIONS } from '../../src/storage/postgres/migrations.ts';
import { DELETE_AUDIT } from '../../src/storage/postgres/purge.ts';
import type { PurgeCounts, PurgeOptions } from '../../src/storage/purge.ts';
import { SqliteStorage } from '../../src/storage/sqlite/index.ts';
import { migrate as sqliteMigrate } from '../../src/storage/sqlite/migrate.ts';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../../src/storage/sqlite/migrations.ts';
import { createDatabase, dropDatabase } from '../support/databases.ts';

const DAY = 86_400_000;
const T = Date.UTC(2026, 0, 15);
const RETENTION = 30 * DAY;
const CUTOFF = T - RETENTION;

const dir = mkdtempSync(join(tmpdir(), 'keyhole-audit-retention-'));
let files = 0;
const freshPath = () => join(dir, `db-${files++}`, 'keyhole.db');

const databases: string[] = [];
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const url of databases) await dropDatabase(url);
});

async function freshDatabase(): Promise<string> {
  const url = await createDatabase();
  databases.push(url);
  return url;
}

interface Row {
  id: number;
  time: number;
  type: string;
}

/** What each SQL adapter's tests need: the storage, and raw access to its audit table. */
interface Subject {
  storage: SqliteStorage | PostgresStorage;
  /** PostgreSQL: the database's URL. */
  url?: string;
  /** Inserts rows directly (no purge is triggered), in the order given. */
  insert(rows: readonly { time: number; type: string }[]): Promise<void>;
  /** Every audit row, by id. */
  rows(): Promise<Row[]>;
  /** Waits for a purge an append started in the background (PostgreSQL). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

async function sqliteSubject(purge: PurgeOptions): Promise<Subject> {
  const path = freshPath();
  const storage = new SqliteStorage(path, { purge });
  const db = new DatabaseSync(path);
  const insert = db.prepare("INSERT INTO audit_log (time, type, data) VALUES (?, ?, '{}')");
  return {
    storage,
    async insert(rows) {
      db.exec('BEGIN');
      for (const r of rows) insert.run(r.time, r.type);
      db.exec('COMMIT');
    },
    async rows() {
      return db
        .prepare('SELECT id, time, type FROM audit_log ORDER BY id')
        .all()
        .map((r) => ({ id: Number(r.id), time: Number(r.time), type: String(r.type) }));
    },
    async settled() {},
    async close() {
      db.close();
      await storage.close();
    },
  };
}

async function postgresSubject(purge: PurgeOptions, url?: string): Promise<Subject> {
  const target = url ?? (await freshDatabase());
  const storage = await PostgresStorage.open(target, { purge, poolSize: 4 });
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  return {
    storage,
    url: target,
    async insert(rows) {
      // One statement; ORDER BY ordinality hands out ids in the order given.
      await client.query(
        `INSERT INTO audit_log (time, type, data)
           SELECT t, ty, '{}'::jsonb FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS x(t, ty, o)
           ORDER BY o`,
        [rows.map((r) => r.time), rows.map((r) => r.type)],
      );
    },
    async rows() {
      const { rows } = await client.query('SELECT id, time, type FROM audit_log ORDER BY id');
      return rows.map((r) => ({ id: Number(r.id), time: Number(r.time), type: String(r.type) }));
    },
    settled: () => storage.purger.settled(),
    async close() {
      await client.end();
      await storage.close();
    },
  };
}

/** `n` records past the retention, inserted newest first: their ids run opposite to their age. */
const old = (n: number, type = 'old') =>
  Array.from({ length: n }, (_, i) => ({ time: CUTOFF - DAY - i * 1000, type: `${type}-${i}` }));

const run = async (s: Subject, now: number) => s.storage.purger.run(now);

for (const [name, open] of [
  ['SQLite', sqliteSubject],
  ['PostgreSQL', postgresSubject],
] as const) {
  describe(`audit retention on ${name}`, () => {
    test('records older than the retention go, oldest first, a batch per run; newer ones stay; the backlog drains', async () => {
      const reports: PurgeCounts[] = [];
      const s = await open({
        batch: 100,
        intervalMs: 60_000,
        auditRetentionMs: RETENTION,
        onPurged: (r) => reports.push(r),
      });
      try {
        await s.insert(old(250));
        // Exactly at the cutoff is not older than the retention: it stays.
        await s.insert([{ time: CUTOFF, type: 'boundary' }]);
        await s.insert(Array.from({ length: 10 }, (_, i) => ({ time: T - DAY + i, type: `recent-${i}` })));
        const kept = (await s.rows()).filter((r) => !r.type.startsWith('old-'));

        assert.deepEqual(await run(s, T), [0, 0, 0, 0, 100]);
        // The 100 oldest went (old-150 … old-249, the highest ids): no hole in what remains.
        const left = (await s.rows()).filter((r) => r.type.startsWith('old-')).map((r) => r.type);
        assert.deepEqual(
          left,
          Array.from({ length: 150 }, (_, i) => `old-${i}`),
        );
        assert.deepEqual(await run(s, T), [0, 0, 0, 0, 100]);
        assert.deepEqual(await run(s, T), [0, 0, 0, 0, 50]);
        assert.deepEqual(await run(s, T), [0, 0, 0, 0, 0]);

        assert.deepEqual(await s.rows(), kept, 'the boundary and recent records, untouched');
        assert.deepEqual(
          (await s.storage.audit.tail(100)).map((r) => r.type),
          kept.map((r) => r.type),
        );
        assert.deepEqual(
          reports.map((r) => r.audit),
          [100, 100, 50],
          'one report per purge that removed something',
        );
        assert.deepEqual(reports[0], { codes: 0, refresh: 0, grants: 0, revocations: 0, audit: 100 });
      } finally {
        await s.close();
      }
    });

    test('runs by itself beside audit appends, at most once per interval, draining a backlog append by append', async () => {
      const s = await open({ batch: 10, intervalMs: 60_000, auditRetentionMs: RETENTION });
      try {
        await s.insert(old(25));
        const oldLeft = async () => (await s.rows()).filter((r) => r.type.startsWith('old-')).length;
        const append = async (type: string, at: number) => {
          await s.storage.audit.append(type, { n: 1 }, at);
          await s.settled();
        };
        await append('e1', T); // the first write: due
        assert.equal(await oldLeft(), 15);
        await append('e2', T + 1); // the batch was full: still due
        assert.equal(await oldLeft(), 5);
        await append('e3', T + 2);
        assert.equal(await oldLeft(), 0);
        await s.insert(old(5));
        await append('e4', T + 3); // drained at T + 2: not due until T + 60 002
        assert.equal(await oldLeft(), 5);
        await append('e5', T + 2 + 60_000);
        assert.equal(await oldLeft(), 0);
        assert.deepEqual(
          (await s.storage.audit.tail(10)).map((r) => r.type),
          ['e1', 'e2', 'e3', 'e4', 'e5'],
        );
      } finally {
        await s.close();
      }
    });

    test('without a retention no audit record is ever purged, however old', async () => {
      const s = await open({ batch: 10, intervalMs: 60_000 });
      try {
        const ancient = Array.from({ length: 30 }, (_, i) => ({ time: T - 3650 * DAY - i, type: `a-${i}` }));
        await s.insert(ancient);
        await s.storage.audit.append('now', {}, T);
        await s.settled();
        assert.deepEqual(await run(s, T), [0, 0, 0, 0, 0]);
        assert.deepEqual(
          (await s.rows()).map((r) => r.type),
          [...ancient.map((r) => r.type), 'now'],
        );
      } finally {
        await s.close();
      }
    });
  });
}

describe('audit retention: schema', () => {
  test('SQLite: a version-1 database gains the audit time index on open and keeps its records', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    sqliteMigrate(db, SQLITE_MIGRATIONS.slice(0, 1), T);
    db.prepare("INSERT INTO audit_log (time, type, data) VALUES (?, 'user.created', '{}')").run(T);
    db.close();
    const s = new SqliteStorage(path);
    try {
      assert.deepEqual(s.schema, { from: 1, to: SQLITE_MIGRATIONS.length });
      const check = new DatabaseSync(path, { readOnly: true });
      const index = check
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'audit_log_by_time'")
        .get();
      check.close();
      assert.match(String(index?.sql), /ON audit_log \(time\)/);
      assert.deepEqual(
        (await s.audit.tail(10)).map((r) => r.type),
        ['user.created'],
      );
    } finally {
      await s.close();
    }
  });

  test('PostgreSQL: a version-1 database gains the audit time index on open and keeps its records', async () => {
    const url = await freshDatabase();
    const db = new Database(url, { poolSize: 1 });
    try {
      assert.deepEqual(await applyMigrations(db, T, PG_MIGRATIONS.slice(0, 1)), { from: 0, to: 1 });
      await db.pool.query("INSERT INTO audit_log (time, type, data) VALUES ($1, 'user.created', '{}')", [T]);
    } finally {
      await db.end();
    }
    const s = await PostgresStorage.open(url);
    try {
      assert.deepEqual(s.schema, { from: 1, to: PG_MIGRATIONS.length });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_log' AND indexname = 'audit_log_by_time'",
      );
      await client.end();
      assert.match(String(rows[0]?.indexdef), /ON public\.audit_log USING btree \("time"\)/);
      assert.deepEqual(
        (await s.audit.tail(10)).map((r) => r.type),
        ['user.created'],
      );
    } finally {
      await s.close();
    }
  });

  test('PostgreSQL: on a sizeable table the purge walks audit_log_by_time and deletes by primary key, no scan, no sort', async () => {
    const s = await postgresSubject({ auditRetentionMs: RETENTION });
    try {
      // 20 000 records over 100 days, a fifth of them past the retention.
      await s.insert(
        Array.from({ length: 20_000 }, (_, i) => ({ time: CUTOFF - 20 * DAY + i * 432_000, type: 'e' })),
      );
      const client = new pg.Client({ connectionString: s.url });
      await client.connect();
      try {
        await client.query('ANALYZE audit_log');
        // The purge's own statement, with its parameters bound as the purger binds them.
        const { rows } = await client.query(`EXPLAIN ${DELETE_AUDIT.text}`, [CUTOFF, 500]);
        const plan = rows.map((r) => String(r['QUERY PLAN'])).join('\n');
        assert.match(plan, /Index (Only )?Scan using audit_log_by_time on audit_log/, plan);
        assert.match(plan, /Index Scan using audit_log_pkey on audit_log/, plan);
        assert.doesNotMatch(plan, /Seq Scan|Sort/, plan);
      } finally {
        await client.end();
      }
    } finally {
      await s.close();
    }
  });
});

describe('audit retention: replicas', () => {
  test('PostgreSQL: two storages purging one database at once delete each old record exactly once, and nothing else', async () => {
    const url = await freshDatabase();
    const purge = { batch: 50, intervalMs: 60_000, auditRetentionMs: RETENTION };
    const a = await postgresSubject(purge, url);
    const b = await postgresSubject(purge, url);
    try {
      await a.insert(old(1000));
      const recent = Array.from({ length: 100 }, (_, i) => ({ time: CUTOFF + 1 + i, type: `recent-${i}` }));
      await b.insert(recent);
      const kept = (await a.rows()).filter((r) => r.type.startsWith('recent-'));
      let total = 0;
      for (let round = 0; ; round++) {
        assert.ok(round < 100, 'the backlog drains');
        // Two purges per replica at once: four DELETEs contend for the same oldest rows.
        const results = await Promise.all([a, a, b, b].map((s) => run(s, T)));
        const audit = results.map((r) => r[4]!);
        for (const n of audit) assert.ok(n <= 50, `bounded per run, got ${n}`);
        total += audit.reduce((x, y) => x + y, 0);
        if (audit.every((n) => n === 0)) break;
      }
      assert.equal(total, 1000, 'each old record counted once');
      assert.deepEqual(await b.rows(), kept, 'every newer record stays');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('audit retention: memory', () => {
  test('the age limit applies besides the count cap', async () => {
    const s = new MemoryStorage({ maxAuditRecords: 5, purge: { auditRetentionMs: RETENTION } });
    await s.audit.append('older', {}, CUTOFF - DAY);
    await s.audit.append('boundary', {}, CUTOFF);
    assert.deepEqual(
      (await s.audit.tail(10)).map((r) => r.type),
      ['older', 'boundary'],
      'nothing is past the retention at the time of the newest append',
    );
    await s.audit.append('now', {}, T);
    assert.deepEqual(
      (await s.audit.tail(10)).map((r) => r.type),
      ['boundary', 'now'],
    );
    for (let i = 0; i < 5; i++) await s.audit.append(`later-${i}`, {}, T + i);
    assert.deepEqual(
      (await s.audit.tail(10)).map((r) => r.type),
      ['later-0', 'later-1', 'later-2', 'later-3', 'later-4'],
      'and the count cap still holds',
    );
    const forever = new MemoryStorage();
    await forever.audit.append('ancient', {}, T - 3650 * DAY);
    await forever.audit.append('now', {}, T);
    assert.equal((await forever.audit.tail(10)).length, 2);
  });

  test('a retention that is not a positive integer of ms is refused', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      assert.throws(() => new MemoryStorage({ purge: { auditRetentionMs: bad } }), /auditRetentionMs/);
  });
});

describe('audit retention: from the configuration', () => {
  test('auth.auditRetentionDays reaches the purger; each purge that removed rows is one debug line', async () => {
    const path = freshPath();
    const config = loadConfig({
      env: { KEYHOLE_SQLITE_PATH: path, KEYHOLE_AUDIT_RETENTION_DAYS: '30' },
      cwd: dir,
    });
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'debug',
      write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
    });
    const now = Date.now();
    const storage = await openConfiguredStorage(config, { logger });
    try {
      const db = new DatabaseSync(path);
      const insert = db.prepare("INSERT INTO audit_log (time, type, data) VALUES (?, 'old', '{}')");
      for (let i = 0; i < 3; i++) insert.run(now - 31 * DAY - i);
      insert.run(now - 29 * DAY);
      db.close();
      await storage.audit.append('fresh', {}, now);
      await storage.audit.append('fresher', {}, now + 1); // not due again: no second line
      assert.deepEqual(
        (await storage.audit.tail(10)).map((r) => r.type),
        ['old', 'fresh', 'fresher'],
      );
      const purged = lines.filter((l) => l.msg === 'purged old rows');
      assert.equal(purged.length, 1, JSON.stringify(lines));
      assert.equal(purged[0]!.level, 'debug');
      assert.deepEqual(purged[0]!.removed, { codes: 0, refresh: 0, grants: 0, revocations: 0, audit: 3 });
    } finally {
      await storage.close();
    }
  });

  test('unset, the configured storage keeps every audit record', async () => {
    const path = freshPath();
    const config = loadConfig({ env: { KEYHOLE_SQLITE_PATH: path }, cwd: dir });
    const storage = await openConfiguredStorage(config);
    try {
      const now = Date.now();
      await storage.audit.append('ancient', {}, now - 3650 * DAY);
      await storage.audit.append('fresh', {}, now);
      assert.deepEqual(
        (await storage.audit.tail(10)).map((r) => r.type),
        ['ancient', 'fresh'],
      );
    } finally {
      await storage.close();
    }
  });
});
