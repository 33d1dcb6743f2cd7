import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { openStorage } from '../../src/storage/open.ts';
import { SqliteStorage } from '../../src/storage/sqlite/index.ts';
import { MIGRATIONS } from '../../src/storage/sqlite/migrations.ts';
import { PURGE_AUDIT_SQL } from '../../src/storage/sqlite/purge.ts';
import type { AuthorizationCodeRecord } from '../../src/storage/types.ts';
import { storageContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'keyhole-storage-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `db-${n++}`, 'keyhole.db');

storageContract('sqlite (file)', () => openStorage({ kind: 'sqlite', path: freshPath() }));
storageContract('sqlite (:memory:)', () => openStorage({ kind: 'sqlite', path: ':memory:' }));

const T = Date.now();
const code = (codeHash: string): AuthorizationCodeRecord => ({
  codeHash,
  clientId: 'c',
  userId: 'u',
  redirectUri: 'https://app.example/cb',
  scopes: ['read'],
  resource: 'http://127.0.0.1:3000/mcp',
  codeChallenge: 'x',
  codeChallengeMethod: 'S256',
  authTime: T,
  expiresAt: T + 60_000,
});

function raw(path: string): DatabaseSync {
  return new DatabaseSync(path, { readOnly: true });
}

describe('SQLite file', () => {
  test('is created 0600 in a 0700 directory, in WAL mode with foreign keys on', async () => {
    const path = freshPath();
    const s = await openStorage({ kind: 'sqlite', path });
    await s.audit.append('x', {}, T); // forces the -wal file into existence
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, '..')).mode & 0o777, 0o700);
    const db = raw(path);
    assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
    db.close();
    await s.close();
  });

  test('data survives close and reopen', async () => {
    const path = freshPath();
    const a = new SqliteStorage(path);
    await a.clients.create({
      clientId: 'c1',
      source: 'static',
      redirectUris: ['https://app.example/cb'],
      grantTypes: ['authorization_code'],
      responseTypes: ['code'],
      tokenEndpointAuthMethod: 'none',
      metadata: { software_id: 'x' },
      createdAt: T,
    });
    await a.users.create({ id: 'u1', username: 'alice', passwordHash: 'scrypt$h', createdAt: T });
    await a.consents.put({ userId: 'u1', clientId: 'c1', redirectUri: 'r', scopes: ['read'], grantedAt: T });
    await a.codes.put(code('k1'));
    assert.equal((await a.codes.consume('k1', T)).status, 'ok');
    await a.grants.create(
      {
        id: 'g1',
        clientId: 'c1',
        subject: 'u1',
        scopes: ['read'],
        resource: 'r',
        authTime: T,
        createdAt: T,
        expiresAt: T + 86_400_000,
      },
      { tokenHash: 'rt1', grantId: 'g1', createdAt: T, expiresAt: T + 3_600_000 },
    );
    await a.grants.rotate(
      'rt1',
      { tokenHash: 'rt2', grantId: 'g1', createdAt: T, expiresAt: T + 3_600_000 },
      T + 1,
    );
    await a.revocations.revoke('jti-1', T + 60_000);
    await a.keys.put({ kid: 'k', alg: 'HS256', privateJwkEncrypted: 'enc', createdAt: T, status: 'active' });
    await a.audit.append('user.created', { userId: 'u1' }, T);
    await a.close();

    const b = new SqliteStorage(path);
    assert.equal((await b.clients.get('c1'))?.metadata.software_id, 'x');
    assert.equal((await b.users.getByUsername('alice'))?.id, 'u1');
    assert.deepEqual((await b.consents.get('u1', 'c1', 'r'))?.scopes, ['read']);
    assert.equal((await b.codes.consume('k1', T + 2)).status, 'replayed', 'consumption persisted');
    assert.equal(
      (await b.grants.rotate('rt1', { tokenHash: 'x', grantId: 'g1', createdAt: T, expiresAt: T + 1 }, T + 2))
        .status,
      'reused',
    );
    assert.equal((await b.grants.findRefresh('rt2', T + 2))?.grant.id, 'g1');
    assert.equal(await b.revocations.isRevoked('jti-1', T + 2), true);
    assert.deepEqual(
      (await b.keys.list()).map((k) => k.kid),
      ['k'],
    );
    assert.deepEqual(
      (await b.audit.tail(10)).map((r) => [r.type, r.data]),
      [['user.created', { userId: 'u1' }]],
    );
    await b.close();
  });

  test('migrations run once and are idempotent on reopen', async () => {
    const path = freshPath();
    const a = new SqliteStorage(path);
    assert.deepEqual(a.schema, { from: 0, to: MIGRATIONS.length });
    await a.close();
    const b = new SqliteStorage(path);
    assert.deepEqual(b.schema, { from: MIGRATIONS.length, to: MIGRATIONS.length });
    await b.close();
    const db = raw(path);
    assert.deepEqual(
      db
        .prepare('SELECT version FROM schema_migrations ORDER BY version')
        .all()
        .map((r) => r.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    db.close();
  });

  test('a schema newer than this code is refused', async () => {
    const path = freshPath();
    await new SqliteStorage(path).close();
    const db = new DatabaseSync(path);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
      MIGRATIONS.length + 1,
      T,
    );
    db.close();
    assert.throws(() => new SqliteStorage(path), /newer than this Keyhole supports/);
  });

  test('every lookup uses an index', () => {
    const db = new DatabaseSync(':memory:');
    for (const sql of MIGRATIONS) db.exec(sql);
    const plan = (sql: string) =>
      db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all({})
        .map((r) => String(r.detail))
        .join('; ');
    const lookups = [
      "SELECT * FROM clients WHERE client_id = 'x'",
      "SELECT * FROM users WHERE id = 'x'",
      "SELECT * FROM users WHERE username = 'x'",
      "SELECT * FROM consents WHERE user_id = 'u' AND client_id = 'c' AND redirect_uri = 'r'",
      "DELETE FROM consents WHERE client_id = 'c'",
      "UPDATE authorization_codes SET consumed_at = 1 WHERE code_hash = 'h' AND consumed_at IS NULL",
      "SELECT * FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = 'h'",
      "SELECT * FROM grants WHERE subject = 's' AND expires_at > 0 ORDER BY created_at, id",
      "SELECT 1 FROM revocations WHERE id = 'x' AND expires_at > 0",
      'SELECT id FROM revocations WHERE expires_at > 0',
      ...['authorization_codes', 'refresh_tokens', 'grants', 'revocations'].map(
        (t) => `SELECT rowid FROM ${t} WHERE expires_at <= 0 LIMIT 10`,
      ),
      "SELECT * FROM refresh_tokens WHERE grant_id = 'g'",
      'SELECT * FROM audit_log WHERE id > 5 ORDER BY id LIMIT 10',
    ];
    for (const sql of lookups) {
      const p = plan(sql);
      assert.ok(!/\bSCAN\b/.test(p), `full scan in ${sql}: ${p}`);
    }
    // The audit retention purge: oldest first along the time index (no sort), then by rowid.
    const purge = db
      .prepare(`EXPLAIN QUERY PLAN ${PURGE_AUDIT_SQL}`)
      .all({ cutoff: 0, batch: 10 })
      .map((r) => String(r.detail))
      .join('; ');
    assert.match(purge, /SEARCH audit_log USING COVERING INDEX audit_log_by_time \(time<\?\)/, purge);
    assert.ok(!/\bSCAN\b|TEMP B-TREE/.test(purge), purge);
    db.close();
  });
});

