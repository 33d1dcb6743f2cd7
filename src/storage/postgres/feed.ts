// Cross-replica change notification on PostgreSQL LISTEN/NOTIFY, for replicas that share only the
// database (no Redis): a revocation or a key rotation takes effect on every replica within one second
// (issue #4 "Replicas"), as with the Redis feed (../redis/feed.ts), whose contract this follows.
//
// Announcing: `publish` is one `SELECT pg_notify(channel, message)` on the pool; a revocation is announced
// by the statement that writes it (revocations.ts), so it is delivered exactly when, and only if, the
// write commits. Listening: one dedicated connection per process (LISTEN belongs to a session, so not a
// pooled one), opened on the first subscribe. PostgreSQL delivers nothing to a session that is gone, so
// the feed reports down on any error or end of that connection, reconnects with capped backoff for as
// long as it is open, and reports up again only once a probe NOTIFY it sent itself has come back on the
// new connection (LISTEN is then in force: whatever commits afterwards will be delivered). Subscribers
// re-read what they cache on "up"; in between the guard refuses rather than trust its cache. A probe is
// also sent every `heartbeatMs` while up, so a server that went silent without closing the connection
// (frozen, partitioned) is noticed within seconds rather than when TCP gives up.
//
// The channel is database-wide (NOTIFY is not schema-scoped): `keyhole_changes`, or one per schema when
// Keyhole runs in its own (`search_path`, docs/storage.md), so two deployments in two schemas of one
// database do not hear each other.

import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { FeedSubscribers, parseFeedMessage } from '../feed-common.ts';
import type { ChangeFeed, StorageChange } from '../types.ts';
import { type Database, statement } from './db.ts';

/** PostgreSQL NOTIFY: "the payload string must be shorter than 8000 bytes" (default build). */
export const MAX_NOTIFY_PAYLOAD_BYTES = 7999;

export const DEFAULT_CHANGE_CHANNEL = 'keyhole_changes';

/** PostgreSQL identifiers (channel names) are at most NAMEDATALEN - 1 bytes. */
const MAX_CHANNEL_BYTES = 63;

/** `application_name` of the listening connection (pg_stat_activity), beside the pool's `keyhole`. */
export const FEED_APPLICATION_NAME = 'keyhole:changes';

/** How long a probe may take to come back before the connection is dropped and made again, ms. */
const PROBE_TIMEOUT_MS = 2000;
/** How often a probe checks a connection that is up, ms. */
const HEARTBEAT_MS = 10_000;
/** Longest wait between reconnection attempts, ms (issue #4: within a second once the server is back). */
const MAX_RECONNECT_DELAY_MS = 1000;
/** How long closing waits for the server to acknowledge the end of the session before dropping it, ms. */
const CLOSE_GRACE_MS = 1000;

const NOTIFY = statement('changes_notify', 'SELECT pg_notify($1, $2)');

export interface PostgresChangeFeedOptions {
  /** Default `keyhole_changes` (see changeChannel). */
  channel?: string;
  /** Default 2000. */
  probeTimeoutMs?: number;
  /** Default 10 000; 0 sends no probe once up. */
  heartbeatMs?: number;
  /** Default 1000. */
  maxReconnectDelayMs?: number;
}

/** The channel for the schema Keyhole's tables live in (`current_schema()`). */
export function changeChannel(schema: string | null | undefined): string {
  if (schema === null || schema === undefined || schema === 'public') return DEFAULT_CHANGE_CHANNEL;
  const named = `${DEFAULT_CHANGE_CHANNEL}:${schema}`;
  if (Buffer.byteLength(named) <= MAX_CHANNEL_BYTES) return named;
  return `${DEFAULT_CHANGE_CHANNEL}:${createHash('sha256').update(schema).digest('hex').slice(0, 32)}`;
}

/**
 * The NOTIFY payload of a change. Throws if it is over NOTIFY's limit (never for what Keyhole sends:
 * ids are short), so the caller refuses it before writing anything, rather than PostgreSQL aborting the
 * statement that carries it.
 */
export function changePayload(change: StorageChange | { type: 'probe'; nonce: string }): string {
  const payload = JSON.stringify(change);
  const bytes = Buffer.byteLength(payload);
  if (bytes > MAX_NOTIFY_PAYLOAD_BYTES) {
    throw new RangeError(
      `change feed: a ${change.type} change of ${bytes} bytes is over the ${MAX_NOTIFY_PAYLOAD_BYTES}-byte NOTIFY payload limit`,
    );
  }
  return payload;
}

export class PostgresChangeFeed implements ChangeFeed {
  readonly channel: string;
  readonly #db: Database;
  readonly #probeTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #maxDelayMs: number;
  readonly #subscribers = new FeedSubscribers();
  /** Probes in flight on the listening connection: nonce → resolve. */
  readonly #probes = new Map<string, () => void>();
  #closed = false;
  /** The connection loop, once started. */
  #running: Promise<void> | undefined;
  #client: pg.Client | undefined;
  /** Ends the current wait (backoff or heartbeat) early: close(). */
  #wake: (() => void) | undefined;

