// The connection pool and the three ways the stores talk to it: one statement, one transaction, and
// the conflict mapping. Every data statement is a named prepared statement with bound parameters
// (prepared once per pooled connection by pg); only the constant migration DDL is sent as simple text.

import pg from 'pg';
import { StorageConflictError } from '../errors.ts';
import { describeTarget, isConnectionError, PostgresUnavailableError } from './errors.ts';

export type Row = Record<string, unknown>;

/** A named statement: the name identifies the prepared statement on each connection. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

export function statement(name: string, text: string): Statement {
  return { name: `keyhole_${name}`, text };
}

export interface Result {
  rows: Row[];
  rowCount: number;
}

/** Runs one statement; the same shape for the pool and for a transaction's client. */
export type Run = (stmt: Statement, values: unknown[]) => Promise<Result>;

export interface PoolOptions {
  /** Most connections (default 10). */
  poolSize?: number;
  /**
   * How long acquiring a connection may take before failing, ms (default 2000): with the server down a
   * request is answered 503 within this, instead of waiting for TCP's own timeout.
   */
  connectTimeoutMs?: number;
  /**
   * Server-side `statement_timeout`, ms (default 5000): a statement running longer is cancelled by
   * PostgreSQL (SQLSTATE 57014, an outage for the caller). Migrations lift it for their transaction.
   */
  statementTimeoutMs?: number;
  /**
   * How long the client waits for any answer to a statement, ms (default statementTimeoutMs + 1000):
   * bounds a server that accepted the connection but went silent (frozen, partitioned), which
   * `statement_timeout` cannot. The connection is then discarded.
   */
  queryTimeoutMs?: number;
  /** Called once when the server becomes unreachable and once when it answers again (logs). */
  onAvailability?: (available: boolean, err?: Error) => void;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;

const INT8_OID = 20;

// BIGINT (epoch ms, audit ids) as a JS number: every value this schema stores is a safe integer,
// and one that is not means a foreign or corrupt database — fail loudly rather than round.
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError('storage: BIGINT value out of the safe integer range');
  return n;
}

// Per pool, not pg.types globally: other code in the process keeps pg's defaults.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export class Database {
  readonly pool: pg.Pool;
  /** `host:port/database`, for messages (never credentials). */
  readonly target: string;
  readonly #queryTimeoutMs: number;
  readonly #onAvailability: ((available: boolean, err?: Error) => void) | undefined;
  /** What every connection is opened with, pooled or not (`client()`). */
  readonly #connection: pg.ClientConfig;
  #down = false;

  constructor(url: string, options: PoolOptions = {}) {
    this.target = describeTarget(url);
    const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    this.#queryTimeoutMs = options.queryTimeoutMs ?? statementTimeoutMs + 1000;
    this.#onAvailability = options.onAvailability;
    this.#connection = {
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      statement_timeout: statementTimeoutMs,
      // A peer that vanished without a FIN (host down, network cut) is noticed by the kernel.
      keepAlive: true,
      application_name: 'keyhole',
      types,
    };
    this.pool = new pg.Pool({ ...this.#connection, max: options.poolSize ?? 10 });
    // An idle connection dropped by the server (restart, failover) is removed from the pool by pg;
    // without a listener the 'error' event would crash the process. The next query reconnects: the
    // pool needs no reopening when the server returns.
    this.pool.on('error', (err) => this.failed(err));
  }

  /** One statement on any pooled connection (autocommit). */
  readonly run: Run = async (stmt, values) => {
    try {
      const r = await this.pool.query(
        timed({ name: stmt.name, text: stmt.text, values }, this.#queryTimeoutMs),
      );
      this.answered();
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw this.#translate(err);
    }
  };

  /**
   * `fn` inside BEGIN … COMMIT on one connection (READ COMMITTED); any throw rolls back. A
   * connection whose rollback failed, or that failed while checked out, is discarded, not returned
   * to the pool.
   */
  async transaction<T>(fn: (run: Run) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.#translate(err);
    }
    let broken: Error | undefined;
    // pg removes its idle-error listener while a client is checked out: a connection lost between two
    // statements would otherwise be an unhandled 'error' event, and a crash.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    const query = async (text: string, name?: string, values?: unknown[]) =>
      client.query(
        timed({ text, ...(name ? { name } : {}), ...(values ? { values } : {}) }, this.#queryTimeoutMs),
      );
    try {
      await query('BEGIN');
      const result = await fn(async (stmt, values) => {
        const r = await query(stmt.text, stmt.name, values);
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      });
      await query('COMMIT');
      this.answered();
      return result;
    } catch (err) {
      if (broken === undefined && isConnectionError(err)) {
        // A lost or silent connection cannot take a ROLLBACK (it would only wait out another timeout);
        // discarding it ends the transaction on the server all the same.
        broken = err as Error;
      } else if (broken === undefined) {
        try {
          await query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
      }
      throw this.#translate(err);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }

  /**
   * A connection outside the pool, with the pool's settings (timeouts, keep-alive, type parsers) and
   * `application_name` as given: for a session of its own (the change feed's LISTEN). Not connected
   * yet; the caller owns it, and must listen for its 'error' events.
   */
  client(applicationName: string): pg.Client {
    return new pg.Client({ ...this.#connection, application_name: applicationName });
  }

  /** The client-side read timeout of one statement, ms (PoolOptions.queryTimeoutMs). */
  get queryTimeoutMs(): number {
    return this.#queryTimeoutMs;
  }

  #translate(err: unknown): unknown {
    if (err instanceof PostgresUnavailableError || err instanceof StorageConflictError) return err;
    if (!isConnectionError(err)) return err;
    this.failed(err as Error);
    return new PostgresUnavailableError(this.target, { cause: err });
  }

  /**
   * The server is unreachable: told to `onAvailability` on the edge only, once per outage however many
   * requests (or connections outside the pool, such as the change feed's) fail in it.
   */
  failed(err: Error): void {
    if (this.#down) return;
    this.#down = true;
    this.#onAvailability?.(
      false,
      err instanceof PostgresUnavailableError
        ? err
        : new PostgresUnavailableError(this.target, { cause: err }),
    );
  }

  /** The server answered: the end of an outage reported by failed(), if one was. */
  answered(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#onAvailability?.(true);
  }
}

/**
 * The query with a client-side read timeout. pg honours a per-query `query_timeout` (lib/client.js)
 * though @types/pg does not declare it; per query rather than per pool, so that migrations, which may
 * legitimately wait on their lock, are not bound by it.
 */
function timed(config: pg.QueryConfig, ms: number): pg.QueryConfig {
  return Object.assign(config, { query_timeout: ms });
}

const UNIQUE_VIOLATION = '23505';

/** Runs an insert, turning a key collision into StorageConflictError. */
export async function insertOrConflict(kind: string, insert: () => Promise<unknown>): Promise<void> {
  try {
    await insert();
  } catch (err) {
    if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) {
      throw new StorageConflictError(kind, { cause: err });
    }
    throw err;
  }
}
