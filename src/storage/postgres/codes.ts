import type { AuthorizationCodeRecord, AuthorizationCodeStore, ConsumeResult } from '../types.ts';
import { type Database, insertOrConflict, statement } from './db.ts';
import type { PostgresPurger } from './purge.ts';
import { toCode } from './row.ts';

const INSERT = statement(
  'codes_insert',
  `INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scopes, resource,
     code_challenge, code_challenge_method, auth_time, expires_at, grant_id)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
);
// One conditional UPDATE is the whole check-and-mark. Under READ COMMITTED a concurrent UPDATE of the
// same row waits for the row lock, then re-checks the WHERE clause against the committed row: once
// one caller has set consumed_at, every other finds no row. So of any number of callers (any pool,
// any replica) exactly one gets it (RFC 6749 §4.1.2 "MUST NOT use the authorization code more than once").
const CLAIM = statement(
  'codes_claim',
  `UPDATE authorization_codes SET consumed_at = $2
   WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2
   RETURNING *`,
);
const GET_LIVE = statement(
  'codes_get_live',
  'SELECT * FROM authorization_codes WHERE code_hash = $1 AND expires_at > $2',
);
const MARK_REDEEMED = statement(
  'codes_mark_redeemed',
  'UPDATE authorization_codes SET grant_id = $2 WHERE code_hash = $1',
);

export class PostgresCodeStore implements AuthorizationCodeStore {
  readonly #db: Database;
  readonly #purger: PostgresPurger;

  constructor(db: Database, purger: PostgresPurger) {
    this.#db = db;
    this.#purger = purger;
  }

  async put(code: AuthorizationCodeRecord): Promise<void> {
    await insertOrConflict('authorization code', () =>
      this.#db.run(INSERT, [
        code.codeHash,
        code.clientId,
        code.userId,
        code.redirectUri,
        code.scopes,
        code.resource,
        code.codeChallenge,
        code.codeChallengeMethod,
        code.authTime,
        code.expiresAt,
        code.grantId ?? null,
      ]),
    );
  }

  async consume(codeHash: string, now: number): Promise<ConsumeResult<AuthorizationCodeRecord>> {
    this.#purger.maybe(now);
    const claimed = await this.#db.run(CLAIM, [codeHash, now]);
    if (claimed.rows[0]) return { status: 'ok', record: toCode(claimed.rows[0]) };
    // Not claimable: unknown, expired, or consumed before (a consumed row never becomes unconsumed).
    const { rows } = await this.#db.run(GET_LIVE, [codeHash, now]);
    const row = rows[0];
    return row && row.consumed_at !== null
      ? { status: 'replayed', record: toCode(row) }
      : { status: 'missing' };
  }

  async markRedeemed(codeHash: string, grantId: string): Promise<void> {
    await this.#db.run(MARK_REDEEMED, [codeHash, grantId]);
  }
}
