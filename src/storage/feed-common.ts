// What the two change feeds (Redis pub/sub in redis/feed.ts, PostgreSQL LISTEN/NOTIFY in postgres/feed.ts)
// share: the messages they carry — JSON StorageChange objects, and the probes a feed publishes to itself
// to confirm it is subscribed — and their subscribers, told of every change and of every up/down.

import type { StorageChange } from './types.ts';

/** A message read off a feed: a change, a probe with its nonce, or nothing worth reading (ignored). */
export type FeedMessage = StorageChange | { type: 'probe'; nonce: unknown } | undefined;

export function parseFeedMessage(text: string): FeedMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.type === 'probe') return { type: 'probe', nonce: o.nonce };
  if (o.type === 'keys') return { type: 'keys' };
  if (o.type === 'revoked' && typeof o.id === 'string' && Number.isSafeInteger(o.expiresAt)) {
    return { type: 'revoked', id: o.id, expiresAt: o.expiresAt as number };
  }
  return undefined;
}

interface Subscriber {
  listener: (change: StorageChange) => void;
  onState: (up: boolean) => void;
}

/** A feed's subscribers and its up/down state (ChangeFeed.subscribe and .up). */
export class FeedSubscribers {
  readonly #all = new Set<Subscriber>();
  #up = false;

  get up(): boolean {
    return this.#up;
  }

  /** Adds one; if the feed is up it is told so on the next microtask. Returns the unsubscribe. */
  add(listener: (change: StorageChange) => void, onState: (up: boolean) => void): () => void {
    const s: Subscriber = { listener, onState };
    this.#all.add(s);
    if (this.#up) queueMicrotask(() => this.#all.has(s) && onState(true));
    return () => {
      this.#all.delete(s);
    };
  }

  deliver(change: StorageChange): void {
    for (const s of this.#all) {
      try {
        s.listener(change);
      } catch {
        // One subscriber's failure must not keep the change from the others, nor break the feed.
      }
    }
  }

  /** Tells every subscriber of a change of state (nothing when it is the same). */
  setUp(up: boolean): void {
    if (this.#up === up) return;
    this.#up = up;
    for (const s of this.#all) s.onState(up);
  }
}
