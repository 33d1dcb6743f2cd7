import type { AuditRecord, AuditStore } from '../types.ts';
import { copy } from './copy.ts';

export class MemoryAuditStore implements AuditStore {
  readonly #records: AuditRecord[] = [];
  readonly #max: number;
  #nextId = 1;

  /** Keeps the newest `max` records (memory is for tests and development). */
  constructor(max = 10_000) {
    this.#max = max;
  }

  async append(type: string, data: Record<string, unknown>, time: number): Promise<void> {
    this.#records.push({ id: this.#nextId++, time, type, data: copy(data) });
    if (this.#records.length > this.#max) this.#records.splice(0, this.#records.length - this.#max);
  }

  async tail(limit: number, afterId?: number): Promise<AuditRecord[]> {
    if (limit <= 0) return [];
    let picked: AuditRecord[];
    if (afterId === undefined) picked = this.#records.slice(-limit);
    else {
      // ids are ascending: find the first record after `afterId`.
      let lo = 0;
      let hi = this.#records.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#records[mid]!.id <= afterId) lo = mid + 1;
        else hi = mid;
      }
      picked = this.#records.slice(lo, lo + limit);
    }
    return picked.map((r) => copy(r));
  }
}
