import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { PurgeSchedule } from '../purge.ts';
import { immediate } from './tx.ts';

/**
 * Audit records older than the retention, oldest first along audit_log_by_time, so a trail cut short by
 * the batch size never has a hole: what remains is always everything from some moment on.
 */
export const PURGE_AUDIT_SQL =
  'DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < :cutoff ORDER BY time LIMIT :batch)';

/**
 * Deletes expired rows of the tables whose records expire, at most `batch` per table per run (each
 * DELETE walks the table's expires_at index), at most once per interval. Expired rows already read as
 * absent, so purging only reclaims space; it never changes an answer. Grants take their refresh tokens
 * with them (ON DELETE CASCADE). With an audit retention, audit records older than it go too, oldest
 * first along the audit_log_by_time index, in the same bounded batches.
 */
export class SqlitePurger {
  readonly #db: DatabaseSync;
  readonly #schedule: PurgeSchedule;
  readonly #deletes: StatementSync[];
  readonly #deleteAudit: StatementSync;

  constructor(db: DatabaseSync, schedule: PurgeSchedule) {
    this.#db = db;
    this.#schedule = schedule;
    const batched = (table: string, key: string) =>
      db.prepare(
        `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= :now LIMIT :batch)`,
      );
    this.#deletes = [
      batched('authorization_codes', 'code_hash'),
      batched('refresh_tokens', 'token_hash'),
      batched('grants', 'id'),
      batched('revocations', 'id'),
    ];
    this.#deleteAudit = db.prepare(PURGE_AUDIT_SQL);
  }

  /** Purges if due at `now` (the caller's clock). */
  maybe(now: number): void {
    if (!this.#schedule.due(now)) return;
    try {
      this.run(now);
    } catch {
      // Best effort (e.g. the file stayed locked past busy_timeout): the caller's own operation must
      // not fail for it, and the purge stays due, so the next write tries again.
    }
  }

  /**
   * Purges now; returns how many rows of each table went (codes, refresh tokens, grants, revocations,
   * audit — audit always 0 without a retention).
   */
  run(now: number): number[] {
    const batch = this.#schedule.batch;
    const cutoff = this.#schedule.auditCutoff(now);
    const removed = immediate(this.#db, () => [
      ...this.#deletes.map((stmt) => Number(stmt.run({ now, batch }).changes)),
      cutoff === undefined ? 0 : Number(this.#deleteAudit.run({ cutoff, batch }).changes),
    ]);
    // A full batch means more may be waiting: stay due so the next write continues.
    this.#schedule.finish(now, removed);
    return removed;
  }
}
