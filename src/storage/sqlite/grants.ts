import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { GrantRecord, GrantStore, RefreshTokenRecord, RotateResult } from '../types.ts';
import type { SqlitePurger } from './purge.ts';
import { insertOrConflict, int, optInt, setOpt, text, toGrant } from './row.ts';
import { immediate } from './tx.ts';

export class SqliteGrantStore implements GrantStore {
  readonly #db: DatabaseSync;
  readonly #purger: SqlitePurger;
  readonly #clock: () => number;
  readonly #insertGrant: StatementSync;
  readonly #insertToken: StatementSync;
  readonly #getLive: StatementSync;
  readonly #getToken: StatementSync;
  readonly #findRefresh: StatementSync;
  readonly #markRotated: StatementSync;
  readonly #revoke: StatementSync;
  readonly #bySubject: StatementSync;

  constructor(db: DatabaseSync, purger: SqlitePurger, clock: () => number) {
    this.#db = db;
    this.#purger = purger;
    this.#clock = clock;
    this.#insertGrant = db.prepare(
      `INSERT INTO grants (id, client_id, subject, scopes, resource, auth_time, created_at, expires_at,
         revoked_at, revoked_reason)
       VALUES (:id, :clientId, :subject, :scopes, :resource, :authTime, :createdAt, :expiresAt,
         :revokedAt, :revokedReason)`,
    );
    this.#insertToken = db.prepare(
      `INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, rotated_at)
       VALUES (:tokenHash, :grantId, :createdAt, :expiresAt, :rotatedAt)`,
    );
    this.#getLive = db.prepare('SELECT * FROM grants WHERE id = :id AND expires_at > :now');
    this.#getToken = db.prepare(
      'SELECT * FROM refresh_tokens WHERE token_hash = :hash AND expires_at > :now',
    );
    this.#findRefresh = db.prepare(
      `SELECT t.token_hash, t.grant_id, t.created_at AS t_created_at, t.expires_at AS t_expires_at, t.rotated_at,
         g.id, g.client_id, g.subject, g.scopes, g.resource, g.auth_time, g.created_at, g.expires_at,
         g.revoked_at, g.revoked_reason
       FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id
       WHERE t.token_hash = :hash AND t.expires_at > :now AND g.expires_at > :now`,
    );
    this.#markRotated = db.prepare(
      'UPDATE refresh_tokens SET rotated_at = :now WHERE token_hash = :hash AND rotated_at IS NULL',
    );
    // Conditional: only a live, unrevoked grant changes, which makes revoke idempotent and atomic.
    this.#revoke = db.prepare(
      `UPDATE grants SET revoked_at = :now, revoked_reason = :reason
       WHERE id = :id AND revoked_at IS NULL AND expires_at > :now`,
    );
    this.#bySubject = db.prepare(
      'SELECT * FROM grants WHERE subject = :subject AND expires_at > :now ORDER BY created_at, id',
    );
  }

  async create(grant: GrantRecord, firstRefresh?: RefreshTokenRecord): Promise<void> {
    if (firstRefresh && firstRefresh.grantId !== grant.id) {
      throw new Error('refresh token belongs to another grant');
    }
    this.#purger.maybe(grant.createdAt);
    immediate(this.#db, () => {
      insertOrConflict('grant', () =>
        this.#insertGrant.run({
          id: grant.id,
          clientId: grant.clientId,
          subject: grant.subject,
          scopes: JSON.stringify(grant.scopes),
          resource: grant.resource,
          authTime: grant.authTime,
          createdAt: grant.createdAt,
          expiresAt: grant.expiresAt,
          revokedAt: grant.revokedAt ?? null,
          revokedReason: grant.revokedReason ?? null,
        }),
      );
      if (firstRefresh) this.#addToken(firstRefresh);
    });
  }

  async get(id: string, now = this.#clock()): Promise<GrantRecord | undefined> {
    const row = this.#getLive.get({ id, now });
    return row && toGrant(row);
  }

  async findRefresh(
    tokenHash: string,
    now = this.#clock(),
  ): Promise<{ token: RefreshTokenRecord; grant: GrantRecord } | undefined> {
    const row = this.#findRefresh.get({ hash: tokenHash, now });
    if (!row) return undefined;
    const token: RefreshTokenRecord = {
      tokenHash: text(row, 'token_hash'),
      grantId: text(row, 'grant_id'),
      createdAt: int(row, 't_created_at'),
      expiresAt: int(row, 't_expires_at'),
    };
    setOpt(token, 'rotatedAt', optInt(row, 'rotated_at'));
    return { token, grant: toGrant(row) };
  }

  // BEGIN IMMEDIATE holds the write lock from the first read to the commit, so the token read as
  // current is still current when it is marked: exactly one caller, on any connection, gets 'ok'
  // (RFC 9700 §4.14.2 refresh token rotation).
  async rotate(oldHash: string, next: RefreshTokenRecord, now: number): Promise<RotateResult> {
    this.#purger.maybe(now);
    return immediate(this.#db, (): RotateResult => {
      const tokenRow = this.#getToken.get({ hash: oldHash, now });
      if (!tokenRow) return { status: 'missing' };
      const grantId = text(tokenRow, 'grant_id');
      const grantRow = this.#getLive.get({ id: grantId, now });
      if (!grantRow) return { status: 'missing' };
      const grant = toGrant(grantRow);
      if (grant.revokedAt !== undefined) return { status: 'revoked', grant };
      const rotatedAt = optInt(tokenRow, 'rotated_at');
      if (rotatedAt !== undefined) return { status: 'reused', grant, rotatedAt };
      if (next.grantId !== grantId) throw new Error('refresh token belongs to another grant');
      if (this.#markRotated.run({ hash: oldHash, now }).changes !== 1) {
        throw new Error('refresh token changed inside a write transaction');
      }
      this.#addToken(next);
      return { status: 'ok', grant };
    });
  }

  async revoke(grantId: string, reason: string, now: number): Promise<boolean> {
    this.#purger.maybe(now);
    return this.#revoke.run({ id: grantId, reason, now }).changes > 0;
  }

  async listBySubject(subject: string, now = this.#clock()): Promise<GrantRecord[]> {
    return this.#bySubject.all({ subject, now }).map(toGrant);
  }

  #addToken(token: RefreshTokenRecord): void {
    insertOrConflict('refresh token', () =>
      this.#insertToken.run({
        tokenHash: token.tokenHash,
        grantId: token.grantId,
        createdAt: token.createdAt,
        expiresAt: token.expiresAt,
        rotatedAt: token.rotatedAt ?? null,
      }),
    );
  }
}
