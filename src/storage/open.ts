// The one place that picks a storage adapter. Endpoints and the domain see only `Storage`
// (STYLE 1); adding PostgreSQL or Redis means a new case here.

import { openMemoryStorage } from './memory/index.ts';
import type { PurgeOptions } from './purge.ts';
import type { Storage } from './types.ts';

interface Common {
  /** Clock for reads that take no `now` (default Date.now). Pass the same clock the server uses. */
  now?: () => number;
  purge?: PurgeOptions;
}

export type OpenStorageOptions =
  | (Common & { kind: 'memory' })
  | (Common & {
      kind: 'sqlite';
      /** Database file (created 0600, parent directories 0700), or ':memory:'. */
      path: string;
      /** How long a write waits for another connection's lock, ms (default 5000). */
      busyTimeoutMs?: number;
    })
  | (Common & {
      kind: 'postgres';
      /** postgres://user:password@host:port/database (the password never appears in errors or logs). */
      url: string;
      /** Most pooled connections (default 10). */
      poolSize?: number;
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
      return openSqliteStorage(opts.path, opts);
    }
    case 'postgres': {
      // Loaded on demand: pg is only needed when PostgreSQL is chosen.
      const { openPostgresStorage } = await import('./postgres/index.ts');
      return openPostgresStorage(opts.url, { now: opts.now, purge: opts.purge, poolSize: opts.poolSize });
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