describe('purge of expired rows', () => {
  test('is bounded per run and removes only expired rows of every expiring table', async () => {
    const path = freshPath();
    const s = new SqliteStorage(path, { purge: { batch: 100, intervalMs: 60_000 } });
    for (let i = 0; i < 250; i++) {
      await s.codes.put({ ...code(`old-${i}`), expiresAt: T + 10 });
      await s.revocations.revoke(`jti-${i}`, T + 10);
    }
    await s.codes.put(code('live'));
    await s.revocations.revoke('live', T + 60_000);
    await s.grants.create(
      {
        id: 'g-old',
        clientId: 'c',
        subject: 'u',
        scopes: [],
        resource: 'r',
        authTime: T,
        createdAt: T,
        expiresAt: T + 10,
      },
      { tokenHash: 'rt-old', grantId: 'g-old', createdAt: T, expiresAt: T + 10 },
    );
    await s.grants.create(
      {
        id: 'g-live',
        clientId: 'c',
        subject: 'u',
        scopes: [],
        resource: 'r',
        authTime: T,
        createdAt: T,
        expiresAt: T + 86_400_000,
      },
      { tokenHash: 'rt-short', grantId: 'g-live', createdAt: T, expiresAt: T + 10 },
    );
    assert.deepEqual(s.purger.run(T + 20), [100, 2, 1, 100, 0]);
    assert.deepEqual(s.purger.run(T + 20), [100, 0, 0, 100, 0]);
    assert.deepEqual(s.purger.run(T + 20), [50, 0, 0, 50, 0]);
    assert.deepEqual(s.purger.run(T + 20), [0, 0, 0, 0, 0]);
    const counts = countRows(path, ['authorization_codes', 'refresh_tokens', 'grants', 'revocations']);
    assert.deepEqual(counts, [1, 0, 1, 1], 'the expired grant took its refresh token with it');
    assert.equal((await s.codes.consume('live', T + 20)).status, 'ok');
    assert.equal(await s.revocations.isRevoked('live', T + 20), true);
    await s.close();
  });

  test('runs by itself on writes, at most once per interval, and drains a backlog write by write', async () => {
    const path = freshPath();
    const s = new SqliteStorage(path, { purge: { batch: 10, intervalMs: 60_000 } });
    for (let i = 0; i < 25; i++) await s.codes.put({ ...code(`old-${i}`), expiresAt: T + 10 });
    const left = () => countRows(path, ['authorization_codes'])[0];
    await s.codes.consume('nope', T + 20); // due: first purge
    assert.equal(left(), 15);
    await s.codes.consume('nope', T + 21); // the batch was full: still due
    assert.equal(left(), 5);
    await s.codes.consume('nope', T + 22);
    assert.equal(left(), 0);
    for (let i = 0; i < 5; i++) await s.codes.put({ ...code(`later-${i}`), expiresAt: T + 30 });
    await s.codes.consume('nope', T + 40); // drained at T + 22: not due until T + 60 022
    assert.equal(left(), 5);
    await s.codes.consume('nope', T + 22 + 60_000);
    assert.equal(left(), 0);
    await s.close();
  });
});

