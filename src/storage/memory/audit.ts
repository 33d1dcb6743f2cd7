import type { AuditRecord, AuditStore } from '../types.ts';
import { copy } from './copy.ts';

export class MemoryAuditStore implements AuditStore {
  readonly #records: AuditRecord[] = [];
  readonly #max: number;
  readonly #maxAgeMs: number | undefined;
  #nextId = 1;

  /**
   * Keeps the newest `max` records (memory is for tests and development) and, with `maxAgeMs` (the
   * audit retention), none whose time is more than that before the newest append's time.
   */
  constructor(max = 10_000, maxAgeMs?: number) {
    this.#max = max;
    this.#maxAgeMs = maxAgeMs;
  }

  async append(type: string, data: Record<string, unknown>, time: number): Promise<void> {
    this.#records.push({ id: this.#nextId++, time, type, data: copy(data) });
    let drop = Math.max(0, this.#records.length - this.#max);
    if (this.#maxAgeMs !== undefined) {
      // Oldest first, like the SQL purgers: the trail stays everything from some record on.
      const cutoff = time - this.#maxAgeMs;
      while (drop < this.#records.length && this.#records[drop]!.time < cutoff) drop++;
    }
    if (drop > 0) this.#records.splice(0, drop);
  }

  async tail(limit: number, afterId?: number): Promise<AuditRecord[]> {
    if (limit <= 0) return [];
    let picked: AuditRecord[];
    if (afterId === undefined) picked = this.#records.slice(-limit);
    else {
      const lo = this.#firstAfter(afterId);
      picked = this.#records.slice(lo, lo + limit);
    }
    return picked.map((r) => copy(r));
  }

  async find(ids: readonly number[]): Promise<AuditRecord[]> {
    const found: AuditRecord[] = [];
    for (const id of new Set(ids)) {
      const r = this.#records[this.#firstAfter(id - 1)];
      if (r?.id === id) found.push(copy(r));
    }
    return found.sort((a, b) => a.id - b.id);
  }

  /** The index of the first record whose id is above `afterId` (ids are ascending). */
  #firstAfter(afterId: number): number {
    let lo = 0;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#records[mid]!.id <= afterId) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
