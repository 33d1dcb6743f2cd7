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

/**
 * The backend cannot be reached: refused or dropped connection, connect or query timeout, a server
 * shutting down or still loading (issue #4 "Failure"). Transient by nature: the adapters keep
 * reconnecting, so the caller answers "try again" (503 at the HTTP edge) and must never read it as an
 * answer — an unknown revocation state is not "not revoked", a failed write is not a write. Every
 * adapter throws a subclass (PostgresUnavailableError, RedisUnavailableError) and nothing else for an
 * outage; a conflict stays StorageConflictError and a bug stays what it was.
 */
export class StorageUnavailableError extends Error {
  readonly code = 'STORAGE_UNAVAILABLE';
  /** Which backend: 'postgres', 'redis', … — for logs and readiness, never a URL or credentials. */
  readonly backend: string;

  constructor(backend: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StorageUnavailableError';
    this.backend = backend;
  }
}

export function isStorageUnavailable(err: unknown): err is StorageUnavailableError {
  return err instanceof StorageUnavailableError;
}