function countRows(path: string, tables: string[]): number[] {
  const db = raw(path);
  try {
    return tables.map((t) => Number(db.prepare(`SELECT count(*) AS c FROM ${t}`).get()?.c));
  } finally {
    db.close();
  }
}

describe('two connections to one file', () => {
  test('racing to consume one code: exactly one ok (same process)', async () => {
    const path = freshPath();
    const a = new SqliteStorage(path);
    const b = new SqliteStorage(path);
    await a.codes.put(code('shared'));
    const results = await Promise.all([
      ...Array.from({ length: 25 }, () => a.codes.consume('shared', T + 1)),
      ...Array.from({ length: 25 }, () => b.codes.consume('shared', T + 1)),
    ]);
    assert.equal(results.filter((r) => r.status === 'ok').length, 1);
    assert.equal(results.filter((r) => r.status === 'replayed').length, 49);
    await a.close();
    await b.close();
  });

  test('threads racing to consume the same codes: each code ok exactly once', async () => {
    const path = freshPath();
    const setup = new SqliteStorage(path);
    const hashes = Array.from({ length: 200 }, (_, i) => `c-${i}`);
    for (const h of hashes) await setup.codes.put(code(h));
    const per = await runWorkers(path, 'consume', hashes, 4);
    for (let i = 0; i < hashes.length; i++) {
      const oks = per.filter((statuses) => statuses[i] === 'ok').length;
      const replays = per.filter((statuses) => statuses[i] === 'replayed').length;
      assert.equal(oks, 1, `${hashes[i]}: exactly one ok`);
      assert.equal(replays, per.length - 1);
    }
    await setup.close();
  });

  test('threads racing to rotate the same refresh tokens: each rotated exactly once', async () => {
    const path = freshPath();
    const setup = new SqliteStorage(path);
    const hashes = Array.from({ length: 100 }, (_, i) => `rt-${i}`);
    for (const h of hashes) {
      await setup.grants.create(
        {
          id: `g-${h}`,
          clientId: 'c',
          subject: 'u',
          scopes: [],
          resource: 'r',
          authTime: T,
          createdAt: T,
          expiresAt: T + 86_400_000,
        },
        { tokenHash: h, grantId: `g-${h}`, createdAt: T, expiresAt: T + 3_600_000 },
      );
    }
    const per = await runWorkers(path, 'rotate', hashes, 4);
    for (let i = 0; i < hashes.length; i++) {
      const winners = per.flatMap((statuses, w) => (statuses[i] === 'ok' ? [w] : []));
      assert.equal(winners.length, 1, `${hashes[i]}: exactly one ok`);
      assert.equal(per.filter((statuses) => statuses[i] === 'reused').length, per.length - 1);
      for (let w = 0; w < per.length; w++) {
        const stored = await setup.grants.findRefresh(`${hashes[i]}-w${w}`, T);
        assert.equal(stored !== undefined, w === winners[0], 'only the winner stored a successor');
      }
    }
    await setup.close();
  });
});

async function runWorkers(
  path: string,
  op: 'consume' | 'rotate',
  hashes: string[],
  workers: number,
): Promise<string[][]> {
  const barrier = new SharedArrayBuffer(4);
  return Promise.all(
    Array.from({ length: workers }, (_, worker) => {
      // Each worker walks the list from a different offset, so collisions happen all along it.
      const shift = Math.floor((hashes.length * worker) / workers);
      const order = [...hashes.slice(shift), ...hashes.slice(0, shift)];
      return new Promise<string[]>((resolve, reject) => {
        const w = new Worker(new URL('./race-worker.ts', import.meta.url), {
          workerData: { path, barrier, workers, op, hashes: order, worker, now: T + 1 },
        });
        w.once('message', (statuses: string[]) => {
          // Back to the caller's order.
          const byHash = new Map(order.map((h, i) => [h, statuses[i]!]));
          resolve(hashes.map((h) => byHash.get(h)!));
        });
        w.once('error', reject);
        w.once('exit', (code) => {
          if (code !== 0) reject(new Error(`worker exited with ${code}`));
        });
      });
    }),
  );
}
