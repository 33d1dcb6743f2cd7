// One Redis command connection per Storage, plus one subscriber connection for pub/sub; the rate
// limiter, the CIMD cache and the session backplane borrow them (RedisConnections) rather than open
// their own. Commands fail fast while the connection is down (no offline queue) and give up at a
// deadline when the server stops answering, so a caller never waits on, or acts upon, state it could
// not read: an outage surfaces as RedisUnavailableError (a StorageUnavailableError, → 503 at the edge),
// never as "not revoked" (issue #4 "Failure"). The connection is re-established by itself when Redis
// returns. Every connection carries a CLIENT SETNAME (`keyhole:<role>`, docs/storage.md "Connections").

import { createHash } from 'node:crypto';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis';
import { redactUrl } from '../../observability/redact-url.ts';
import { StorageUnavailableError } from '../errors.ts';

export type RedisClient = ReturnType<typeof createClient>;

export interface RedisConnectOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /**
   * CLIENT SETNAME of the connection (redisConnectionName), so operators can tell Keyhole's connections
   * apart in CLIENT LIST. A server that refuses the name (an ACL user without `client|setname`, a proxy
   * without CLIENT) gets an unnamed connection instead of a failed start.
   */
  name?: string;
  /** Give up a connection attempt (the first, and each reconnection) after this long, ms (default 2000). */
  connectTimeoutMs?: number;
  /** Longest wait between reconnection attempts once connected, ms (default 1000). */
  maxReconnectDelayMs?: number;
  /**
   * Longest wait for the reply to one command, ms (default 2000): a server that accepted the connection
   * but went silent (frozen, partitioned) is an outage too, not a request hanging until TCP gives up.
   */
  commandTimeoutMs?: number;
  /**
   * Called once per outage, when a connection that was up is lost, with a RedisUnavailableError naming
   * the server (never credentials). Reconnection is automatic; this is for the log.
   */
  onError?: (err: Error) => void;
  /** Called when the connection is back after an outage reported to `onError`. */
  onReconnect?: () => void;
}

/**
 * Redis cannot be reached: at start-up, or later while the client reconnects (refused, dropped, timed
 * out, server loading or shutting down). The message names the server, never credentials.
 */
export class RedisUnavailableError extends StorageUnavailableError {
  constructor(url: string, options?: ErrorOptions) {
    const cause = options?.cause instanceof Error ? `: ${scrub(options.cause.message, url)}` : '';
    super('redis', `cannot connect to Redis at ${redactUrl(url)}${cause}`, options);
    this.name = 'RedisUnavailableError';
  }
}

export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_REDIS_MAX_RECONNECT_DELAY_MS = 1000;
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2000;

/**
 * What a connection is for, in its CLIENT SETNAME `keyhole:<role>`: `storage` (commands of the
 * storage, the rate limiter, the CIMD cache and the session backplane), `subscriber` (the change feed
 * and the session backplane's channels); `sessions` and `sessions-subscriber` when the backplane runs
 * without storage (`--auth none`); `auth` when an embedder's storage lends no connection.
 */
export type RedisRole = 'storage' | 'subscriber' | 'sessions' | 'sessions-subscriber' | 'auth';

export function redisConnectionName(role: RedisRole): string {
  return `keyhole:${role}`;
}

/**
 * The Redis connections a storage lends to what the app builds on the same server (rate limiter,
 * CIMD cache, session backplane), so one process holds one command connection and one subscriber.
 * The storage owns them: a borrower never closes them, and they end with the storage's close().
 */
export interface RedisConnections {
  /** The command connection (`keyhole:storage`); run commands through redisCommand or Script. */
  readonly client: RedisClient;
  /**
   * The subscriber connection (`keyhole:subscriber`, the change feed's), once it has connected (later
   * outages are its own: it reconnects and re-subscribes by itself, emitting 'ready' again). Subscribe
   * and unsubscribe with your own listener (never without one: that would drop the others' listeners).
   * Rejects with RedisUnavailableError if it cannot connect within the connect timeout.
   */
  subscriber(): Promise<RedisClient>;
}

