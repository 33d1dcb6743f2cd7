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
    default:
      throw new Error(`unknown storage kind: ${(opts as { kind: unknown }).kind}`);
  }
}
