// The PostgreSQL adapter against a real server: the shared contract suite, plus what only a shared
// database has — persistence across pools, migrations under concurrent opens, and one-time operations
// raced from separate pools. Needs PostgreSQL on 127.0.0.1:5432 (KEYHOLE_TEST_POSTGRES_URL overrides
// the admin URL); when it is not reachable this file FAILS: CI starts the server, nothing is skipped.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { openStorage } from '../../src/storage/open.ts';
import { migrate, PostgresStorage, PostgresUnavailableError } from '../../src/storage/postgres/index.ts';
import { MIGRATIONS } from '../../src/storage/postgres/migrations.ts';
import { DELETE_AUDIT, DELETES } from '../../src/storage/postgres/purge.ts';
import type { AuthorizationCodeRecord, GrantRecord, Storage } from '../../src/storage/types.ts';
import { storageContract } from './contract.ts';

const ADMIN_URL = process.env.KEYHOLE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TABLES = [
  'clients',
  'users',
  'consents',
  'authorization_codes',
  'grants',
  'refresh_tokens',
  'revocations',
  'signing_keys',
  'audit_log',
];

function urlFor(database: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const created: string[] = [];

/** A new, empty database (dropped in `after`). */
async function createDatabase(): Promise<string> {
  const name = `keyhole_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(ADMIN_URL).host} (${(err as Error).message}); ` +
        'start it (CI does) or point KEYHOLE_TEST_POSTGRES_URL at a server where this user may CREATE DATABASE',
      { cause: err },
    );
  }
  created.push(name);
  return urlFor(name);
}

after(async () => {
  for (const name of created) {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  }
});

// Top-level await: a missing server fails the whole file here, loudly, before any test registers.
const URL_ = await createDatabase();