interface Settings {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Whether the server accepted a CLIENT SETNAME: duplicates are named only then. */
  named: boolean;
}

/** What redisCommand needs to know about a client made by connectRedis or duplicateRedis. */
const settings = new WeakMap<RedisClient, Settings>();

/**
 * Connects, or rejects with RedisUnavailableError. The first connection is not retried (a clear
 * start-up error); after it, a lost connection is re-established with capped backoff for as long as
 * the client is open, so service recovers without a restart when Redis returns. Meanwhile commands
 * fail at once (no offline queue): a request is answered 503 instead of waiting for Redis. With a
 * `name` the server refuses, connects once more without it.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisClient> {
  try {
    return await open(options, options.name);
  } catch (err) {
    if (options.name === undefined || !refusedName(err)) throw err;
    return open(options, undefined);
  }
}

async function open(options: RedisConnectOptions, name: string | undefined): Promise<RedisClient> {
  let ready = false;
  let down = false;
  const maxDelay = options.maxReconnectDelayMs ?? DEFAULT_REDIS_MAX_RECONNECT_DELAY_MS;
  const connectTimeout = options.connectTimeoutMs ?? DEFAULT_REDIS_CONNECT_TIMEOUT_MS;
  const client = createClient({
    url: options.url,
    ...(name !== undefined ? { name } : {}),
    // node-redis queues commands while disconnected by default: a request would hang until Redis came
    // back, or act on a reply that arrives long after its caller gave up.
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      // Forever, backing off to at most maxDelay (with jitter, so replicas do not reconnect in step).
      reconnectStrategy: (retries, cause) =>
        ready ? Math.min(50 * 2 ** Math.min(retries, 10) + Math.floor(Math.random() * 100), maxDelay) : cause,
    },
  });
  settings.set(client, {
    url: options.url,
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: connectTimeout,
    named: name !== undefined,
  });
  // Without a listener an 'error' event would crash the process. Each failed reconnection attempt
  // emits one: only the first of an outage is reported.
  client.on('error', (err: Error) => {
    // Only a lost connection starts an outage (node-redis marks the client not ready before emitting).
    if (!ready || down || client.isReady) return;
    down = true;
    options.onError?.(new RedisUnavailableError(options.url, { cause: err }));
  });
  client.on('ready', () => {
    ready = true;
    if (!down) return;
    down = false;
    options.onReconnect?.();
  });
  // connectTimeout covers the TCP connection only: a server that accepts it and then says nothing
  // would hold the handshake (HELLO) and start-up forever. The whole first connection gets the budget.
  const connecting = client.connect();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectionTimeoutError()), connectTimeout);
  });
  try {
    await Promise.race([connecting, deadline]);
  } catch (err) {
    connecting.catch(() => {});
    // A failed attempt already closed the socket; destroy only what may still be open.
    if (client.isOpen) client.destroy();
    throw new RedisUnavailableError(options.url, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** The first connection failed because the server refused CLIENT SETNAME (NOPERM, unknown command). */
function refusedName(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!(e instanceof Error) || seen.has(e)) continue;
    seen.add(e);
    if (e instanceof ErrorReply && /setname/i.test(e.message)) return true;
    const r = e as { cause?: unknown; originalError?: unknown; socketError?: unknown };
    queue.push(r.cause, r.originalError, r.socketError);
  }
  return false;
}

/**
 * A second connection like `client` (no offline queue, the same reconnection, deadlines and URL), not
 * yet connected, named after `role` if the server accepted the first one's name. For pub/sub, which
 * node-redis runs on a connection of its own. Whoever calls this owns the connection.
 */
export function duplicateRedis(client: RedisClient, role: RedisRole): RedisClient {
  const s = settingsOf(client);
  // An explicit `name: undefined` too: the duplicate must not inherit the first connection's name.
  const copy = client.duplicate({ name: s.named ? redisConnectionName(role) : undefined });
  settings.set(copy, s);
  return copy;
}

/**
 * Resolves once `connecting` (the client's connect()) does; rejects with RedisUnavailableError if it
 * has not within the client's connect timeout. A duplicate keeps reconnecting on its own meanwhile.
 */
