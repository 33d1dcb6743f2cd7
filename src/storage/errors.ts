// Storage failures a caller may want to tell apart from an outage.

/** A create/put hit an existing key (client id, username, code hash, grant id, refresh hash, kid). */
export class StorageConflictError extends Error {
  readonly code = 'STORAGE_CONFLICT';
  /** The record kind, e.g. 'client' — never the key itself, which may be derived from a secret. */
  readonly kind: string;

  constructor(kind: string, options?: ErrorOptions) {
    super(`${kind} already exists`, options);
    this.name = 'StorageConflictError';
    this.kind = kind;
  }
}

export function isStorageConflict(err: unknown): err is StorageConflictError {
  return err instanceof StorageConflictError;
}
