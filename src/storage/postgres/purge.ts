import type { PurgeSchedule } from '../purge.ts';
import { type Database, statement } from './db.ts';

// Each DELETE walks the table's expires_at index for at most `batch` rows, then deletes them by
// primary key (`= ANY(ARRAY(…))`, as for the audit log below: with `IN (…)` the planner may hash-join
// against a full scan of the table). SKIP LOCKED: replicas purging at the same moment take different
// rows instead of queueing behind each other.
const batched = (table: string, key: string) =>
  statement(
    `purge_${table}`,
    `DELETE FROM ${table} WHERE ${key} = ANY(ARRAY(
       SELECT ${key} FROM ${table} WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
  );

/** The expired-row purges, in the order `run` reports them (exported for the query-plan test). */
export const DELETES = [
  batched('authorization_codes', 'code_hash'),
  batched('refresh_tokens', 'token_hash'),
  batched('grants', 'id'), // their refresh tokens go by ON DELETE CASCADE
  batched('revocations', 'id'),
];

// Audit records older than the retention, oldest first along audit_log_by_time (so a trail cut short by
// the batch size never has a hole). `= ANY(ARRAY(…))` rather than `IN (…)`: the batch's ids become one
// array and the DELETE finds them by primary key, whatever the table's size (with IN the planner may
// hash-join against a full scan of the table). Under READ COMMITTED a row another replica locked is
// skipped and one it deleted meanwhile is neither locked nor deleted again; rowCount counts only rows
// this statement removed.
export const DELETE_AUDIT = statement(
  'purge_audit_log',
  `DELETE FROM audit_log WHERE id = ANY(ARRAY(
     SELECT id FROM audit_log WHERE time < $1 ORDER BY time LIMIT $2 FOR UPDATE SKIP LOCKED))`,
);

/**
 * Deletes expired rows of the tables whose records expire, and with an audit retention the audit
 * records older than it, at most once per interval. Expired rows already read as absent, so purging
 * only reclaims space and never changes an answer; that is why it runs beside the operation that
 * triggered it instead of in front of it.
 */
export class PostgresPurger {
  readonly #db: Database;
  readonly #schedule: PurgeSchedule;
  #running: Promise<void> | undefined;

  constructor(db: Database, schedule: PurgeSchedule) {
    this.#db = db;
    this.#schedule = schedule;
  }

  /** Starts a purge at `now` (the caller's clock) if one is due and none is running. */
  maybe(now: number): void {
    if (this.#running || !this.#schedule.due(now)) return;
    this.#running = this.run(now).then(
      () => {},
      // Best effort (e.g. the server is briefly unreachable): the caller's operation must not fail
      // for it, and the purge stays due, so the next write tries again.
      () => {},
    );
    void this.#running.finally(() => {
      this.#running = undefined;
    });
  }

  /**
   * Purges now; returns how many rows of each table went (codes, refresh tokens, grants, revocations,
   * audit — audit always 0 without a retention).
   */
  async run(now: number): Promise<number[]> {
    const batch = this.#schedule.batch;
    const removed: number[] = [];
    for (const stmt of DELETES) removed.push((await this.#db.run(stmt, [now, batch])).rowCount);
    const cutoff = this.#schedule.auditCutoff(now);
    removed.push(cutoff === undefined ? 0 : (await this.#db.run(DELETE_AUDIT, [cutoff, batch])).rowCount);
    // A full batch means more may be waiting: stay due so the next write continues.
    this.#schedule.finish(now, removed);
    return removed;
  }

  /** Resolves when the background purge (if any) has finished. */
  async settled(): Promise<void> {
    await this.#running;
  }
}
