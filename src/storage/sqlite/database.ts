import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export interface DatabaseOptions {
  /** How long a statement waits for another connection's lock, ms. */
  busyTimeoutMs: number;
}

/**
 * Opens (creating if needed) the database file. A new file is created 0600 in a 0700 directory
 * before SQLite touches it: it holds password and secret hashes and encrypted signing keys, and
 * SQLite gives its -wal and -shm files the main file's permissions.
 */
export function openDatabase(path: string, options: DatabaseOptions): DatabaseSync {
  if (path !== ':memory:') createPrivateFile(path);
  const db = new DatabaseSync(path, {
    timeout: options.busyTimeoutMs,
    enableForeignKeyConstraints: true,
  });
  try {
    // busy_timeout first: the pragmas below may need a lock another process holds.
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`);
    // WAL: readers never block the writer and vice versa; the setting persists in the file.
    // (':memory:' answers 'memory', which is fine.)
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA foreign_keys = ON');
    // Not 'NORMAL': a revocation or a rotation acknowledged to a client must survive a power loss.
    db.exec('PRAGMA synchronous = FULL');
    // Schema objects never run functions with side effects, even if the file was tampered with.
    db.exec('PRAGMA trusted_schema = OFF');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function createPrivateFile(path: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, 'wx', 0o600)); // an empty file is a valid, empty SQLite database
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
