// In-memory Storage: every store in plain Maps. Nothing survives the process; meant for tests and
// development. Each operation's checks and writes happen in one synchronous turn of the event loop,
// which is what makes `consume` and `rotate` atomic here.

import { type PurgeOptions, PurgeSchedule } from '../purge.ts';
import type { Storage } from '../types.ts';
import { MemoryAuditStore } from './audit.ts';
import { MemoryClientStore } from './clients.ts';
import { MemoryCodeStore } from './codes.ts';
import { MemoryConsentStore } from './consents.ts';
import { MemoryGrantStore } from './grants.ts';
import { MemorySigningKeyStore } from './keys.ts';
import { MemoryRevocationStore } from './revocations.ts';
import { MemoryUserStore } from './users.ts';

export interface MemoryStorageOptions {
  /** Clock for reads that take no `now` (default Date.now). */
  now?: () => number;
  purge?: PurgeOptions;
  /** Audit records kept (newest); default 10 000. */
  maxAuditRecords?: number;
}

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  readonly clients: MemoryClientStore;
  readonly users: MemoryUserStore;
  readonly consents: MemoryConsentStore;
  readonly codes: MemoryCodeStore;
  readonly grants: MemoryGrantStore;
  readonly revocations: MemoryRevocationStore;
  readonly keys: MemorySigningKeyStore;
  readonly audit: MemoryAuditStore;
  #closed = false;

  constructor(options: MemoryStorageOptions = {}) {
    const clock = options.now ?? Date.now;
    this.consents = new MemoryConsentStore();
    this.clients = new MemoryClientStore(this.consents);
    this.users = new MemoryUserStore(this.consents);
    this.codes = new MemoryCodeStore(new PurgeSchedule(options.purge));
    this.grants = new MemoryGrantStore(new PurgeSchedule(options.purge), clock);
    this.revocations = new MemoryRevocationStore(new PurgeSchedule(options.purge));
    this.keys = new MemorySigningKeyStore();
    this.audit = new MemoryAuditStore(options.maxAuditRecords, options.purge?.auditRetentionMs);
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new Error('storage is closed');
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

export function openMemoryStorage(options?: MemoryStorageOptions): MemoryStorage {
  return new MemoryStorage(options);
}
