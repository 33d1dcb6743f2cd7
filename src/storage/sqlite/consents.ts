import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ConsentRecord, ConsentStore } from '../types.ts';
import { toConsent } from './row.ts';

export class SqliteConsentStore implements ConsentStore {
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #revoke: StatementSync;

  constructor(db: DatabaseSync) {
    this.#get = db.prepare('SELECT * FROM consents WHERE user_id = ? AND client_id = ? AND redirect_uri = ?');
    this.#put = db.prepare(
      `INSERT INTO consents (user_id, client_id, redirect_uri, scopes, granted_at)
       VALUES (:userId, :clientId, :redirectUri, :scopes, :grantedAt)
       ON CONFLICT (user_id, client_id, redirect_uri)
       DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
    );
    this.#revoke = db.prepare('DELETE FROM consents WHERE user_id = ? AND client_id = ?');
  }

  async get(userId: string, clientId: string, redirectUri: string): Promise<ConsentRecord | undefined> {
    const row = this.#get.get(userId, clientId, redirectUri);
    return row && toConsent(row);
  }

  async put(c: ConsentRecord): Promise<void> {
    this.#put.run({
      userId: c.userId,
      clientId: c.clientId,
      redirectUri: c.redirectUri,
      scopes: JSON.stringify(c.scopes),
      grantedAt: c.grantedAt,
    });
  }

  async revoke(userId: string, clientId: string): Promise<number> {
    return Number(this.#revoke.run(userId, clientId).changes);
  }
}