  /** `db`: the pool announcements go through, and the settings the listening connection copies. */
  constructor(db: Database, options: PostgresChangeFeedOptions = {}) {
    this.#db = db;
    this.channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.#maxDelayMs = options.maxReconnectDelayMs ?? MAX_RECONNECT_DELAY_MS;
  }

  get up(): boolean {
    return this.#subscribers.up;
  }

  /** Rejects with PostgresUnavailableError when the server cannot be reached; nothing is then sent. */
  async publish(change: StorageChange): Promise<void> {
    await this.#db.run(NOTIFY, [this.channel, changePayload(change)]);
  }

  subscribe(listener: (change: StorageChange) => void, onState: (up: boolean) => void): () => void {
    const unsubscribe = this.#subscribers.add(listener, onState);
    if (!this.#closed) this.#running ??= this.#run();
    return unsubscribe;
  }

  /**
   * Ends the listening connection: a graceful end of session, or the socket dropped after
   * CLOSE_GRACE_MS (a silent server never holds this up). Never rejects. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribers.setUp(false);
    this.#wake?.();
    const client = this.#client;
    if (client) await drop(client);
    // The loop ends once its connection is gone; bounded all the same.
    const running = this.#running;
    if (running) await bounded(running, CLOSE_GRACE_MS);
  }

  /** Connects, listens, proves it with a probe, watches; on any failure, again, until closed. */
  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      const client = this.#db.client(FEED_APPLICATION_NAME);
      this.#client = client;
      // Rejects when the connection errors or ends; every wait below races it. pg emits 'error' on a
      // lost connection (without a listener, a crash) and 'end' however it ends.
      const lost = new Promise<never>((_, reject) => {
        client.on('error', reject);
        client.on('end', () => reject(new Error('Connection terminated')));
      });
      lost.catch(() => {});
      client.on('notification', (n) => {
        if (n.channel === this.channel && n.payload !== undefined) this.#onMessage(n.payload);
      });
      try {
        await Promise.race([client.connect(), lost]);
        await Promise.race([
          client.query({
            text: `LISTEN ${pg.escapeIdentifier(this.channel)}`,
            query_timeout: this.#db.queryTimeoutMs,
          } as pg.QueryConfig),
          lost,
        ]);
        await this.#probe(client, lost);
        if (this.#closed) break;
        failures = 0;
        this.#subscribers.setUp(true);
        this.#db.answered();
        for (;;) {
          if (this.#heartbeatMs <= 0) await lost;
          await Promise.race([this.#sleep(this.#heartbeatMs), lost]);
          if (this.#closed) break;
          await this.#probe(client, lost);
        }
      } catch (err) {
        // Reported once per outage, with the pool's own reports (Database.failed); only a feed that
        // was up has something to report: attempts that keep failing are the same outage.
        if (!this.#closed && this.#subscribers.up) this.#db.failed(asError(err));
      } finally {
        this.#subscribers.setUp(false);
        if (this.#client === client) this.#client = undefined;
        await drop(client);
      }
      if (this.#closed) break;
      // Capped exponential backoff with jitter, so replicas do not reconnect in step.
      const delay = Math.min(
        50 * 2 ** Math.min(failures, 10) + Math.floor(Math.random() * 100),
        this.#maxDelayMs,
      );
      failures++;
      await this.#sleep(delay);
    }
  }

  /** Sends a probe on `client` itself; resolves once it came back there, rejects after the timeout. */
  async #probe(client: pg.Client, lost: Promise<never>): Promise<void> {
    const nonce = randomBytes(12).toString('base64url');
    const back = new Promise<void>((resolve) => this.#probes.set(nonce, resolve));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`the change feed's probe did not come back within ${this.#probeTimeoutMs} ms`)),
        this.#probeTimeoutMs,
      );
    });
    const sent = client.query(NOTIFY.text, [this.channel, changePayload({ type: 'probe', nonce })]);
    try {
      await Promise.race([sent.then(() => back), late, lost]);
    } finally {
      clearTimeout(timer);
      this.#probes.delete(nonce);
    }
  }

  /** Resolves after `ms`, or at once when the feed is closed. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#closed) return resolve();
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.#wake = undefined;
    });
  }

  #onMessage(payload: string): void {
    const m = parseFeedMessage(payload);
    if (m === undefined) return;
    if (m.type === 'probe') {
      // Another process's probes (or heartbeats) are none of ours.
      if (typeof m.nonce === 'string') this.#probes.get(m.nonce)?.();
      return;
    }
    this.#subscribers.deliver(m);
  }
}

/** The drop under way or done, per connection: the loop and close() may both end one. */
const dropping = new WeakMap<pg.Client, Promise<void>>();

/** Ends `client`'s session, or drops its socket if that takes longer than CLOSE_GRACE_MS. Never rejects. */
function drop(client: pg.Client): Promise<void> {
  let done = dropping.get(client);
  if (done === undefined) {
    done = bounded(client.end(), CLOSE_GRACE_MS).then((ended) => {
      if (!ended) client.connection.stream.destroy();
    });
    dropping.set(client, done);
  }
  return done;
}

/** Whether `work` settled within `ms` (its outcome is absorbed either way). */
async function bounded(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
