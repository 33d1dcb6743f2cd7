// Verified access tokens, so that a repeat request costs one Map lookup instead of a signature check.
// Bounded (oldest entries go first) and every entry ends when its token expires.

import type { Principal } from '../protocol/contract.ts';

export interface CachedToken {
  /** The guard's answer, shared by every request with this token. */
  readonly result: { readonly principal: Principal };
  readonly kid: string;
  readonly jti: string;
  /** `grant:<gid>`, when the token names its grant. */
  readonly grantKey: string | undefined;
  /** Epoch ms after which the token no longer verifies (exp plus the clock skew). */
  readonly until: number;
}

export class TokenCache {
  readonly #entries = new Map<string, CachedToken>();
  readonly #max: number;

  constructor(maxEntries: number) {
    this.#max = Math.max(0, maxEntries);
  }

  get(token: string, now: number): CachedToken | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry;
  }

  set(token: string, entry: CachedToken): void {
    if (this.#max === 0) return;
    this.#entries.delete(token);
    // Insertion order is age order: the first key is the oldest.
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, entry);
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }

  /** Drops expired entries (the periodic sweep; lookups also drop the ones they meet). */
  sweep(now: number): void {
    for (const [token, entry] of this.#entries) if (entry.until <= now) this.#entries.delete(token);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
