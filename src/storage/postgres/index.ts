// PostgreSQL Storage on `pg`: for several Keyhole replicas sharing one database. Same tables, rules
// and guarantees as SQLite (docs/storage.md); the one-time operations rely on PostgreSQL row locks
// (conditional UPDATE under READ COMMITTED), so they hold across connections, pools and replicas.
// Opening migrates the schema (migrate.ts) before anything else touches it.

import { type PurgeOptions, PurgeSchedule } from '../purge.ts';
import type { Storage } from '../types.ts';
import { PostgresAuditStore } from './audit.ts';
import { PostgresClientStore } from './clients.ts';
import { PostgresCodeStore } from './codes.ts';
import { PostgresConsentStore } from './consents.ts';
import { Database, type PoolOptions, statement } from './db.ts';
import { PostgresGrantStore } from './grants.ts';
import { PostgresSigningKeyStore } from './keys.ts';
import { applyMigrations, type SchemaVersions } from './migrate.ts';
import { PostgresPurger } from './purge.ts';
import { PostgresRevocationStore } from './revocations.ts';
import { PostgresUserStore } from './users.ts';

export { PostgresUnavailableError } from './errors.ts';
export { migrate } from './migrate.ts';

export interface PostgresStorageOptions extends PoolOptions {
  /** Clock for reads that take no `now` (default Date.now). */
  now?: () => number;
  purge?: PurgeOptions;
}

const PING = statement('ping', 'SELECT 1');

export class PostgresStorage implements Storage {
  readonly kind = 'postgres';
  readonly clients: PostgresClientStore;
  readonly users: PostgresUserStore;
  readonly consents: PostgresConsentStore;
  readonly codes: PostgresCodeStore;
  readonly grants: PostgresGrantStore;
  readonly revocations: PostgresRevocationStore;
  readonly keys: PostgresSigningKeyStore;
  readonly audit: PostgresAuditStore;
  /** Deletes expired rows now (also runs by itself beside writes, at most once per purge interval). */
  readonly purger: PostgresPurger;
  /** Schema versions before and after this open's migrations. */
  readonly schema: SchemaVersions;
  readonly #db: Database;
  #closed: Promise<void> | undefined;

  private constructor(db: Database, schema: SchemaVersions, options: PostgresStorageOptions) {
    const clock = options.now ?? Date.now;
    this.#db = db;
    this.schema = schema;
    this.purger = new PostgresPurger(db, new PurgeSchedule(options.purge));
    this.clients = new PostgresClientStore(db);
    this.users = new PostgresUserStore(db);
    this.consents = new PostgresConsentStore(db);
    this.codes = new PostgresCodeStore(db, this.purger);
    this.grants = new PostgresGrantStore(db, this.purger, clock);
    this.revocations = new PostgresRevocationStore(db, this.purger);
    this.keys = new PostgresSigningKeyStore(db);
    this.audit = new PostgresAuditStore(db);
  }

  /**
   * Connects, migrates, and returns the storage. Rejects with an error naming the server (never the
   * credentials) when it cannot be reached, and refuses a schema newer than this code.
   */
  static async open(url: string, options: PostgresStorageOptions = {}): Promise<PostgresStorage> {
    const db = new Database(url, options);
    try {
      const schema = await applyMigrations(db, (options.now ?? Date.now)());
      return new PostgresStorage(db, schema, options);
    } catch (err) {
      await db.end().catch(() => {});
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.#db.run(PING, []);
  }

  /** Waits for a running purge, then ends the pool. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.purger.settled().then(() => this.#db.end());
    return this.#closed;
  }
}

export function openPostgresStorage(url: string, options?: PostgresStorageOptions): Promise<PostgresStorage> {
  return PostgresStorage.open(url, options);
}
