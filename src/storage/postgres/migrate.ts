// Brings a PostgreSQL database to the newest schema. Runs at every open and as `keyhole migrate`.

import type pg from 'pg';
import { Database } from './db.ts';
import { isConnectionError, PostgresUnavailableError } from './errors.ts';
import { MIGRATIONS } from './migrations.ts';

/** Advisory lock key: the bytes of "keyhole". Held for the migration transaction only. */
const MIGRATION_LOCK = '30224863200210021';

export interface SchemaVersions {
  /** Schema version found. */
  from: number;
  /** Schema version after migrating (the newest this code knows). */
  to: number;
}

/**
 * Every migration not yet recorded in `keyhole_schema_migrations` runs, in order, inside ONE
 * transaction that first takes `pg_advisory_xact_lock`: replicas starting together queue on the lock,
 * and the second finds the work done; a failure or crash rolls everything back (PostgreSQL DDL is
 * transactional), so no one ever sees half a schema. A schema newer than this code is refused.
 */
export async function applyMigrations(
  db: Database,
  now: number,
  migrations: readonly string[] = MIGRATIONS,
): Promise<SchemaVersions> {
  let client: pg.PoolClient;
  try {
    client = await db.pool.connect();
  } catch (err) {
    // At open, every connect failure (refused, unknown host, bad password, missing database) is named
    // by server; the cause carries pg's own message, which never includes the password.
    throw isConnectionError(err)
      ? new PostgresUnavailableError(db.target, { cause: err })
      : new Error(`PostgreSQL at ${db.target}: ${(err as Error).message}`, { cause: err });
  }
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    // Waiting for another replica's migrations, and DDL on a large table, may outlast the per-request
    // statement_timeout of the pool (db.ts): lifted for this transaction only.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS keyhole_schema_migrations (
         version INTEGER PRIMARY KEY,
         applied_at BIGINT NOT NULL
       )`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM keyhole_schema_migrations',
    );
    const from = rows[0]?.v ?? 0;
    if (from > migrations.length) {
      // Older code on a newer schema could corrupt it: refuse.
      throw new Error(
        `database schema version ${from} is newer than this Keyhole supports (${migrations.length})`,
      );
    }
    for (let version = from + 1; version <= migrations.length; version++) {
      await client.query(migrations[version - 1]!);
      await client.query('INSERT INTO keyhole_schema_migrations (version, applied_at) VALUES ($1, $2)', [
        version,
        now,
      ]);
    }
    await client.query('COMMIT');
    return { from, to: migrations.length };
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr as Error;
    }
    throw isConnectionError(err) ? new PostgresUnavailableError(db.target, { cause: err }) : err;
  } finally {
    client.release(broken);
  }
}

/** `keyhole migrate`: migrates the database at `url` and closes its connection. */
export async function migrate(url: string, now: number = Date.now()): Promise<SchemaVersions> {
  const db = new Database(url, { poolSize: 1 });
  try {
    return await applyMigrations(db, now);
  } finally {
    await db.end();
  }
}
