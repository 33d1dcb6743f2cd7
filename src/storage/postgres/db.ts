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
  /** How long acquiring a connection may take before failing, ms (default 10 000). */
  connectTimeoutMs?: number;
}

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

  constructor(url: string, options: PoolOptions = {}) {
    this.target = describeTarget(url);
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'keyhole',
      types,
    });
    // An idle connection dropped by the server (restart, failover) is removed from the pool by pg;
    // without a listener the 'error' event would crash the process. The next query reconnects.
    this.pool.on('error', () => {});
  }

  /** One statement on any pooled connection (autocommit). */
  readonly run: Run = async (stmt, values) => {
    try {
      const r = await this.pool.query({ name: stmt.name, text: stmt.text, values });
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw this.#translate(err);
    }
  };

  /**
   * `fn` inside BEGIN … COMMIT on one connection (READ COMMITTED); any throw rolls back. A
   * connection whose rollback failed is discarded, not returned to the pool.
   */
  async transaction<T>(fn: (run: Run) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.#translate(err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(async (stmt, values) => {
        const r = await client.query({ name: stmt.name, text: stmt.text, values });
        return { rows: r.rows, rowCount: r.rowCount ?? 0 };
      });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error;
      }
      throw this.#translate(err);
    } finally {
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }

  #translate(err: unknown): unknown {
    if (err instanceof PostgresUnavailableError || err instanceof StorageConflictError) return err;
    return isConnectionError(err) ? new PostgresUnavailableError(this.target, { cause: err }) : err;
  }
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
