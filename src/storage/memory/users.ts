import { StorageConflictError } from '../errors.ts';
import type { UserRecord, UserStore } from '../types.ts';
import { cmp } from './clients.ts';
import type { MemoryConsentStore } from './consents.ts';
import { copy } from './copy.ts';

export class MemoryUserStore implements UserStore {
  readonly #byId = new Map<string, UserRecord>();
  readonly #idByUsername = new Map<string, string>();
  readonly #consents: MemoryConsentStore;

  constructor(consents: MemoryConsentStore) {
    this.#consents = consents;
  }

  async get(id: string): Promise<UserRecord | undefined> {
    const found = this.#byId.get(id);
    return found && copy(found);
  }

  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const id = this.#idByUsername.get(username);
    return id === undefined ? undefined : this.get(id);
  }

  async create(user: UserRecord): Promise<void> {
    if (this.#byId.has(user.id) || this.#idByUsername.has(user.username))
      throw new StorageConflictError('user');
    this.#byId.set(user.id, copy(user));
    this.#idByUsername.set(user.username, user.id);
  }

  async setPassword(id: string, passwordHash: string): Promise<boolean> {
    const user = this.#byId.get(id);
    if (!user) return false;
    user.passwordHash = passwordHash;
    return true;
  }

  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    const user = this.#byId.get(id);
    if (!user) return false;
    user.disabled = disabled;
    return true;
  }

  async delete(id: string): Promise<boolean> {
    const user = this.#byId.get(id);
    if (!user) return false;
    this.#byId.delete(id);
    this.#idByUsername.delete(user.username);
    this.#consents.deleteUser(id);
    return true;
  }

  async list(): Promise<UserRecord[]> {
    return [...this.#byId.values()]
      .sort((a, b) => a.createdAt - b.createdAt || cmp(a.username, b.username))
      .map((u) => copy(u));
  }
}
