// One Redis connection per Storage. Commands fail fast while the connection is down (no offline
// queue), so a caller never waits on, or acts upon, state it could not read: an outage surfaces as a
// rejected promise (→ 503 at the edge), never as "not revoked" (issue #4 "Failure").

import { createHash } from 'node:crypto';
import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

export interface RedisConnectOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /** Give up the first connection after this long, ms (default 5000). */
  connectTimeoutMs?: number;
  /** Longest wait between reconnection attempts once connected, ms (default 2000). */
  maxReconnectDelayMs?: number;
  /** Called with connection errors after the first connection (they are retried, not thrown). */
  onError?: (err: Error) => void;
}

/** Thrown when Redis cannot be reached at start-up; the message names the server, never credentials. */
export class RedisUnavailableError extends Error {
  constructor(url: string, options?: ErrorOptions) {
    super(`cannot connect to Redis at ${redactUrl(url)}`, options);
    this.name = 'RedisUnavailableError';
  }
}

/**
 * Connects, or rejects with RedisUnavailableError. The first connection is not retried (a clear
 * start-up error); after it, a lost connection is re-established with backoff for as long as the
 * client is open, so service recovers without a restart when Redis returns.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisClient> {
  let ready = false;
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5000,
      reconnectStrategy: (retries, cause) => (ready ? Math.min(50 * 2 ** retries, maxDelay) : cause),
    },
  });
  // Without a listener an 'error' event would crash the process; reconnection handles the cause.
  client.on('error', (err: Error) => {
    if (ready) options.onError?.(err);
  });
  client.on('ready', () => {
    ready = true;
  });
  try {
    await client.connect();
  } catch (err) {
    // The failed attempt already closed the socket; destroy only what may still be open.
    if (client.isOpen) client.destroy();
    throw new RedisUnavailableError(options.url, { cause: err });
  }
  return client;
}

/** The URL without its password (for messages and logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid Redis URL>';
  }
}

/** A Lua script run by SHA (EVALSHA), loaded on first use and again after a server restart (NOSCRIPT). */
export class Script {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, { keys, arguments: args });
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, { keys, arguments: args });
    }
  }
}
