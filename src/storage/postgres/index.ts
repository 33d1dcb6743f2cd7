// PostgreSQL Storage on `pg`: for several Keyhole replicas sharing one database. Same tables, rules
// and guarantees as SQLite (docs/storage.md); the one-time operations rely on PostgreSQL row locks
// (conditional UPDATE under READ COMMITTED), so they hold across connections, pools and replicas.
// Opening migrates the schema (migrate.ts) before anything else touches it. With `changeFeed`, it also
// carries the cross-replica change feed on LISTEN/NOTIFY (feed.ts), for replicas without Redis.

import { type PurgeOptions, PurgeSchedule } from '../purge.ts';
import type { Storage } from '../types.ts';
import { PostgresAuditStore } from './audit.ts';
import { PostgresClientStore } from './clients.ts';
import { PostgresCodeStore } from './codes.ts';
import { PostgresConsentStore } from './consents.ts';
import { Database, type PoolOptions, statement } from './db.ts';
import { changeChannel, PostgresChangeFeed } from './feed.ts';
import { PostgresGrantStore } from './grants.ts';
import { PostgresSigningKeyStore } from './keys.ts';
import { applyMigrations, type SchemaVersions } from './migrate.ts';
import { PostgresPurger } from './purge.ts';
import { PostgresRevocationStore } from './revocations.ts';
import { PostgresUserStore } from './users.ts';

export { PostgresUnavailableError } from './errors.ts';
export { PostgresChangeFeed } from './feed.ts';
export { migrate } from './migrate.ts';

export interface PostgresStorageOptions extends PoolOptions {
  /** Clock for reads that take no `now` (default Date.now). */
  now?: () => number;
  purge?: PurgeOptions;
  /**
   * Carry the change feed (`changes`, feed.ts): revocations are announced with NOTIFY by the statement
   * that writes them, and the first subscriber opens one more connection, outside the pool, to LISTEN.
   * For replicas sharing only PostgreSQL. Default off: with Redis composed over this storage, Redis
   * writes the revocations' copy and announces them on its own feed, and they must not be announced twice.
   */
  changeFeed?: boolean;
}

const PING = statement('ping', 'SELECT 1');
const CURRENT_SCHEMA = statement('current_schema', 'SELECT current_schema() AS schema');

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
  /** With the `changeFeed` option: announcements of revocations and key changes (LISTEN/NOTIFY). */
  readonly changes: PostgresChangeFeed | undefined;
  /** Deletes expired rows now (also runs by itself beside writes, at most once per purge interval). */
  readonly purger: PostgresPurger;
  /** Schema versions before and after this open's migrations. */
  readonly schema: SchemaVersions;
  readonly #db: Database;
  #closed: Promise<void> | undefined;

  private constructor(
    db: Database,
    schema: SchemaVersions,
    options: PostgresStorageOptions,
    channel: string | undefined,
  ) {
    const clock = options.now ?? Date.now;
    this.#db = db;
    this.schema = schema;
    this.purger = new PostgresPurger(db, new PurgeSchedule(options.purge));
    this.clients = new PostgresClientStore(db);
    this.users = new PostgresUserStore(db);
    this.consents = new PostgresConsentStore(db);
    this.codes = new PostgresCodeStore(db, this.purger);
    this.grants = new PostgresGrantStore(db, this.purger, clock);
    this.revocations = new PostgresRevocationStore(db, this.purger, channel);
    this.changes = channel === undefined ? undefined : new PostgresChangeFeed(db, { channel });
    this.keys = new PostgresSigningKeyStore(db);
    this.audit = new PostgresAuditStore(db, this.purger);
  }

  /**
   * Connects, migrates, and returns the storage. Rejects with an error naming the server (never the
   * credentials) when it cannot be reached, and refuses a schema newer than this code.
   */
  static async open(url: string, options: PostgresStorageOptions = {}): Promise<PostgresStorage> {
    const db = new Database(url, options);
    try {
      const schema = await applyMigrations(db, (options.now ?? Date.now)());
      let channel: string | undefined;
      if (options.changeFeed) {
        // NOTIFY channels are per database, not per schema: one per schema Keyhole runs in (feed.ts).
        const { rows } = await db.run(CURRENT_SCHEMA, []);
        channel = changeChannel(rows[0]?.schema as string | null | undefined);
      }
      return new PostgresStorage(db, schema, options, channel);
    } catch (err) {
      await db.end().catch(() => {});
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.#db.run(PING, []);
  }

  /** Ends the change feed's connection (bounded), waits for a running purge, then ends the pool. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= Promise.all([this.changes?.close(), this.purger.settled()]).then(() => this.#db.end());
    return this.#closed;
  }
}

export function openPostgresStorage(url: string, options?: PostgresStorageOptions): Promise<PostgresStorage> {
  return PostgresStorage.open(url, options);
}
