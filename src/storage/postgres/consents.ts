import type { ConsentRecord, ConsentStore } from '../types.ts';
import { type Database, statement } from './db.ts';
import { toConsent } from './row.ts';

const GET = statement(
  'consents_get',
  'SELECT * FROM consents WHERE user_id = $1 AND client_id = $2 AND redirect_uri = $3',
);
const PUT = statement(
  'consents_put',
  `INSERT INTO consents (user_id, client_id, redirect_uri, scopes, granted_at)
   VALUES ($1, $2, $3, $4, $5)
   ON CONFLICT (user_id, client_id, redirect_uri)
   DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
);
const REVOKE = statement('consents_revoke', 'DELETE FROM consents WHERE user_id = $1 AND client_id = $2');

export class PostgresConsentStore implements ConsentStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async get(userId: string, clientId: string, redirectUri: string): Promise<ConsentRecord | undefined> {
    const { rows } = await this.#db.run(GET, [userId, clientId, redirectUri]);
    return rows[0] && toConsent(rows[0]);
  }

  async put(c: ConsentRecord): Promise<void> {
    await this.#db.run(PUT, [c.userId, c.clientId, c.redirectUri, c.scopes, c.grantedAt]);
  }

  async revoke(userId: string, clientId: string): Promise<number> {
    return (await this.#db.run(REVOKE, [userId, clientId])).rowCount;
  }
}
