import type { RevocationStore } from '../types.ts';
import { type Database, statement } from './db.ts';
import { changePayload } from './feed.ts';
import type { PostgresPurger } from './purge.ts';
import { int, text } from './row.ts';

const REVOKE = statement(
  'revocations_revoke',
  `INSERT INTO revocations (id, expires_at) VALUES ($1, $2)
   ON CONFLICT (id) DO UPDATE SET expires_at = greatest(revocations.expires_at, excluded.expires_at)`,
);
// The same write (the later expiry wins), announced on the change feed (feed.ts) by the statement
// itself: NOTIFY is delivered when the statement's transaction commits and dropped if it aborts, so a
// committed revocation is always announced and an aborted one never is. Only a new row or a longer
// expiry is written, so only those are announced (as the Redis script does).
const REVOKE_AND_NOTIFY = statement(
  'revocations_revoke_notify',
  `WITH written AS (
     INSERT INTO revocations AS r (id, expires_at) VALUES ($1, $2)
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE r.expires_at < excluded.expires_at
     RETURNING 1
   )
   SELECT pg_notify($3, $4) FROM written`,
);
const IS_REVOKED = statement(
  'revocations_is_revoked',
  'SELECT 1 FROM revocations WHERE id = $1 AND expires_at > $2',
);
const LIST_ACTIVE = statement(
  'revocations_list_active',
  'SELECT id, expires_at FROM revocations WHERE expires_at > $1',
);

export class PostgresRevocationStore implements RevocationStore {
  readonly #db: Database;
  readonly #purger: PostgresPurger;
  readonly #channel: string | undefined;

  /**
   * `channel`: the change feed's channel, told of every new or extended revocation; unset when
   * another store announces them (Redis, composed over this one, publishes on its own feed).
   */
  constructor(db: Database, purger: PostgresPurger, channel?: string) {
    this.#db = db;
    this.#purger = purger;
    this.#channel = channel;
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
    if (this.#channel === undefined) {
      await this.#db.run(REVOKE, [id, expiresAt]);
      return;
    }
    // Refused before anything is written if the announcement could not carry it.
    const payload = changePayload({ type: 'revoked', id, expiresAt });
    await this.#db.run(REVOKE_AND_NOTIFY, [id, expiresAt, this.#channel, payload]);
  }

  async isRevoked(id: string, now: number): Promise<boolean> {
    return (await this.#db.run(IS_REVOKED, [id, now])).rowCount > 0;
  }

  async listActive(now: number): Promise<{ id: string; expiresAt: number }[]> {
    this.#purger.maybe(now);
    return (await this.#db.run(LIST_ACTIVE, [now])).rows.map((row) => ({
      id: text(row, 'id'),
      expiresAt: int(row, 'expires_at'),
    }));
  }
}
