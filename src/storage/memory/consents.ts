import type { ConsentRecord, ConsentStore } from '../types.ts';
import { copy } from './copy.ts';

// userId -> clientId -> redirectUri -> consent
type Tree = Map<string, Map<string, Map<string, ConsentRecord>>>;

export class MemoryConsentStore implements ConsentStore {
  readonly #tree: Tree = new Map();

  async get(userId: string, clientId: string, redirectUri: string): Promise<ConsentRecord | undefined> {
    const found = this.#tree.get(userId)?.get(clientId)?.get(redirectUri);
    return found && copy(found);
  }

  async put(consent: ConsentRecord): Promise<void> {
    let byClient = this.#tree.get(consent.userId);
    if (!byClient) {
      byClient = new Map();
      this.#tree.set(consent.userId, byClient);
    }
    let byRedirect = byClient.get(consent.clientId);
    if (!byRedirect) {
      byRedirect = new Map();
      byClient.set(consent.clientId, byRedirect);
    }
    byRedirect.set(consent.redirectUri, copy(consent));
  }

  async revoke(userId: string, clientId: string): Promise<number> {
    const byClient = this.#tree.get(userId);
    const n = byClient?.get(clientId)?.size ?? 0;
    byClient?.delete(clientId);
    if (byClient?.size === 0) this.#tree.delete(userId);
    return n;
  }

  /** Cascade of a user's deletion. */
  deleteUser(userId: string): void {
    this.#tree.delete(userId);
  }

  /** Cascade of a client's deletion. */
  deleteClient(clientId: string): void {
    for (const [userId, byClient] of this.#tree) {
      byClient.delete(clientId);
      if (byClient.size === 0) this.#tree.delete(userId);
    }
  }
}
