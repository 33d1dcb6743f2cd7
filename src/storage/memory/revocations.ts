import type { PurgeSchedule } from '../purge.ts';
import type { RevocationStore } from '../types.ts';

export class MemoryRevocationStore implements RevocationStore {
  readonly #revoked = new Map<string, number>();
  readonly #purge: PurgeSchedule;

  constructor(purge: PurgeSchedule) {
    this.#purge = purge;
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
    const existing = this.#revoked.get(id);
    this.#revoked.set(id, existing === undefined ? expiresAt : Math.max(existing, expiresAt));
  }

  async isRevoked(id: string, now: number): Promise<boolean> {
    const expiresAt = this.#revoked.get(id);
    return expiresAt !== undefined && expiresAt > now;
  }

  async listActive(now: number): Promise<{ id: string; expiresAt: number }[]> {
    this.purge(now);
    const out: { id: string; expiresAt: number }[] = [];
    for (const [id, expiresAt] of this.#revoked) if (expiresAt > now) out.push({ id, expiresAt });
    return out;
  }

  purge(now: number): void {
    if (!this.#purge.due(now)) return;
    for (const [id, expiresAt] of this.#revoked) if (expiresAt <= now) this.#revoked.delete(id);
    this.#purge.done(now, true);
  }
}
