import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { RevocationStore } from '../types.ts';
import type { SqlitePurger } from './purge.ts';
import { int, text } from './row.ts';

export class SqliteRevocationStore implements RevocationStore {
  readonly #purger: SqlitePurger;
  readonly #revoke: StatementSync;
  readonly #isRevoked: StatementSync;
  readonly #listActive: StatementSync;

  constructor(db: DatabaseSync, purger: SqlitePurger) {
    this.#purger = purger;
    this.#revoke = db.prepare(
      `INSERT INTO revocations (id, expires_at) VALUES (:id, :expiresAt)
       ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    );
    this.#isRevoked = db.prepare('SELECT 1 FROM revocations WHERE id = :id AND expires_at > :now');
    this.#listActive = db.prepare('SELECT id, expires_at FROM revocations WHERE expires_at > :now');
  }

  async revoke(id: string, expiresAt: number): Promise<void> {
    this.#revoke.run({ id, expiresAt });
  }

  async isRevoked(id: string, now: number): Promise<boolean> {
    return this.#isRevoked.get({ id, now }) !== undefined;
  }

  async listActive(now: number): Promise<{ id: string; expiresAt: number }[]> {
    this.#purger.maybe(now);
    return this.#listActive
      .all({ now })
      .map((row) => ({ id: text(row, 'id'), expiresAt: int(row, 'expires_at') }));
  }
}
