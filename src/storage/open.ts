// The one place that picks a storage adapter. Endpoints and the domain see only `Storage`
// (STYLE 1). A SQL store may be paired with Redis (`redisUrl`): Redis then holds the fast, expiring
// state (authorization codes, revocations) and carries the cross-replica change feed (issue #4).
// PostgreSQL without Redis carries the change feed itself (LISTEN/NOTIFY, postgres/feed.ts).

import { openMemoryStorage } from './memory/index.ts';
import type { PurgeOptions } from './purge.ts';
import type { Storage } from './types.ts';

interface Common {
  /** Clock for reads that take no `now` (default Date.now). Pass the same clock the server uses. */
  now?: () => number;
  purge?: PurgeOptions;
}

interface WithRedis {
  /** redis:// or rediss:// URL: codes, revocations and the change feed go to Redis. */
  redisUrl?: string;
  /** Redis key prefix (default `keyhole:`). */
  redisPrefix?: string;
  /** Redis connection errors after start-up (reconnection is automatic). */
  onRedisError?: (err: Error) => void;
  /** Redis is answering again after an outage reported to onRedisError. */
  onRedisReconnect?: () => void;
}

export type OpenStorageOptions =
  | (Common & { kind: 'memory' })
  | (Common &
      WithRedis & {
        kind: 'sqlite';
        /** Database file (created 0600, parent directories 0700), or ':memory:'. */
        path: string;
        /** How long a write waits for another connection's lock, ms (default 5000). */
        busyTimeoutMs?: number;
      })
  | (Common &
      WithRedis & {
        kind: 'postgres';
        /** postgres://user:password@host:port/database (the password never appears in errors or logs). */
        url: string;
        /**
         * Most pooled connections (default 10). Without Redis, a process that follows the change feed
         * (`keyhole serve`) holds one more, outside the pool, for LISTEN.
         */
        poolSize?: number;
        /** Told once when PostgreSQL becomes unreachable and once when it answers again. */
        onAvailability?: (available: boolean, err?: Error) => void;
      })
  | (Common & {
      /** Memory for durable records, Redis for codes and revocations: the Redis adapter on its own, for tests. */
      kind: 'memory+redis';
      redisUrl: string;
      /** Redis key prefix (default `keyhole:`). */
      redisPrefix?: string;
    });

export async function openStorage(opts: OpenStorageOptions): Promise<Storage> {
  switch (opts.kind) {
    case 'memory':
      return openMemoryStorage(opts);
    case 'sqlite': {
      // Loaded on demand: node:sqlite is only needed when SQLite is chosen.
      const { openSqliteStorage } = await import('./sqlite/index.ts');
      return withRedis(await openSqliteStorage(opts.path, opts), opts);
    }
    case 'postgres': {
      // Loaded on demand: pg is only needed when PostgreSQL is chosen.
      const { openPostgresStorage } = await import('./postgres/index.ts');
      const durable = await openPostgresStorage(opts.url, {
        now: opts.now,
        purge: opts.purge,
        poolSize: opts.poolSize,
        // Exactly one feed: Redis's when there is Redis (it announces the revocations it copies).
        changeFeed: opts.redisUrl === undefined,
        ...(opts.onAvailability ? { onAvailability: opts.onAvailability } : {}),
      });
      return withRedis(durable, opts);
    }
    case 'memory+redis': {
      const { openRedisStores } = await import('./redis/index.ts');
      const { composeStorage } = await import('./compose.ts');
      const fast = await openRedisStores({ url: opts.redisUrl, prefix: opts.redisPrefix, now: opts.now });
      return composeStorage(openMemoryStorage(opts), fast);
    }
    default:
      throw new Error(`unknown storage kind: ${(opts as { kind: unknown }).kind}`);
  }
}

/** `durable` alone, or joined with the Redis stores when a Redis URL is given (closed if Redis is unreachable). */
async function withRedis(durable: Storage, opts: Common & WithRedis): Promise<Storage> {
  if (opts.redisUrl === undefined) return durable;
  const { openRedisStores } = await import('./redis/index.ts');
  const { composeStorage } = await import('./compose.ts');
  try {
    const fast = await openRedisStores({
      url: opts.redisUrl,
      prefix: opts.redisPrefix,
      now: opts.now,
      ...(opts.onRedisError ? { onError: opts.onRedisError } : {}),
      ...(opts.onRedisReconnect ? { onReconnect: opts.onRedisReconnect } : {}),
    });
    return composeStorage(durable, fast);
  } catch (err) {
    await durable.close();
    throw err;
  }
}
