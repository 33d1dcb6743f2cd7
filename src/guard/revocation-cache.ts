// The guard's process-local view of revoked access-token ids (jti) and grants (`grant:<gid>`): warmed
// from storage, kept current by `token.revoked` events from this process and, with a change feed
// (Redis pub/sub, or PostgreSQL LISTEN/NOTIFY), by every other process's revocations as they happen; re-synchronised from storage
// periodically as well. A lookup is a Map get.
//
// The view is only trusted while it is known to be current (issue #4 "Failure": an unknown revocation
// state is never "not revoked"): with a feed, from the first full read after the feed (re)connected
// until it drops; without one, while the last successful read is recent enough (`maxStalenessMs`).

import type { EventBus, SecurityEvent } from '../observability/events.ts';
import type { ChangeFeed, RevocationStore } from '../storage/types.ts';

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
  /** Revocations by other processes, as they happen. */
  changes?: ChangeFeed | undefined;
  /** Without a feed: the view is stale this long after the last successful sync (default: never). */
  maxStalenessMs?: number;
  /** Told when a resynchronisation after a reconnection fails (it is retried every second). */
  onSyncError?: (err: unknown) => void;
}

export class RevocationCache {
  /** id → epoch ms until which the revocation matters. */
  readonly #revoked = new Map<string, number>();
  readonly #options: RevocationCacheOptions;
  readonly #unsubscribe: () => void;
  readonly #unsubscribeFeed: (() => void) | undefined;
  /** Epoch ms of the last successful sync. */
  #syncedAt = Number.NEGATIVE_INFINITY;
  /** With a feed: a full sync succeeded since the feed last came up. */
  #feedCurrent = false;
  /** Counts feed transitions, so a sync started before a drop does not mark the view current. */
  #epoch = 0;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: RevocationCacheOptions) {
    this.#options = options;
    this.#unsubscribe = options.events.on((event) => this.#onEvent(event));
    this.#unsubscribeFeed = options.changes?.subscribe(
      (change) => {
        if (change.type === 'revoked') this.add(change.id, change.expiresAt);
      },
      (up) => this.#onFeedState(up),
    );
  }

  /** Whether the view can be trusted now (see the file comment). */
  current(): boolean {
    if (this.#options.changes) return this.#feedCurrent;
    const max = this.#options.maxStalenessMs;
    return max === undefined || this.#options.now() - this.#syncedAt <= max;
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
    this.#syncedAt = now;
  }

  add(id: string, until: number): void {
    const known = this.#revoked.get(id);
    if (known === undefined || known < until) this.#revoked.set(id, until);
  }

  get size(): number {
    return this.#revoked.size;
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    this.#unsubscribeFeed?.();
    clearTimeout(this.#retry);
  }

  #onFeedState(up: boolean): void {
    const epoch = ++this.#epoch;
    this.#feedCurrent = false;
    clearTimeout(this.#retry);
    if (!up || this.#closed) return;
    // Subscribed again: what was published while down is lost, so read everything before trusting.
    const attempt = () => {
      this.sync().then(
        () => {
          if (epoch === this.#epoch) this.#feedCurrent = true;
        },
        (err: unknown) => {
          if (epoch !== this.#epoch || this.#closed) return;
          this.#options.onSyncError?.(err);
          this.#retry = setTimeout(attempt, 1000);
          this.#retry.unref();
        },
      );
    };
    attempt();
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
