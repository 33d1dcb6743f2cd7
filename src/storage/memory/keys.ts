import { StorageConflictError } from '../errors.ts';
import type { SigningKeyRecord, SigningKeyStore } from '../types.ts';
import { cmp } from './clients.ts';
import { copy } from './copy.ts';

export class MemorySigningKeyStore implements SigningKeyStore {
  readonly #keys = new Map<string, SigningKeyRecord>();

  async list(): Promise<SigningKeyRecord[]> {
    return [...this.#keys.values()]
      .sort((a, b) => a.createdAt - b.createdAt || cmp(a.kid, b.kid))
      .map((k) => copy(k));
  }

  async put(key: SigningKeyRecord): Promise<void> {
    if (this.#keys.has(key.kid)) throw new StorageConflictError('signing key');
    this.#keys.set(key.kid, copy(key));
  }

  async update(
    kid: string,
    patch: Partial<Pick<SigningKeyRecord, 'status' | 'retiresAt'>>,
  ): Promise<boolean> {
    const key = this.#keys.get(kid);
    if (!key) return false;
    if (patch.status !== undefined) key.status = patch.status;
    if ('retiresAt' in patch) {
      if (patch.retiresAt === undefined) delete key.retiresAt;
      else key.retiresAt = patch.retiresAt;
    }
    return true;
  }
}
