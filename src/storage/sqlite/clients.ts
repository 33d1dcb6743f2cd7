import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ClientRecord, ClientStore } from '../types.ts';
import { insertOrConflict, int, json, optInt, optText, type Row, setOpt, strings, text } from './row.ts';

export class SqliteClientStore implements ClientStore {
  readonly #get: StatementSync;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #list: StatementSync;

  constructor(db: DatabaseSync) {
    this.#get = db.prepare('SELECT * FROM clients WHERE client_id = ?');
    this.#insert = db.prepare(
      `INSERT INTO clients (client_id, secret_hash, secret_expires_at, source, redirect_uris, grant_types,
         response_types, token_endpoint_auth_method, scope, client_name, metadata, created_at)
       VALUES (:clientId, :secretHash, :secretExpiresAt, :source, :redirectUris, :grantTypes,
         :responseTypes, :authMethod, :scope, :clientName, :metadata, :createdAt)`,
    );
    // The clients_delete_consents trigger removes the client's consents in the same statement.
    this.#delete = db.prepare('DELETE FROM clients WHERE client_id = ?');
    this.#list = db.prepare('SELECT * FROM clients ORDER BY created_at, client_id');
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const row = this.#get.get(clientId);
    return row && toClient(row);
  }

  async create(c: ClientRecord): Promise<void> {
    insertOrConflict('client', () =>
      this.#insert.run({
        clientId: c.clientId,
        secretHash: c.secretHash ?? null,
        secretExpiresAt: c.secretExpiresAt ?? null,
        source: c.source,
        redirectUris: JSON.stringify(c.redirectUris),
        grantTypes: JSON.stringify(c.grantTypes),
        responseTypes: JSON.stringify(c.responseTypes),
        authMethod: c.tokenEndpointAuthMethod,
        scope: c.scope ?? null,
        clientName: c.clientName ?? null,
        metadata: JSON.stringify(c.metadata),
        createdAt: c.createdAt,
      }),
    );
  }

  async delete(clientId: string): Promise<boolean> {
    return this.#delete.run(clientId).changes > 0;
  }

  async list(): Promise<ClientRecord[]> {
    return this.#list.all().map(toClient);
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
    metadata: json<Record<string, unknown>>(row, 'metadata'),
    createdAt: int(row, 'created_at'),
  };
  setOpt(client, 'secretHash', optText(row, 'secret_hash'));
  setOpt(client, 'secretExpiresAt', optInt(row, 'secret_expires_at'));
  setOpt(client, 'scope', optText(row, 'scope'));
  setOpt(client, 'clientName', optText(row, 'client_name'));
  return client;
}
