// One Storage from two backends: durable records (clients, users, consents, grants, keys, audit) from
// the SQL store, fast expiring state (authorization codes, revocations) from Redis (issue #4
// "Adapters"). Endpoints still see one `Storage`; health and shutdown cover both backends.

import type { RedisConnections } from './redis/client.ts';
import type { AuthorizationCodeStore, ChangeFeed, RevocationStore, Storage } from './types.ts';

export interface FastStores {
  readonly codes: AuthorizationCodeStore;
  /** With `backedBy`, the durable store keeps the revocations and this one is its fast copy. */
  readonly revocations: RevocationStore & { backedBy?(durable: RevocationStore): RevocationStore };
  readonly changes?: ChangeFeed;
  /** Connections lent to the app wiring (Storage.redis). */
  readonly redis?: RedisConnections;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function composeStorage(durable: Storage, fast: FastStores): Storage {
  return {
    kind: durable.kind,
    clients: durable.clients,
    users: durable.users,
    consents: durable.consents,
    codes: fast.codes,
    grants: durable.grants,
    // Revocations must survive a Redis that restarts empty: written to the database too, and restored
    // from it when Redis has lost them (redis/revocations.ts).
    revocations: fast.revocations.backedBy?.(durable.revocations) ?? fast.revocations,
    keys: durable.keys,
    audit: durable.audit,
    ...(fast.changes ? { changes: fast.changes } : {}),
    ...(fast.redis ? { redis: fast.redis } : {}),
    async ping() {
      await Promise.all([durable.ping(), fast.ping()]);
    },
    async health() {
      const [d, f] = await Promise.allSettled([durable.ping(), fast.ping()]);
      return {
        [durable.kind === 'postgres' ? 'database' : durable.kind]:
          d.status === 'fulfilled' ? 'ok' : 'unavailable',
        redis: f.status === 'fulfilled' ? 'ok' : 'unavailable',
      };
    },
    // Both are closed even if one fails; the first failure is reported.
    async close() {
      const results = await Promise.allSettled([durable.close(), fast.close()]);
      for (const r of results) if (r.status === 'rejected') throw r.reason;
    },
  };
}
