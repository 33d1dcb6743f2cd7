import type { DatabaseSync } from 'node:sqlite';
import { immediate } from './tx.ts';

/**
 * Brings the schema to the newest version: every migration not yet recorded in `schema_migrations`
 * runs, in order, inside one BEGIN IMMEDIATE transaction, so a crash or a second process opening
 * the same file at the same moment never sees half a schema. Reopening is a no-op.
 * Returns the versions before and after.
 */
export function migrate(
  db: DatabaseSync,
  migrations: readonly string[],
  now: number,
): { from: number; to: number } {
  return immediate(db, () => {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT',
    );
    const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get();
    const from = typeof row?.v === 'number' ? row.v : 0;
    if (from > migrations.length) {
      // Opening a newer schema with older code could corrupt it: refuse.
      throw new Error(
        `database schema version ${from} is newer than this Keyhole supports (${migrations.length})`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    for (let version = from + 1; version <= migrations.length; version++) {
      db.exec(migrations[version - 1]!);
      record.run(version, now);
    }
    return { from, to: migrations.length };
  });
}
