import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { AuditRecord, AuditStore } from '../types.ts';
import type { SqlitePurger } from './purge.ts';
import { int, json, type Row, text } from './row.ts';

// A rowid search per id of the JSON array. (One writer: ids commit in order here, so a follower finds
// no gaps to ask for; this serves it all the same.)
export const BY_IDS_SQL =
  'SELECT * FROM audit_log WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id';

export class SqliteAuditStore implements AuditStore {
  readonly #append: StatementSync;
  readonly #newest: StatementSync;
  readonly #after: StatementSync;
  readonly #byIds: StatementSync;
  readonly #purger: SqlitePurger;

  /** Appends are writes: they run the purger too, which removes records past the audit retention. */
  constructor(db: DatabaseSync, purger: SqlitePurger) {
    this.#purger = purger;
    // AUTOINCREMENT: ids only grow, even after rows are deleted, so `afterId` paging never skips.
    this.#append = db.prepare('INSERT INTO audit_log (time, type, data) VALUES (?, ?, ?)');
    this.#newest = db.prepare(
      'SELECT * FROM (SELECT * FROM audit_log ORDER BY id DESC LIMIT :limit) ORDER BY id',
    );
    this.#after = db.prepare('SELECT * FROM audit_log WHERE id > :afterId ORDER BY id LIMIT :limit');
    this.#byIds = db.prepare(BY_IDS_SQL);
  }

  async append(type: string, data: Record<string, unknown>, time: number): Promise<void> {
    this.#append.run(time, type, JSON.stringify(data));
    this.#purger.maybe(time);
  }

  async tail(limit: number, afterId?: number): Promise<AuditRecord[]> {
    if (limit <= 0) return [];
    const rows = afterId === undefined ? this.#newest.all({ limit }) : this.#after.all({ afterId, limit });
    return rows.map(toAudit);
  }

  async find(ids: readonly number[]): Promise<AuditRecord[]> {
    if (ids.length === 0) return [];
    return this.#byIds.all({ ids: JSON.stringify(ids) }).map(toAudit);
  }
}

function toAudit(row: Row): AuditRecord {
  return {
    id: int(row, 'id'),
    time: int(row, 'time'),
    type: text(row, 'type'),
    data: json<Record<string, unknown>>(row, 'data'),
  };
}
