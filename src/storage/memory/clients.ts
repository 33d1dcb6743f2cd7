import { StorageConflictError } from '../errors.ts';
import type { ClientRecord, ClientStore } from '../types.ts';
import type { MemoryConsentStore } from './consents.ts';
import { copy } from './copy.ts';

export class MemoryClientStore implements ClientStore {
  readonly #clients = new Map<string, ClientRecord>();
  readonly #consents: MemoryConsentStore;

  constructor(consents: MemoryConsentStore) {
    this.#consents = consents;
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    const found = this.#clients.get(clientId);
    return found && copy(found);
  }

  async create(client: ClientRecord): Promise<void> {
    if (this.#clients.has(client.clientId)) throw new StorageConflictError('client');
    this.#clients.set(client.clientId, copy(client));
  }

  async delete(clientId: string): Promise<boolean> {
    if (!this.#clients.delete(clientId)) return false;
    this.#consents.deleteClient(clientId);
    return true;
  }

  async list(): Promise<ClientRecord[]> {
    return [...this.#clients.values()]
      .sort((a, b) => a.createdAt - b.createdAt || cmp(a.clientId, b.clientId))
      .map((c) => copy(c));
  }
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
