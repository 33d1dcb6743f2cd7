import type { DatabaseSync } from 'node:sqlite';

/**
 * Runs `fn` inside BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock up front, so a
 * read-check-write sequence cannot interleave with another connection's (even in another process);
 * a locked database is waited on for busy_timeout. `fn` must be synchronous: nothing else runs on
 * this connection until it returns.
 */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
