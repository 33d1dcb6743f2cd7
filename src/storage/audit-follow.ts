// Following the audit trail without losing records (`keyhole audit tail --follow`, or any reader feeding
// a SIEM). Paging with `tail(limit, afterId)` alone is not enough on PostgreSQL: ids come from a sequence
// at INSERT, so concurrent appends (two replicas, two requests) can commit out of id order. A poll that
// sees id 10 while the transaction holding id 9 has not committed yet would move past 9 for good.
//
// So the follower remembers the ids it found missing below a newer one (the gaps) and asks for them by
// id on every poll (`AuditStore.find`, a primary-key lookup each), handing over late records as they
// appear — out of id order, which is fine: each carries its id and time. Appends stay lock-free.
//
// An id may never appear: a failed or rolled-back INSERT burns its sequence value, and so does a server
// crash (PostgreSQL logs sequences up to 32 values ahead). So a gap is given up once a lookup made
// `gapWaitMs` (30 s) after the gap was seen still misses it. That is safe: the id was taken before the
// newer one that revealed the gap had committed, by a single-statement autocommit INSERT, which
// PostgreSQL's statement_timeout (5 s in the adapter) ends one way or the other. Time spent unable to
// reach the storage does not count: only a lookup that answered can give a gap up. At most `maxGaps`
// ids are tracked (far more than the appends that can be in flight at once, which the servers'
// connection limits bound): beyond that the oldest are given up first. Given-up ids are reported, so
// the caller can say so rather than lose a record silently.
//
// SQLite and memory commit ids in order (one writer), so no gaps arise there; the same path serves them.

import type { AuditRecord, AuditStore } from './types.ts';

/** Inclusive range of audit ids. */
export interface IdRange {
  readonly from: number;
  readonly to: number;
}

export interface AuditBatch {
  /** Records to hand on: late ones (from the gaps) first, each list in id order. */
  readonly records: AuditRecord[];
  /** Missing ids still absent `gapWaitMs` after they were seen: never committed (burned), presumably. */
  readonly gaveUp: IdRange[];
  /** Missing ids no longer waited for because more than `maxGaps` were missing at once. */
  readonly overflow: IdRange[];
  /** The page of new records was full: poll again at once to drain the rest. */
  readonly more: boolean;
}

export interface AuditFollowOptions {
  /** Clock for the age of gaps (default `Date.now`). */
  now?: () => number;
  /** How long a missing id is waited for (default 30 000 ms; PostgreSQL's statement_timeout is 5 s). */
  gapWaitMs?: number;
  /** Most missing ids tracked at once (default 1000). */
  maxGaps?: number;
  /**
   * How many ids just below the first record seen are also waited for (default 100): at start the
   * follower has no cursor, and an append still in flight then may hold an id below the newest one.
   */
  lookback?: number;
  /** New records read per poll (default 500). */
  page?: number;
}

export const DEFAULT_GAP_WAIT_MS = 30_000;
export const DEFAULT_MAX_GAPS = 1_000;
export const DEFAULT_LOOKBACK = 100;
const DEFAULT_PAGE = 500;

interface Gap {
  readonly id: number;
  /** When the follower learnt the id was taken (a newer one had committed). */
  readonly seenAt: number;
}

/**
 * One reader's position in the trail: `start()` once, then `poll()` at any pace. A poll that throws
 * (storage unreachable) changes nothing; the next one resumes from the same place.
 */
export class AuditFollower {
  readonly #store: AuditStore;
  readonly #now: () => number;
  readonly #gapWaitMs: number;
  readonly #maxGaps: number;
  readonly #lookback: number;
  readonly #page: number;
  /** The highest id seen; undefined until the first record. */
  #cursor: number | undefined;
  /** Missing ids below the cursor, ascending. */
  #gaps: Gap[] = [];
  #started = false;

  constructor(store: AuditStore, options: AuditFollowOptions = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#gapWaitMs = options.gapWaitMs ?? DEFAULT_GAP_WAIT_MS;
    this.#maxGaps = Math.max(1, options.maxGaps ?? DEFAULT_MAX_GAPS);
    this.#lookback = Math.max(0, options.lookback ?? DEFAULT_LOOKBACK);
    this.#page = Math.max(1, options.page ?? DEFAULT_PAGE);
  }

  /** The ids waited for, ascending (for tests and diagnostics). */
  get waiting(): number[] {
    return this.#gaps.map((g) => g.id);
  }

