// Where a client_id is looked up, in order: clients persisted in storage (dynamic registration and
// `keyhole clients add`), clients from the configuration, then — when the id is an https URL and the
// feature is on — its Client ID Metadata Document (MCP 2026-07-28 basic/authorization/client-registration).

import type { Logger } from '../../observability/logger.ts';
import { silentLogger } from '../../observability/logger.ts';
import type { ClientRecord, ClientStore } from '../../storage/types.ts';
import { type CimdResolver, isCimdClientId } from './cimd.ts';
import { type AuthMethod, REGISTRATION_RULES, validateClientMetadata } from './metadata.ts';

export type ClientLookup =
  | { status: 'found'; client: ClientRecord }
  | { status: 'unknown' }
  /** A metadata-document client whose document could not be used; `reason` is safe to show. */
  | { status: 'invalid'; reason: string };

export interface ClientRegistryOptions {
  clients: ClientStore;
  /** Client ID Metadata Documents; absent = off. */
  cimd?: CimdResolver;
  logger?: Logger;
  now?: () => number;
}

/** A client from configuration. The secret, if any, is given already hashed (see secrets.ts). */
export interface StaticClient {
  clientId: string;
  secretHash?: string;
  redirectUris?: string[];
  grantTypes?: string[];
  responseTypes?: string[];
  tokenEndpointAuthMethod?: AuthMethod;
  scope?: string;
  clientName?: string;
}

export class ClientRegistry {
  readonly #clients: ClientStore;
  readonly #cimd: CimdResolver | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #static = new Map<string, ClientRecord>();

  constructor(options: ClientRegistryOptions) {
    this.#clients = options.clients;
    this.#cimd = options.cimd;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** Whether metadata-document client ids are resolved. */
  get cimdEnabled(): boolean {
    return this.#cimd !== undefined;
  }

  /** The client, or undefined when unknown or unusable. */
  async get(clientId: string): Promise<ClientRecord | undefined> {
    const found = await this.lookup(clientId);
    return found.status === 'found' ? found.client : undefined;
  }

  /** Like get(), but says why a metadata-document client cannot be used (for the error page and audit). */
  async lookup(clientId: string): Promise<ClientLookup> {
    if (clientId.length === 0) return { status: 'unknown' };
    const stored = await this.#clients.get(clientId);
    if (stored !== undefined) return { status: 'found', client: stored };
    const configured = this.#static.get(clientId);
    if (configured !== undefined) return { status: 'found', client: configured };
    if (this.#cimd === undefined || !isCimdClientId(clientId)) return { status: 'unknown' };
    const result = await this.#cimd.resolve(clientId);
    if (result.ok) return { status: 'found', client: result.client };
    this.#logger.warn('client metadata document rejected', { clientId, reason: result.reason });
    return { status: 'invalid', reason: result.reason };
  }

  /**
   * Adds a client from the configuration (kept in memory, never persisted). Its metadata passes the
   * same rules as a registration; a bad entry throws, naming the client and the rule.
   */
  registerStatic(input: StaticClient): ClientRecord {
    if (input.clientId.trim() === '' || input.clientId !== input.clientId.trim()) {
      throw new Error('static client: client_id must be a non-empty string without surrounding spaces');
    }
    if (this.#static.has(input.clientId)) throw new Error(`static client ${input.clientId}: defined twice`);
    const method =
      input.tokenEndpointAuthMethod ?? (input.secretHash !== undefined ? 'client_secret_basic' : 'none');
    if ((method === 'none') !== (input.secretHash === undefined)) {
      throw new Error(
        `static client ${input.clientId}: a client secret goes with client_secret_basic or client_secret_post, and only with them`,
      );
    }
    const checked = validateClientMetadata(
      {
        redirect_uris: input.redirectUris,
        grant_types: input.grantTypes,
        response_types: input.responseTypes,
        token_endpoint_auth_method: method,
        scope: input.scope,
        client_name: input.clientName,
      },
      REGISTRATION_RULES,
    );
    if (!checked.ok) throw new Error(`static client ${input.clientId}: ${checked.description}`);
    const v = checked.value;
    const client: ClientRecord = {
      clientId: input.clientId,
      ...(input.secretHash !== undefined ? { secretHash: input.secretHash, secretExpiresAt: 0 } : {}),
      source: 'static',
      redirectUris: v.redirectUris,
      grantTypes: v.grantTypes,
      responseTypes: v.responseTypes,
      tokenEndpointAuthMethod: v.tokenEndpointAuthMethod,
      ...(v.scope !== undefined ? { scope: v.scope } : {}),
      ...(v.clientName !== undefined ? { clientName: v.clientName } : {}),
      metadata: {},
      createdAt: this.#now(),
    };
    this.#static.set(client.clientId, client);
    return client;
  }

  /** Clients from the configuration. */
  staticClients(): ClientRecord[] {
    return [...this.#static.values()];
  }
}
