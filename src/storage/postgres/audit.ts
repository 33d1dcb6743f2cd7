import type { AuditRecord, AuditStore } from '../types.ts';
import { type Database, type Row, statement } from './db.ts';
import type { PostgresPurger } from './purge.ts';
import { int, object, text } from './row.ts';

// BIGSERIAL: ids only grow, even after rows are deleted. A sequence hands out ids at INSERT, so two
// concurrent appends may commit in the opposite order of their ids: a reader paging with `afterId` at
// that instant passes over the later-committing one, and must ask for it again by id (`find`, used by
// AuditFollower in ../audit-follow.ts). Appends take no lock: they are on the /token path.
export const APPEND = statement(
  'audit_append',
  'INSERT INTO audit_log (time, type, data) VALUES ($1, $2, $3::jsonb)',
);
const NEWEST = statement(
  'audit_newest',
  'SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT $1) newest ORDER BY id',
);
const AFTER = statement('audit_after', 'SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2');
// One primary-key probe per id (audit_log_pkey), whatever the table's size.
export const BY_IDS = statement(
  'audit_by_ids',
  'SELECT * FROM audit_log WHERE id = ANY($1::bigint[]) ORDER BY id',
);

export class PostgresAuditStore implements AuditStore {
  readonly #db: Database;
  readonly #purger: PostgresPurger;

  /** Appends are writes: they start the purger too, which removes records past the audit retention. */
  constructor(db: Database, purger: PostgresPurger) {
    this.#db = db;
    this.#purger = purger;
  }

  async append(type: string, data: Record<string, unknown>, time: number): Promise<void> {
    await this.#db.run(APPEND, [time, type, JSON.stringify(data)]);
    this.#purger.maybe(time);
  }

  async tail(limit: number, afterId?: number): Promise<AuditRecord[]> {
    if (limit <= 0) return [];
    const { rows } =
      afterId === undefined
        ? await this.#db.run(NEWEST, [limit])
        : await this.#db.run(AFTER, [afterId, limit]);
    return rows.map(toAudit);
  }

  async find(ids: readonly number[]): Promise<AuditRecord[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.#db.run(BY_IDS, [ids]);
    return rows.map(toAudit);
  }
}

function toAudit(row: Row): AuditRecord {
  return {
    id: int(row, 'id'),
    time: int(row, 'time'),
    type: text(row, 'type'),
    data: object(row, 'data'),
  };
}
