import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { AuthorizationCodeRecord, AuthorizationCodeStore, ConsumeResult } from '../types.ts';
import type { SqlitePurger } from './purge.ts';
import { insertOrConflict, toCode } from './row.ts';

export class SqliteCodeStore implements AuthorizationCodeStore {
  readonly #insert: StatementSync;
  readonly #claim: StatementSync;
  readonly #getLive: StatementSync;
  readonly #markRedeemed: StatementSync;
  readonly #purger: SqlitePurger;

  constructor(db: DatabaseSync, purger: SqlitePurger) {
    this.#purger = purger;
    this.#insert = db.prepare(
      `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scopes, resource,
         code_challenge, code_challenge_method, auth_time, expires_at, grant_id)
       VALUES (:codeHash, :clientId, :userId, :redirectUri, :scopes, :resource,
         :codeChallenge, :codeChallengeMethod, :authTime, :expiresAt, :grantId)`,
    );
    // One conditional UPDATE is the whole check-and-mark: SQLite runs it under the database write
    // lock, so of any number of callers (any connection, any process) exactly one changes the row
    // (RFC 6749 §4.1.2 "MUST NOT use the authorization code more than once").
    this.#claim = db.prepare(
      `UPDATE authorization_codes SET consumed_at = :now
       WHERE code_hash = :hash AND consumed_at IS NULL AND expires_at > :now
       RETURNING *`,
    );
    this.#getLive = db.prepare(
      'SELECT * FROM authorization_codes WHERE code_hash = :hash AND expires_at > :now',
    );
    this.#markRedeemed = db.prepare('UPDATE authorization_codes SET grant_id = ? WHERE code_hash = ?');
  }

  async put(code: AuthorizationCodeRecord): Promise<void> {
    insertOrConflict('authorization code', () =>
      this.#insert.run({
        codeHash: code.codeHash,
        clientId: code.clientId,
        userId: code.userId,
        redirectUri: code.redirectUri,
        scopes: JSON.stringify(code.scopes),
        resource: code.resource,
        codeChallenge: code.codeChallenge,
        codeChallengeMethod: code.codeChallengeMethod,
        authTime: code.authTime,
        expiresAt: code.expiresAt,
        grantId: code.grantId ?? null,
      }),
    );
  }

  async consume(codeHash: string, now: number): Promise<ConsumeResult<AuthorizationCodeRecord>> {
    this.#purger.maybe(now);
    const claimed = this.#claim.get({ hash: codeHash, now });
    if (claimed) return { status: 'ok', record: toCode(claimed) };
    // Not claimable: unknown, expired, or consumed before (a consumed row never becomes unconsumed).
    const row = this.#getLive.get({ hash: codeHash, now });
    return row && row.consumed_at !== null
      ? { status: 'replayed', record: toCode(row) }
      : { status: 'missing' };
  }

  async markRedeemed(codeHash: string, grantId: string): Promise<void> {
    this.#markRedeemed.run(grantId, codeHash);
  }
}
