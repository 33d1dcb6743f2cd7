// Cross-replica change notification on Redis pub/sub (issue #4 "Replicas": a revocation or a key
// rotation takes effect on every replica within one second). One channel per key prefix; messages are
// small JSON objects (StorageChange). Pub/sub delivers nothing to a subscriber that is disconnected, so
// the feed reports when it is down and, after every (re)connection, proves its subscription live with
// a probe message before it says it is up again: a subscriber then re-reads what it caches, and in
// between it must not trust its cache (the guard answers 503 rather than "not revoked"). The feed's
// subscriber connection (`keyhole:subscriber`) is lent to the session backplane for its channels
// (`subscriber()`), so a process holds one subscriber connection, not two; the feed alone closes it.

import { randomBytes } from 'node:crypto';
import { FeedSubscribers, parseFeedMessage } from '../feed-common.ts';
import type { ChangeFeed, StorageChange } from '../types.ts';
import { duplicateRedis, type RedisClient, redisCommand, redisConnected } from './client.ts';

/** How long a probe may take to come back before the subscription is tried again, ms. */
const PROBE_TIMEOUT_MS = 2000;

export class RedisChangeFeed implements ChangeFeed {
  readonly channel: string;
  readonly #client: RedisClient;
  readonly #subscribers = new FeedSubscribers();
  #sub: RedisClient | undefined;
  /** The subscriber's first connect(), once started. */
  #connecting: Promise<unknown> | undefined;
  #closed = false;
  #probe: { nonce: string; timer: NodeJS.Timeout } | undefined;
  readonly #onError: (err: Error) => void;

  constructor(client: RedisClient, prefix: string, onError: (err: Error) => void = () => {}) {
    this.#client = client;
    this.channel = `${prefix}changes`;
    this.#onError = onError;
  }

  get up(): boolean {
    return this.#subscribers.up;
  }

  async publish(change: StorageChange): Promise<void> {
    await redisCommand(this.#client, () => this.#client.publish(this.channel, JSON.stringify(change)));
  }

  subscribe(listener: (change: StorageChange) => void, onState: (up: boolean) => void): () => void {
    const unsubscribe = this.#subscribers.add(listener, onState);
    this.#start();
    return unsubscribe;
  }

  /**
   * The subscriber connection, connected (started now if no one has subscribed yet), for other
   * subscriptions of this process: RedisConnections.subscriber(). Closed with the feed, never by the
   * borrower. Rejects with RedisUnavailableError if it cannot connect within the connect timeout.
   */
  async subscriber(): Promise<RedisClient> {
    this.#start();
    const sub = this.#sub;
    if (sub === undefined || this.#connecting === undefined) throw new Error('the change feed is closed');
    await redisConnected(sub, this.#connecting);
    return sub;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.setUp(false);
    if (this.#probe) clearTimeout(this.#probe.timer);
    const sub = this.#sub;
    this.#sub = undefined;
    if (sub?.isOpen) sub.destroy();
  }

  #start(): void {
    if (this.#sub || this.#closed) return;
    const sub = duplicateRedis(this.#client, 'subscriber');
    this.#sub = sub;
    sub.on('error', (err: Error) => {
      if (this.#subscribers.up) this.#onError(err);
      this.#subscribers.setUp(false);
    });
    sub.on('reconnecting', () => this.#subscribers.setUp(false));
    sub.on('end', () => this.#subscribers.setUp(false));
    // node-redis re-sends SUBSCRIBE itself as part of every reconnection, before 'ready'.
    sub.on('ready', () => this.#sendProbe());
    const connecting = sub.connect();
    this.#connecting = connecting;
    connecting
      .then(() => sub.subscribe(this.channel, (message) => this.#onMessage(message)))
      .then(() => this.#sendProbe())
      .catch((err: unknown) => {
        // The client keeps reconnecting on its own; 'ready' sends the next probe.
        if (!this.#closed) this.#onError(err instanceof Error ? err : new Error(String(err)));
      });
  }

  /** Publishes a probe on the command connection; the feed is up once the subscriber receives it. */
  #sendProbe(): void {
    if (this.#closed || this.#subscribers.up) return;
    if (this.#probe) clearTimeout(this.#probe.timer);
    const nonce = randomBytes(12).toString('base64url');
    const timer = setTimeout(() => {
      if (this.#probe?.nonce === nonce) {
        this.#probe = undefined;
        this.#sendProbe();
      }
    }, PROBE_TIMEOUT_MS);
    timer.unref();
    this.#probe = { nonce, timer };
    this.#client.publish(this.channel, JSON.stringify({ type: 'probe', nonce })).catch(() => {
      // Redis is down: the timer tries again.
    });
  }

  #onMessage(message: string): void {
    const m = parseFeedMessage(message);
    if (m === undefined) return;
    if (m.type === 'probe') {
      if (this.#probe !== undefined && m.nonce === this.#probe.nonce) {
        clearTimeout(this.#probe.timer);
        this.#probe = undefined;
        this.#subscribers.setUp(true);
      }
      return;
    }
    this.#subscribers.deliver(m);
  }
}
