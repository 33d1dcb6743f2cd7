import { StorageConflictError } from '../errors.ts';
import type { PurgeSchedule } from '../purge.ts';
import type { GrantRecord, GrantStore, RefreshTokenRecord, RotateResult } from '../types.ts';
import { cmp } from './clients.ts';
import { copy } from './copy.ts';

export class MemoryGrantStore implements GrantStore {
  readonly #grants = new Map<string, GrantRecord>();
  readonly #tokens = new Map<string, RefreshTokenRecord>();
  /** grant id -> its refresh-token hashes, so a grant's family goes with it. */
  readonly #family = new Map<string, Set<string>>();
  readonly #purge: PurgeSchedule;
  readonly #clock: () => number;

  constructor(purge: PurgeSchedule, clock: () => number) {
    this.#purge = purge;
    this.#clock = clock;
  }

  async create(grant: GrantRecord, firstRefresh?: RefreshTokenRecord): Promise<void> {
    this.purge(grant.createdAt);
    if (this.#grants.has(grant.id)) throw new StorageConflictError('grant');
    if (firstRefresh) {
      if (firstRefresh.grantId !== grant.id) throw new Error('refresh token belongs to another grant');
      if (this.#tokens.has(firstRefresh.tokenHash)) throw new StorageConflictError('refresh token');
    }
    this.#grants.set(grant.id, copy(grant));
    this.#family.set(grant.id, new Set());
    if (firstRefresh) this.#addToken(firstRefresh);
  }

  async get(id: string, now = this.#clock()): Promise<GrantRecord | undefined> {
    const grant = this.#live(id, now);
    return grant && copy(grant);
  }

  async findRefresh(
    tokenHash: string,
    now = this.#clock(),
  ): Promise<{ token: RefreshTokenRecord; grant: GrantRecord } | undefined> {
    const token = this.#tokens.get(tokenHash);
    if (!token || token.expiresAt <= now) return undefined;
    const grant = this.#live(token.grantId, now);
    return grant && { token: copy(token), grant: copy(grant) };
  }

  // Every check and both writes run in one synchronous turn, so exactly one concurrent caller
  // sees the token current (RFC 9700 §4.14.2 refresh token rotation).
  async rotate(oldHash: string, next: RefreshTokenRecord, now: number): Promise<RotateResult> {
    this.purge(now);
    const token = this.#tokens.get(oldHash);
    if (!token || token.expiresAt <= now) return { status: 'missing' };
    const grant = this.#live(token.grantId, now);
    if (!grant) return { status: 'missing' };
    if (grant.revokedAt !== undefined) return { status: 'revoked', grant: copy(grant) };
    if (token.rotatedAt !== undefined) {
      return { status: 'reused', grant: copy(grant), rotatedAt: token.rotatedAt };
    }
    if (next.grantId !== token.grantId) throw new Error('refresh token belongs to another grant');
    if (this.#tokens.has(next.tokenHash)) throw new StorageConflictError('refresh token');
    token.rotatedAt = now;
    this.#addToken(next);
    return { status: 'ok', grant: copy(grant) };
  }

  async revoke(grantId: string, reason: string, now: number): Promise<boolean> {
    this.purge(now);
    const grant = this.#live(grantId, now);
    if (!grant || grant.revokedAt !== undefined) return false;
    grant.revokedAt = now;
    grant.revokedReason = reason;
    return true;
  }

  async listBySubject(subject: string, now = this.#clock()): Promise<GrantRecord[]> {
    const out: GrantRecord[] = [];
    for (const grant of this.#grants.values()) {
      if (grant.subject === subject && grant.expiresAt > now) out.push(copy(grant));
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id));
  }

  purge(now: number): void {
    if (!this.#purge.due(now)) return;
    for (const [id, grant] of this.#grants) if (grant.expiresAt <= now) this.#deleteGrant(id);
    for (const [hash, token] of this.#tokens) {
      if (token.expiresAt <= now) {
        this.#tokens.delete(hash);
        this.#family.get(token.grantId)?.delete(hash);
      }
    }
    this.#purge.done(now, true);
  }

  #live(id: string, now: number): GrantRecord | undefined {
    const grant = this.#grants.get(id);
    return grant && grant.expiresAt > now ? grant : undefined;
  }

  #addToken(token: RefreshTokenRecord): void {
    this.#tokens.set(token.tokenHash, copy(token));
    this.#family.get(token.grantId)?.add(token.tokenHash);
  }

  #deleteGrant(id: string): void {
    for (const hash of this.#family.get(id) ?? []) this.#tokens.delete(hash);
    this.#family.delete(id);
    this.#grants.delete(id);
  }
}