// The contract wants a fresh, empty storage per test: one database, emptied before each open.
storageContract('postgres', async () => {
  const s = await openStorage({ kind: 'postgres', url: URL_, poolSize: 8 });
  await admin((c) => c.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY`), URL_);
  return s;
});

const T = Date.now();
const DAY = 86_400_000;
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
const grant = (id: string, over: Partial<GrantRecord> = {}): GrantRecord => ({
  id,
  clientId: 'c',
  subject: 'u',
  scopes: ['read'],
  resource: 'r',
  authTime: T,
  createdAt: T,
  expiresAt: T + DAY,
  ...over,
});

describe('PostgreSQL database', () => {
  test('data survives close and reopen', async () => {
    const url = await createDatabase();
    const a = await PostgresStorage.open(url);
    await a.clients.create({
      clientId: 'c1',
      source: 'static',
      redirectUris: ['https://app.example/cb', 'it\'s "quoted", {braced} \\ back'],
      grantTypes: ['authorization_code'],
      responseTypes: ['code'],
      tokenEndpointAuthMethod: 'none',
      metadata: { software_id: 'x', ünïcode: '✓', nested: { list: [1, 'two', null] } },
      createdAt: T,
    });
    await a.users.create({
      id: 'u1',
      username: 'alice',
      passwordHash: 'scrypt$h',
      createdAt: T,
      disabled: true,
    });
    await a.consents.put({ userId: 'u1', clientId: 'c1', redirectUri: 'r', scopes: ['read'], grantedAt: T });
    await a.codes.put(code('k1'));
    assert.equal((await a.codes.consume('k1', T)).status, 'ok');
    await a.grants.create(grant('g1'), {
      tokenHash: 'rt1',
      grantId: 'g1',
      createdAt: T,
      expiresAt: T + 3_600_000,
    });
    await a.grants.rotate(
      'rt1',
      { tokenHash: 'rt2', grantId: 'g1', createdAt: T, expiresAt: T + 3_600_000 },
      T + 1,
    );
    await a.revocations.revoke('jti-1', T + 60_000);
    await a.keys.put({ kid: 'k', alg: 'HS256', privateJwkEncrypted: 'enc', createdAt: T, status: 'active' });
    await a.audit.append('user.created', { userId: 'u1' }, T);
    await a.close();
    await a.close(); // idempotent

    const b = await PostgresStorage.open(url);
    const c1 = await b.clients.get('c1');
    assert.deepEqual(c1?.redirectUris, ['https://app.example/cb', 'it\'s "quoted", {braced} \\ back']);
    assert.deepEqual(c1?.metadata, { software_id: 'x', ünïcode: '✓', nested: { list: [1, 'two', null] } });
    assert.equal((await b.users.getByUsername('alice'))?.disabled, true);
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

  test('migrations run once and are idempotent on reopen; migrate(url) agrees', async () => {
    const url = await createDatabase();
    const a = await PostgresStorage.open(url);
    assert.deepEqual(a.schema, { from: 0, to: MIGRATIONS.length });
    await a.close();
    const b = await PostgresStorage.open(url);
    assert.deepEqual(b.schema, { from: MIGRATIONS.length, to: MIGRATIONS.length });
    await b.close();
    assert.deepEqual(await migrate(url), { from: MIGRATIONS.length, to: MIGRATIONS.length });
    const versions = await admin(
      (c) => c.query('SELECT version FROM keyhole_schema_migrations ORDER BY version'),
      url,
    );
    assert.deepEqual(
      versions.rows.map((r) => r.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
  });

  test('replicas opening a fresh database together apply each migration once', async () => {
    const url = await createDatabase();
    const opened = await Promise.all(
      Array.from({ length: 4 }, () => PostgresStorage.open(url, { poolSize: 2 })),
    );
    assert.deepEqual(
      opened.map((s) => s.schema.from).sort(),
      [0, MIGRATIONS.length, MIGRATIONS.length, MIGRATIONS.length],
      'one replica migrated, the others found it done',
    );
    await Promise.all(opened.map((s) => s.close()));
    const n = await admin((c) => c.query('SELECT count(*)::int AS n FROM keyhole_schema_migrations'), url);
    assert.equal(n.rows[0].n, MIGRATIONS.length);
  });

  test('migrate(url) on a fresh database; a schema newer than this code is refused', async () => {
    const url = await createDatabase();
    assert.deepEqual(await migrate(url), { from: 0, to: MIGRATIONS.length });
    await admin(
      (c) =>
        c.query('INSERT INTO keyhole_schema_migrations (version, applied_at) VALUES ($1, $2)', [
          MIGRATIONS.length + 1,
          T,
        ]),
      url,
    );
    await assert.rejects(PostgresStorage.open(url), /newer than this Keyhole supports/);
    await assert.rejects(migrate(url), /newer than this Keyhole supports/);
  });

  test('an unreachable server is a clear error naming the host, never the password', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const err = await PostgresStorage.open('postgres://keyhole:s3cret-pw@127.0.0.1:1/keyhole').then(
      () => assert.fail('opened'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PostgresUnavailableError);
    assert.match(err.message, /PostgreSQL at 127\.0\.0\.1:1\/keyhole is unreachable/);
    assert.doesNotMatch(err.message, /s3cret/);
    assert.doesNotMatch(String(err.stack), /s3cret/);
    await assert.rejects(
      openStorage({ kind: 'postgres', url: 'postgres://keyhole:s3cret-pw@127.0.0.1:1/keyhole' }),
      PostgresUnavailableError,
    );
    await assert.rejects(
      PostgresStorage.open('not a url s3cret-pw'),
      (e: Error) => /invalid PostgreSQL URL/.test(e.message) && !/s3cret/.test(e.message),
    );
  });

  test('connections the server terminates are dropped; the pool recovers without reopening', async () => {
    const url = await createDatabase();
    const s = await PostgresStorage.open(url, { poolSize: 2 });
    await s.ping();
    // Terminate this pool's connections from the server side, as a restart would.
    const name = new URL(url).pathname.slice(1);
    await admin((c) =>
      c.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      ),
    );
    // The dead connections are dropped; the pool reconnects and the storage answers again.
    let answered = false;
    for (let i = 0; i < 5 && !answered; i++) {
      try {
        await s.ping();
        answered = true;
      } catch (err) {
        assert.ok(err instanceof PostgresUnavailableError, `unexpected ${String(err)}`);
      }
    }
    assert.ok(answered, 'the pool recovers without reopening');
    await s.close();
    await assert.rejects(s.ping());
  });
});

describe('two pools on one database (two replicas)', () => {
  async function pair(): Promise<[Storage, Storage]> {
    const url = await createDatabase();
    return [
      await PostgresStorage.open(url, { poolSize: 10 }),
      await PostgresStorage.open(url, { poolSize: 10 }),
    ];
  }

  test('racing to consume one code: exactly one ok, the rest replayed', async () => {
    const [a, b] = await pair();
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

  test('racing over many codes: each code ok exactly once', async () => {
    const [a, b] = await pair();
    const hashes = Array.from({ length: 100 }, (_, i) => `c-${i}`);
    for (const h of hashes) await a.codes.put(code(h));
    // Each side walks the list from a different end, so collisions happen all along it.
    const [ra, rb] = await Promise.all([
      Promise.all(hashes.map((h) => a.codes.consume(h, T + 1))),
      Promise.all([...hashes].reverse().map((h) => b.codes.consume(h, T + 1))),
    ]);
    rb.reverse();
    for (let i = 0; i < hashes.length; i++) {
      const statuses = [ra[i]!.status, rb[i]!.status].sort();
      assert.deepEqual(statuses, ['ok', 'replayed'], hashes[i]);
    }
    await a.close();
    await b.close();
  });

  test('racing to rotate one refresh token: exactly one ok, only its successor stored', async () => {
    const [a, b] = await pair();
    await a.grants.create(grant('g'), {
      tokenHash: 'rt',
      grantId: 'g',
      createdAt: T,
      expiresAt: T + 3_600_000,
    });
    const next = (i: number) => ({
      tokenHash: `next-${i}`,
      grantId: 'g',
      createdAt: T,
      expiresAt: T + 3_600_000,
    });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).grants.rotate('rt', next(i), T + 1)),
    );
    const winners = results.flatMap((r, i) => (r.status === 'ok' ? [i] : []));
    assert.equal(winners.length, 1);
    assert.equal(results.filter((r) => r.status === 'reused').length, 49);
    for (let i = 0; i < 50; i++) {
      const stored = await b.grants.findRefresh(`next-${i}`, T + 1);
      assert.equal(stored !== undefined, i === winners[0], `next-${i} stored only if it won`);
    }
    assert.equal((await a.grants.findRefresh('rt', T + 1))?.token.rotatedAt, T + 1);
    await a.close();
    await b.close();
  });

  test('revoke racing rotate: the grant ends revoked and a successor, if any, is revoked with it', async () => {
    const [a, b] = await pair();
    await a.grants.create(grant('g'), {
      tokenHash: 'rt',
      grantId: 'g',
      createdAt: T,
      expiresAt: T + 3_600_000,
    });
    const [rotated, revoked] = await Promise.all([
      a.grants.rotate(
        'rt',
        { tokenHash: 'rt2', grantId: 'g', createdAt: T, expiresAt: T + 3_600_000 },
        T + 1,
      ),
      b.grants.revoke('g', 'user', T + 1),
    ]);
    assert.equal(revoked, true);
    assert.ok(['ok', 'revoked'].includes(rotated.status), rotated.status);
    assert.equal((await a.grants.get('g', T + 2))?.revokedAt, T + 1);
    const again = await b.grants.rotate(
      rotated.status === 'ok' ? 'rt2' : 'rt',
      { tokenHash: 'rt3', grantId: 'g', createdAt: T, expiresAt: T + 3_600_000 },
      T + 2,
    );
    assert.equal(again.status, 'revoked');
    await a.close();
    await b.close();
  });
});

describe('purge of expired rows', () => {
  test('is bounded per run and removes only expired rows of every expiring table', async () => {
    const url = await createDatabase();
    const s = await PostgresStorage.open(url, { purge: { batch: 100, intervalMs: 60_000 } });
    for (let i = 0; i < 250; i++) {
      await s.codes.put({ ...code(`old-${i}`), expiresAt: T + 10 });
      await s.revocations.revoke(`jti-${i}`, T + 10);
    }
    await s.codes.put(code('live'));
    await s.revocations.revoke('live', T + 60_000);
    await s.grants.create(grant('g-old', { expiresAt: T + 10 }), {
      tokenHash: 'rt-old',
      grantId: 'g-old',
      createdAt: T,
      expiresAt: T + 10,
    });
    await s.grants.create(grant('g-live'), {
      tokenHash: 'rt-short',
      grantId: 'g-live',
      createdAt: T,
      expiresAt: T + 10,
    });
    await s.purger.settled(); // the purge grants.create started beside itself (nothing expired at T)
    assert.deepEqual(await s.purger.run(T + 20), [100, 2, 1, 100, 0]);
    assert.deepEqual(await s.purger.run(T + 20), [100, 0, 0, 100, 0]);
    assert.deepEqual(await s.purger.run(T + 20), [50, 0, 0, 50, 0]);
    assert.deepEqual(await s.purger.run(T + 20), [0, 0, 0, 0, 0]);
    const counts = await admin(async (c) => {
      const n: number[] = [];
      for (const t of ['authorization_codes', 'refresh_tokens', 'grants', 'revocations']) {
        n.push((await c.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n);
      }
      return n;
    }, url);
    assert.deepEqual(counts, [1, 0, 1, 1], 'the expired grant took its refresh token with it');
    assert.equal((await s.codes.consume('live', T + 20)).status, 'ok');
    assert.equal(await s.revocations.isRevoked('live', T + 20), true);
    await s.close();
  });
});

describe('query plans', () => {
  test('every lookup uses an index', async () => {
    const url = await createDatabase();
    await migrate(url);
    await admin(async (c) => {
      // Empty tables would make a sequential scan the cheapest plan; forbid it to see what indexes exist.
      await c.query('SET enable_seqscan = off');
      const lookups = [
        "SELECT * FROM clients WHERE client_id = 'x'",
        "SELECT * FROM users WHERE id = 'x'",
        "SELECT * FROM users WHERE username = 'x'",
        "SELECT * FROM consents WHERE user_id = 'u' AND client_id = 'c' AND redirect_uri = 'r'",
        "DELETE FROM consents WHERE client_id = 'c'",
        "DELETE FROM consents WHERE user_id = 'u'",
        "UPDATE authorization_codes SET consumed_at = 1 WHERE code_hash = 'h' AND consumed_at IS NULL",
        "SELECT * FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id WHERE t.token_hash = 'h'",
        "SELECT * FROM grants WHERE subject = 's' AND expires_at > 0 ORDER BY created_at, id",
        "SELECT 1 FROM revocations WHERE id = 'x' AND expires_at > 0",
        'SELECT id FROM revocations WHERE expires_at > 0',
        ...['authorization_codes', 'refresh_tokens', 'grants', 'revocations'].map(
          (t) => `SELECT * FROM ${t} WHERE expires_at <= 0 LIMIT 10`,
        ),
        "SELECT * FROM refresh_tokens WHERE grant_id = 'g'",
        'SELECT * FROM audit_log WHERE id > 5 ORDER BY id LIMIT 10',
      ];
      for (const sql of lookups) {
        const plan = (await c.query(`EXPLAIN ${sql}`)).rows.map((r) => String(r['QUERY PLAN'])).join('\n');
        assert.doesNotMatch(plan, /Seq Scan/, `${sql}:\n${plan}`);
      }
      // The audit retention purge, as the purger binds it: oldest first along the time index, no sort.
      const purge = (await c.query(`EXPLAIN ${DELETE_AUDIT.text}`, [0, 10])).rows
        .map((r) => String(r['QUERY PLAN']))
        .join('\n');
      assert.match(purge, /Index (Only )?Scan using audit_log_by_time/, purge);
      assert.doesNotMatch(purge, /Seq Scan|Sort/, purge);
    }, url);
  });

  test('the expired-row purges find a batch by expiry and delete it by primary key, on large tables too', async () => {
    const url = await createDatabase();
    await migrate(url);
    await admin(async (c) => {
      // 20,000 rows each, analysed: with `id IN (SELECT …)` the planner hash-joins the batch against a
      // sequential scan of the whole table, every purge.
      const n = 'FROM generate_series(1, 20000) g';
      await c.query(`INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scopes,
        resource, code_challenge, code_challenge_method, auth_time, expires_at)
        SELECT 'c' || g, 'c', 'u', 'r', '{}', 'r', 'x', 'S256', g, g ${n}`);
      await c.query(`INSERT INTO grants (id, client_id, subject, scopes, resource, auth_time, created_at, expires_at)
        SELECT 'g' || g, 'c', 's', '{}', 'r', g, g, g ${n}`);
      await c.query(`INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at)
        SELECT 't' || g, 'g' || g, g, g ${n}`);
      await c.query(`INSERT INTO revocations (id, expires_at) SELECT 'r' || g, g ${n}`);
      await c.query('ANALYZE');
      assert.equal(DELETES.length, 4);
      for (const stmt of DELETES) {
        const plan = (await c.query(`EXPLAIN ${stmt.text}`, [100, 500])).rows
          .map((r) => String(r['QUERY PLAN']))
          .join('\n');
        assert.doesNotMatch(plan, /Seq Scan/, `${stmt.text}:\n${plan}`);
        assert.match(plan, /_by_expiry/, plan);
        assert.match(plan, /_pkey/, plan);
      }
    }, url);
  });
});
