import type { GrantRecord, GrantStore, RefreshTokenRecord, RotateResult } from '../types.ts';
import { type Database, insertOrConflict, type Row, type Run, statement } from './db.ts';
import type { PostgresPurger } from './purge.ts';
import { int, optInt, setOpt, text, toGrant } from './row.ts';

const INSERT_GRANT = statement(
  'grants_insert',
  `INSERT INTO grants (id, client_id, subject, scopes, resource, auth_time, created_at, expires_at,
     revoked_at, revoked_reason)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
);
const INSERT_TOKEN = statement(
  'refresh_tokens_insert',
  `INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, rotated_at)
   VALUES ($1, $2, $3, $4, $5)`,
);
const GET_LIVE = statement('grants_get_live', 'SELECT * FROM grants WHERE id = $1 AND expires_at > $2');
const FIND_REFRESH = statement(
  'grants_find_refresh',
  `SELECT t.token_hash, t.grant_id, t.created_at AS t_created_at, t.expires_at AS t_expires_at, t.rotated_at,
     g.id, g.client_id, g.subject, g.scopes, g.resource, g.auth_time, g.created_at, g.expires_at,
     g.revoked_at, g.revoked_reason
   FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id
   WHERE t.token_hash = $1 AND t.expires_at > $2 AND g.expires_at > $2`,
);
// The conditional UPDATE that makes rotation one-time: it matches only a current token (unrotated,
// unexpired) of a live, unrevoked grant. A concurrent rotation of the same token waits for the row
// lock and then re-checks `rotated_at IS NULL` against the committed row, so exactly one succeeds.
const MARK_ROTATED = statement(
  'refresh_tokens_mark_rotated',
  `UPDATE refresh_tokens t SET rotated_at = $2
   FROM grants g
   WHERE t.token_hash = $1 AND t.rotated_at IS NULL AND t.expires_at > $2
     AND g.id = t.grant_id AND g.expires_at > $2 AND g.revoked_at IS NULL
   RETURNING g.*`,
);
// Conditional: only a live, unrevoked grant changes, which makes revoke idempotent and atomic.
const REVOKE = statement(
  'grants_revoke',
  `UPDATE grants SET revoked_at = $3, revoked_reason = $2
   WHERE id = $1 AND revoked_at IS NULL AND expires_at > $3`,
);
const BY_SUBJECT = statement(
  'grants_by_subject',
  'SELECT * FROM grants WHERE subject = $1 AND expires_at > $2 ORDER BY created_at, id COLLATE "C"',
);

export class PostgresGrantStore implements GrantStore {
  readonly #db: Database;
  readonly #purger: PostgresPurger;
  readonly #clock: () => number;

  constructor(db: Database, purger: PostgresPurger, clock: () => number) {
    this.#db = db;
    this.#purger = purger;
    this.#clock = clock;
  }

  async create(grant: GrantRecord, firstRefresh?: RefreshTokenRecord): Promise<void> {
    if (firstRefresh && firstRefresh.grantId !== grant.id) {
      throw new Error('refresh token belongs to another grant');
    }
    this.#purger.maybe(grant.createdAt);
    // Both rows or neither: a conflict on the token rolls back the grant.
    await this.#db.transaction(async (run) => {
      await insertOrConflict('grant', () =>
        run(INSERT_GRANT, [
          grant.id,
          grant.clientId,
          grant.subject,
          grant.scopes,
          grant.resource,
          grant.authTime,
          grant.createdAt,
          grant.expiresAt,
          grant.revokedAt ?? null,
          grant.revokedReason ?? null,
        ]),
      );
      if (firstRefresh) await addToken(run, firstRefresh);
    });
  }

  async get(id: string, now = this.#clock()): Promise<GrantRecord | undefined> {
    const { rows } = await this.#db.run(GET_LIVE, [id, now]);
    return rows[0] && toGrant(rows[0]);
  }

  async findRefresh(
    tokenHash: string,
    now = this.#clock(),
  ): Promise<{ token: RefreshTokenRecord; grant: GrantRecord } | undefined> {
    const { rows } = await this.#db.run(FIND_REFRESH, [tokenHash, now]);
    return rows[0] && toFound(rows[0]);
  }

  // RFC 9700 §4.14.2 refresh token rotation: the conditional UPDATE claims the old token and the
  // successor is inserted in the same transaction; if anything fails (wrong grant, duplicate hash,
  // lost connection) both roll back and the old token stays current.
  async rotate(oldHash: string, next: RefreshTokenRecord, now: number): Promise<RotateResult> {
    this.#purger.maybe(now);
    return this.#db.transaction(async (run): Promise<RotateResult> => {
      // A second pass only when the token became current between the UPDATE and the read below
      // (it was inserted by a transaction that committed in between); it cannot happen twice in a row
      // for the same hash, since hashes are unique and a current token only ever becomes rotated.
      for (let attempt = 0; attempt < 2; attempt++) {
        const claimed = await run(MARK_ROTATED, [oldHash, now]);
        const grantRow = claimed.rows[0];
        if (grantRow) {
          const grant = toGrant(grantRow);
          if (next.grantId !== grant.id) throw new Error('refresh token belongs to another grant');
          await addToken(run, next);
          return { status: 'ok', grant };
        }
        // Not claimable: tell why, from the committed state (revoked before reused, as documented).
        const { rows } = await run(FIND_REFRESH, [oldHash, now]);
        if (!rows[0]) return { status: 'missing' };
        const { token, grant } = toFound(rows[0]);
        if (grant.revokedAt !== undefined) return { status: 'revoked', grant };
        if (token.rotatedAt !== undefined) return { status: 'reused', grant, rotatedAt: token.rotatedAt };
      }
      throw new Error('refresh token changed state during rotation');
    });
  }

  async revoke(grantId: string, reason: string, now: number): Promise<boolean> {
    this.#purger.maybe(now);
    return (await this.#db.run(REVOKE, [grantId, reason, now])).rowCount > 0;
  }

  async listBySubject(subject: string, now = this.#clock()): Promise<GrantRecord[]> {
    return (await this.#db.run(BY_SUBJECT, [subject, now])).rows.map(toGrant);
  }
}

function addToken(run: Run, token: RefreshTokenRecord): Promise<void> {
  return insertOrConflict('refresh token', () =>
    run(INSERT_TOKEN, [
      token.tokenHash,
      token.grantId,
      token.createdAt,
      token.expiresAt,
      token.rotatedAt ?? null,
    ]),
  );
}

function toFound(row: Row): { token: RefreshTokenRecord; grant: GrantRecord } {
  const token: RefreshTokenRecord = {
    tokenHash: text(row, 'token_hash'),
    grantId: text(row, 'grant_id'),
    createdAt: int(row, 't_created_at'),
    expiresAt: int(row, 't_expires_at'),
  };
  setOpt(token, 'rotatedAt', optInt(row, 'rotated_at'));
  return { token, grant: toGrant(row) };
}
