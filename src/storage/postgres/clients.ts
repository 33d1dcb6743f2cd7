import type { ClientRecord, ClientStore } from '../types.ts';
import { type Database, insertOrConflict, type Row, statement } from './db.ts';
import { int, object, optInt, optText, setOpt, strings, text } from './row.ts';

const GET = statement('clients_get', 'SELECT * FROM clients WHERE client_id = $1');
const INSERT = statement(
  'clients_insert',
  `INSERT INTO clients (client_id, secret_hash, secret_expires_at, source, redirect_uris, grant_types,
     response_types, token_endpoint_auth_method, scope, client_name, metadata, created_at)
   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::json, $12)`,
);
// The clients_delete_consents trigger removes the client's consents in the same statement.
const DELETE = statement('clients_delete', 'DELETE FROM clients WHERE client_id = $1');
const LIST = statement('clients_list', 'SELECT * FROM clients ORDER BY created_at, client_id COLLATE "C"');

export class PostgresClientStore implements ClientStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const { rows } = await this.#db.run(GET, [clientId]);
    return rows[0] && toClient(rows[0]);
  }

  async create(c: ClientRecord): Promise<void> {
    await insertOrConflict('client', () =>
      this.#db.run(INSERT, [
        c.clientId,
        c.secretHash ?? null,
        c.secretExpiresAt ?? null,
        c.source,
        c.redirectUris,
        c.grantTypes,
        c.responseTypes,
        c.tokenEndpointAuthMethod,
        c.scope ?? null,
        c.clientName ?? null,
        JSON.stringify(c.metadata),
        c.createdAt,
      ]),
    );
  }

  async delete(clientId: string): Promise<boolean> {
    return (await this.#db.run(DELETE, [clientId])).rowCount > 0;
  }

  async list(): Promise<ClientRecord[]> {
    return (await this.#db.run(LIST, [])).rows.map(toClient);
  }
}

function toClient(row: Row): ClientRecord {
  const client: ClientRecord = {
    clientId: text(row, 'client_id'),
    source: text(row, 'source') as ClientRecord['source'],
    redirectUris: strings(row, 'redirect_uris'),
    grantTypes: strings(row, 'grant_types'),
    responseTypes: strings(row, 'response_types'),
    tokenEndpointAuthMethod: text(
      row,
      'token_endpoint_auth_method',
    ) as ClientRecord['tokenEndpointAuthMethod'],
    metadata: object(row, 'metadata'),
    createdAt: int(row, 'created_at'),
  };
  setOpt(client, 'secretHash', optText(row, 'secret_hash'));
  setOpt(client, 'secretExpiresAt', optInt(row, 'secret_expires_at'));
  setOpt(client, 'scope', optText(row, 'scope'));
  setOpt(client, 'clientName', optText(row, 'client_name'));
  return client;
}
