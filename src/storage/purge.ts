// When to drop expired rows. Purging rides on storage operations that carry the caller's `now` (so it
// follows the same clock as the expiry checks) and runs at most once per interval, each run bounded by
// a batch size. Audit records do not expire: they go only when a retention is set (auditRetentionMs).

export interface PurgeOptions {
  /** Minimum time between purges, ms (default 60 s). */
  intervalMs?: number;
  /** Most rows removed per table per purge (default 500). */
  batch?: number;
  /**
   * Audit records whose `time` is more than this many ms before the purge's `now` are deleted with the
   * expired rows, oldest first. Unset (the default): audit records are kept forever — deleting the
   * security trail is the operator's choice (`auth.auditRetentionDays`).
   */
  auditRetentionMs?: number;
  /** Told after each purge that removed anything (for a debug log line); never throws into the caller. */
  onPurged?: (removed: PurgeCounts) => void;
}

/** Rows one purge removed, per table. (`refresh` = refresh_tokens rows; no key says "token", so log redaction leaves it.) */
export interface PurgeCounts {
  codes: number;
  refresh: number;
  grants: number;
  revocations: number;
  audit: number;
}

/** Names the numbers a purger's `run` returns: [codes, refresh tokens, grants, revocations, audit]. */
export function purgeCounts(removed: readonly number[]): PurgeCounts {
  const [codes = 0, refresh = 0, grants = 0, revocations = 0, audit = 0] = removed;
  return { codes, refresh, grants, revocations, audit };
}

export class PurgeSchedule {
  readonly intervalMs: number;
  readonly batch: number;
  /** Undefined: audit records are never purged. */
  readonly auditRetentionMs: number | undefined;
  readonly #onPurged: ((removed: PurgeCounts) => void) | undefined;
  #last: number | undefined;

  constructor(options: PurgeOptions = {}) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.batch = options.batch ?? 500;
    const retention = options.auditRetentionMs;
    if (retention !== undefined && !(Number.isSafeInteger(retention) && retention > 0)) {
      throw new RangeError(`auditRetentionMs must be a positive integer, got ${retention}`);
    }
    this.auditRetentionMs = retention;
    this.#onPurged = options.onPurged;
  }

  /** True when a purge is due at `now`; the caller then purges and calls `done`. */
  due(now: number): boolean {
    // A clock that went backwards (or a test rewinding time) restarts the schedule.
    return this.#last === undefined || now - this.#last >= this.intervalMs || now < this.#last;
  }

  /**
   * Audit records with a `time` before this are due for deletion at `now`; undefined when audit
   * records are kept forever.
   */
  auditCutoff(now: number): number | undefined {
    return this.auditRetentionMs === undefined ? undefined : now - this.auditRetentionMs;
  }

  /** `complete` false (a batch was full) keeps the purge due, so the backlog drains write by write. */
  done(now: number, complete: boolean): void {
    this.#last = complete ? now : undefined;
  }

  /**
   * Ends a SQL purge run: `removed` per table (purgeCounts order); a full batch in any table keeps the
   * purge due. Tells `onPurged` when anything went.
   */
  finish(now: number, removed: readonly number[]): void {
    this.done(
      now,
      removed.every((n) => n < this.batch),
    );
    if (this.#onPurged && removed.some((n) => n > 0)) {
      try {
        this.#onPurged(purgeCounts(removed));
      } catch {
        // A reporting hook must not turn a finished purge into a failed one.
      }
    }
  }
}
