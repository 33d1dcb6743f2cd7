import type { RevocationStore } from '../types.ts';
import { type Database, statement } from './db.ts';
import type { PostgresPurger } from './purge.ts';
import { int, text } from './row.ts';

const REVOKE = statement(
  'revocations_revoke',
  `INSERT INTO revocations (id, expires_at) VALUES ($1, $2)
   ON CONFLICT (id) DO UPDATE SET expires_at = greatest(revocations.expires_at, excluded.expires_at)`,
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

  constructor(db: Database, purger: PostgresPurger) {
    this.#db = db;
    this.#purger = purger;
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
    await this.#db.run(REVOKE, [id, expiresAt]);
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