export async function redisConnected(client: RedisClient, connecting: Promise<unknown>): Promise<void> {
  const s = settingsOf(client);
  await withDeadline(
    () => connecting,
    s.connectTimeoutMs,
    () => new ConnectionTimeoutError(),
    s.url,
  );
}

/** Errors that mean "Redis is not there right now", as opposed to a bad command or a bug. */
export function isRedisOutage(err: unknown): boolean {
  if (
    err instanceof ClientOfflineError ||
    err instanceof ClientClosedError ||
    err instanceof SocketClosedUnexpectedlyError ||
    err instanceof ConnectionTimeoutError ||
    err instanceof SocketTimeoutError ||
    err instanceof TimeoutError ||
    err instanceof DisconnectsClientError ||
    err instanceof ReconnectStrategyError ||
    err instanceof CommandDeadlineError
  ) {
    return true;
  }
  // A server still loading its data set, busy in a script, or a replica during failover.
  if (err instanceof ErrorReply)
    return /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN)\b/.test(err.message);
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** No reply within commandTimeoutMs. */
class CommandDeadlineError extends Error {
  constructor(ms: number) {
    super(`no reply from Redis within ${ms} ms`);
    this.name = 'CommandDeadlineError';
  }
}

/**
 * Runs Redis command(s) on `client` within its command deadline; an outage (isRedisOutage) becomes
 * RedisUnavailableError, so callers see one error type for "cannot reach" (StorageUnavailableError,
 * 503 at the edge) and never a reply they did not get. A command that missed its deadline may still
 * take effect on the server: callers treat the outcome as unknown (a code consumed then is spent).
 */
export async function redisCommand<T>(client: RedisClient, run: () => Promise<T>): Promise<T> {
  const s = settingsOf(client);
  return withDeadline(run, s.commandTimeoutMs, () => new CommandDeadlineError(s.commandTimeoutMs), s.url);
}

/** What `work` resolves to, or the `late` error after `ms`; an outage either way becomes RedisUnavailableError. */
async function withDeadline<T>(
  work: () => Promise<T>,
  ms: number,
  late: () => Error,
  url: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  try {
    // race() subscribes to both: a reply (or rejection) arriving after the deadline is absorbed.
    return await Promise.race([work(), deadline]);
  } catch (err) {
    throw isRedisOutage(err) ? new RedisUnavailableError(url, { cause: err }) : err;
  } finally {
    clearTimeout(timer);
  }
}

/** The client's settings; defaults for a client made elsewhere (tests). */
function settingsOf(client: RedisClient): Settings {
  return (
    settings.get(client) ?? {
      url: client.options?.url ?? 'redis://',
      commandTimeoutMs: DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
      named: false,
    }
  );
}

/** How long closeRedis waits for replies to commands already sent before it drops the connection. */
export const DEFAULT_REDIS_CLOSE_GRACE_MS = 1000;

/**
 * Closes `client`: waits up to `graceMs` for replies to commands already sent, then drops the
 * connection. node-redis's close() resolves only once its command queue is empty, and it learns
 * that from incoming data: a command queued while the socket was reconnecting (a subscriber's
 * re-subscription after Redis came back, say) can leave the queue non-empty with nothing left to
 * arrive, and close() would then wait forever, holding the process open. Never rejects.
 */
export async function closeRedis(client: RedisClient, graceMs = DEFAULT_REDIS_CLOSE_GRACE_MS): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const closed = client.close().then(
    () => true,
    () => false,
  );
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), graceMs);
  });
  try {
    if (await Promise.race([closed, late])) return;
  } finally {
    clearTimeout(timer);
  }
  if (client.isOpen) client.destroy();
}

/** `text` with the URL's password, if any, masked: a second fence for messages built from causes. */
function scrub(text: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    return text;
  }
  return password === '' ? text : text.split(password).join('***');
}

/** A Lua script run by SHA (EVALSHA), loaded on first use and again after a server restart (NOSCRIPT). */
export class Script {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    return redisCommand(client, async () => {
      try {
        return await client.evalSha(this.sha, { keys, arguments: args });
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return client.eval(this.source, { keys, arguments: args });
      }
    });
  }
}
