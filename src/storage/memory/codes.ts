import { StorageConflictError } from '../errors.ts';
import type { PurgeSchedule } from '../purge.ts';
import type { AuthorizationCodeRecord, AuthorizationCodeStore, ConsumeResult } from '../types.ts';
import { copy } from './copy.ts';

interface Entry {
  record: AuthorizationCodeRecord;
  consumedAt?: number;
}

export class MemoryCodeStore implements AuthorizationCodeStore {
  readonly #codes = new Map<string, Entry>();
  readonly #purge: PurgeSchedule;

  constructor(purge: PurgeSchedule) {
    this.#purge = purge;
  }

  async put(code: AuthorizationCodeRecord): Promise<void> {
    if (this.#codes.has(code.codeHash)) throw new StorageConflictError('authorization code');
    this.#codes.set(code.codeHash, { record: copy(code) });
  }

  // Check and mark happen in one synchronous turn: no other caller can interleave (RFC 6749 §4.1.2
  // "The client MUST NOT use the authorization code more than once").
  async consume(codeHash: string, now: number): Promise<ConsumeResult<AuthorizationCodeRecord>> {
    this.purge(now);
    const entry = this.#codes.get(codeHash);
    if (!entry || entry.record.expiresAt <= now) return { status: 'missing' };
    if (entry.consumedAt !== undefined) return { status: 'replayed', record: copy(entry.record) };
    entry.consumedAt = now;
    return { status: 'ok', record: copy(entry.record) };
  }

  async markRedeemed(codeHash: string, grantId: string): Promise<void> {
    const entry = this.#codes.get(codeHash);
    if (entry) entry.record.grantId = grantId;
  }

  purge(now: number): void {
    if (!this.#purge.due(now)) return;
    for (const [hash, entry] of this.#codes) if (entry.record.expiresAt <= now) this.#codes.delete(hash);
    this.#purge.done(now, true);
  }
}
