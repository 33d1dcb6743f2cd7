// SQLite Storage on node:sqlite (built into Node 24): the default, one file in the data directory.
// Layout and guarantees: docs/storage.md. Statements are prepared once per connection; every call is
// synchronous underneath, so nothing else runs on the connection mid-operation, and the one-time
// operations (code consume, refresh rotation) are atomic across connections and processes too.

import { type PurgeOptions, PurgeSchedule } from '../purge.ts';
import type { Storage } from '../types.ts';
import { SqliteAuditStore } from './audit.ts';
import { SqliteClientStore } from './clients.ts';
import { SqliteCodeStore } from './codes.ts';
import { SqliteConsentStore } from './consents.ts';
import { openDatabase } from './database.ts';
import { SqliteGrantStore } from './grants.ts';
import { SqliteSigningKeyStore } from './keys.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './migrations.ts';
import { SqlitePurger } from './purge.ts';
import { SqliteRevocationStore } from './revocations.ts';
import { SqliteUserStore } from './users.ts';

export interface SqliteStorageOptions {
  /** Clock for reads that take no `now` (default Date.now). */
  now?: () => number;
  purge?: PurgeOptions;
  /** How long a write waits for another connection's lock, ms (default 5000). */
  busyTimeoutMs?: number;
}

export class SqliteStorage implements Storage {
  readonly kind = 'sqlite';
  readonly clients: SqliteClientStore;
  readonly users: SqliteUserStore;
  readonly consents: SqliteConsentStore;
  readonly codes: SqliteCodeStore;
  readonly grants: SqliteGrantStore;
  readonly revocations: SqliteRevocationStore;
  readonly keys: SqliteSigningKeyStore;
  readonly audit: SqliteAuditStore;
  /** Deletes expired rows now (also runs by itself on writes, at most once per purge interval). */
  readonly purger: SqlitePurger;
  /** Schema versions before and after this open's migrations. */
  readonly schema: { from: number; to: number };
  readonly #db: ReturnType<typeof openDatabase>;
  readonly #ping: ReturnType<ReturnType<typeof openDatabase>['prepare']>;

  constructor(path: string, options: SqliteStorageOptions = {}) {
    const clock = options.now ?? Date.now;
    const db = openDatabase(path, { busyTimeoutMs: options.busyTimeoutMs ?? 5000 });
    try {
      this.schema = migrate(db, MIGRATIONS, clock());
      this.purger = new SqlitePurger(db, new PurgeSchedule(options.purge));
      this.clients = new SqliteClientStore(db);
      this.users = new SqliteUserStore(db);
      this.consents = new SqliteConsentStore(db);
      this.codes = new SqliteCodeStore(db, this.purger);
      this.grants = new SqliteGrantStore(db, this.purger, clock);
      this.revocations = new SqliteRevocationStore(db, this.purger);
      this.keys = new SqliteSigningKeyStore(db);
      this.audit = new SqliteAuditStore(db, this.purger);
      this.#ping = db.prepare('SELECT 1');
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
  }

  async ping(): Promise<void> {
    this.#ping.get();
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}

export function openSqliteStorage(path: string, options?: SqliteStorageOptions): SqliteStorage {
  return new SqliteStorage(path, options);
}
