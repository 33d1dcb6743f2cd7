// The guard's process-local view of revoked access-token ids (jti) and grants (`grant:<gid>`): warmed
// from storage, kept current by `token.revoked` events from this process, and re-synchronised from
// storage periodically for revocations made elsewhere (the CLI, other instances). A lookup is a Map get.

import type { EventBus, SecurityEvent } from '../observability/events.ts';
import type { RevocationStore } from '../storage/types.ts';

export const GRANT_PREFIX = 'grant:';

export interface RevocationCacheOptions {
  store: RevocationStore;
  events: EventBus;
  /** Epoch ms. */
  now: () => number;
  /**
   * How long an entry learnt from an event (which carries no expiry) is kept: the longest an access
   * token issued before the revocation can still be valid. The next storage sync then knows better.
   */
  eventRetentionMs: number;
}

export class RevocationCache {
  /** id → epoch ms until which the revocation matters. */
  readonly #revoked = new Map<string, number>();
  readonly #options: RevocationCacheOptions;
  readonly #unsubscribe: () => void;

  constructor(options: RevocationCacheOptions) {
    this.#options = options;
    this.#unsubscribe = options.events.on((event) => this.#onEvent(event));
  }

  /** True if the token (by jti) or its grant is revoked. */
  isRevoked(jti: string, grantKey: string | undefined): boolean {
    if (this.#revoked.size === 0) return false;
    return this.#live(jti) || (grantKey !== undefined && this.#live(grantKey));
  }

  /** Merges every unexpired revocation from storage and drops the expired ones. */
  async sync(): Promise<void> {
    const now = this.#options.now();
    const active = await this.#options.store.listActive(now);
    for (const { id, expiresAt } of active) this.add(id, expiresAt);
    for (const [id, until] of this.#revoked) if (until <= now) this.#revoked.delete(id);
  }

  add(id: string, until: number): void {
    const known = this.#revoked.get(id);
    if (known === undefined || known < until) this.#revoked.set(id, until);
  }

  get size(): number {
    return this.#revoked.size;
  }

  close(): void {
    this.#unsubscribe();
  }

  #live(id: string): boolean {
    const until = this.#revoked.get(id);
    return until !== undefined && until > this.#options.now();
  }

  #onEvent(event: SecurityEvent): void {
    if (event.type !== 'token.revoked') return;
    const { what, id } = event.data;
    const until = this.#options.now() + this.#options.eventRetentionMs;
    if (what === 'access_token') this.add(id, until);
    // A revoked grant takes every access token minted under it (its `gid`) with it.
    else if (what === 'grant') this.add(id.startsWith(GRANT_PREFIX) ? id : GRANT_PREFIX + id, until);
    // 'refresh_token': refresh tokens never reach a resource server; revoking the grant is what
    // reaches its access tokens, and that comes as a 'grant' event.
  }
}