  /**
   * The newest `limit` records, oldest first (none with 0); following starts after them. Call once,
   * before any poll.
   */
  async start(limit: number): Promise<AuditBatch> {
    if (this.#started) throw new Error('AuditFollower.start: already started');
    const n = Math.max(0, Math.floor(limit));
    // `lookback` more in the same read (one snapshot): of the ids just below the window, those that
    // exist are old news (outside -n); those missing may still commit, and are waited for.
    const rows = await this.#store.tail(n + this.#lookback);
    const window = n === 0 ? [] : rows.slice(-n);
    const newest = rows.at(-1);
    this.#started = true;
    if (newest === undefined) return { records: [], gaveUp: [], overflow: [], more: false };
    const floor = Math.max(1, (window[0]?.id ?? newest.id + 1) - this.#lookback);
    const seen = this.#observe(
      floor - 1,
      rows.filter((r) => r.id >= floor),
      this.#now(),
      [],
    );
    this.#cursor = seen.cursor;
    this.#gaps = seen.gaps;
    return { records: window, gaveUp: [], overflow: seen.overflow, more: false };
  }

  /** Late records that appeared in the gaps, then the next page of new records. */
  async poll(): Promise<AuditBatch> {
    // Work on copies and commit at the end: a throw anywhere leaves the state as it was.
    let gaps = this.#gaps;
    let late: AuditRecord[] = [];
    const gaveUp: number[] = [];
    if (gaps.length > 0) {
      const asked = this.#now();
      const waiting = new Set(gaps.map((g) => g.id));
      late = (await this.#store.find([...waiting])).filter((r) => waiting.delete(r.id));
      gaps = gaps.filter((g) => {
        if (!waiting.has(g.id)) return false; // found
        // Only a lookup that answered, made long enough after the gap was seen, gives it up.
        if (asked - g.seenAt >= this.#gapWaitMs) {
          gaveUp.push(g.id);
          return false;
        }
        return true;
      });
    }
    const rows = await this.#store.tail(this.#page, this.#cursor ?? 0);
    let cursor = this.#cursor;
    let overflow: IdRange[] = [];
    const first = rows[0];
    if (first !== undefined) {
      // Before the first record ever seen there is no cursor: wait for `lookback` ids below it.
      const from = cursor ?? Math.max(0, first.id - this.#lookback - 1);
      const seen = this.#observe(from, rows, this.#now(), gaps);
      ({ cursor, gaps, overflow } = seen);
    }
    this.#cursor = cursor;
    this.#gaps = gaps;
    this.#started = true;
    return { records: [...late, ...rows], gaveUp: ranges(gaveUp), overflow, more: rows.length >= this.#page };
  }

  /**
   * The gaps after reading `rows` (ascending, all above `from`, which was seen or is a floor): `gaps`
   * plus every id missing between `from` and the last row, capped at `maxGaps`, oldest dropped first.
   */
  #observe(
    from: number,
    rows: readonly AuditRecord[],
    seenAt: number,
    gaps: readonly Gap[],
  ): { cursor: number; gaps: Gap[]; overflow: IdRange[] } {
    const max = this.#maxGaps;
    const next: Gap[] = [...gaps];
    const dropped: IdRange[] = [];
    let prev = from;
    for (const r of rows) {
      if (r.id <= prev) continue; // defensive: a store returns ascending ids above `from`
      let lo = prev + 1;
      const hi = r.id - 1;
      // A jump wider than the cap (a sequence moved by hand) is not enumerated id by id.
      if (hi - lo + 1 > max) {
        dropped.push({ from: lo, to: hi - max });
        lo = hi - max + 1;
      }
      for (let id = lo; id <= hi; id++) next.push({ id, seenAt });
      // Gaps are ascending by id, and so by the time they were seen: the oldest go first.
      if (next.length > max) dropped.push(...ranges(next.splice(0, next.length - max).map((g) => g.id)));
      prev = r.id;
    }
    return { cursor: prev, gaps: next, overflow: merge(dropped) };
  }
}

/** Ascending ids as ranges of consecutive ones. */
function ranges(sorted: readonly number[]): IdRange[] {
  const out: IdRange[] = [];
  for (const id of sorted) {
    const last = out.at(-1);
    if (last !== undefined && last.to + 1 === id) out[out.length - 1] = { from: last.from, to: id };
    else out.push({ from: id, to: id });
  }
  return out;
}

function merge(list: readonly IdRange[]): IdRange[] {
  const out: IdRange[] = [];
  for (const r of [...list].sort((a, b) => a.from - b.from)) {
    const last = out.at(-1);
    if (last !== undefined && last.to + 1 >= r.from)
      out[out.length - 1] = { from: last.from, to: Math.max(last.to, r.to) };
    else out.push(r);
  }
  return out;
}

/** `9, 12-13` — for messages; past `max` ranges, `… (N ids in all)`. */
export function formatIdRanges(list: readonly IdRange[], max = 10): string {
  const shown = list
    .slice(0, max)
    .map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`))
    .join(', ');
  if (list.length <= max) return shown;
  const count = list.reduce((n, r) => n + r.to - r.from + 1, 0);
  return `${shown}, … (${count} ids in all)`;
}
