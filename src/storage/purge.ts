// When to drop expired rows. Purging rides on writes that carry the caller's `now` (so it follows the
// same clock as the expiry checks) and runs at most once per interval, each run bounded by a batch size.

export interface PurgeOptions {
  /** Minimum time between purges, ms (default 60 s). */
  intervalMs?: number;
  /** Most rows removed per table per purge (default 500). */
  batch?: number;
}

export class PurgeSchedule {
  readonly intervalMs: number;
  readonly batch: number;
  #last: number | undefined;

  constructor(options: PurgeOptions = {}) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.batch = options.batch ?? 500;
  }

  /** True when a purge is due at `now`; the caller then purges and calls `done`. */
  due(now: number): boolean {
    // A clock that went backwards (or a test rewinding time) restarts the schedule.
    return this.#last === undefined || now - this.#last >= this.intervalMs || now < this.#last;
  }

  /** `complete` false (a batch was full) keeps the purge due, so the backlog drains write by write. */
  done(now: number, complete: boolean): void {
    this.#last = complete ? now : undefined;
  }
}
