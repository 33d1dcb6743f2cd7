// One Storage from two backends: durable records (clients, users, consents, grants, keys, audit) from
// the SQL store, fast expiring state (authorization codes, revocations) from Redis (issue #4
// "Adapters"). Endpoints still see one `Storage`; health and shutdown cover both backends.

import type { AuthorizationCodeStore, ChangeFeed, RevocationStore, Storage } from './types.ts';

export interface FastStores {
  readonly codes: AuthorizationCodeStore;
  readonly revocations: RevocationStore;
  readonly changes?: ChangeFeed;
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
    revocations: fast.revocations,
    keys: durable.keys,
    audit: durable.audit,
    ...(fast.changes ? { changes: fast.changes } : {}),
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
