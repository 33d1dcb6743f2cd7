// The SQLite schema as an ordered list of migrations: entry i is schema version i + 1. Applied in
// order, each in the opening transaction, and recorded in `schema_migrations` (see migrate.ts).
// Never edit a released entry: append a new one. The layout is documented in docs/storage.md.
// Times are epoch milliseconds; arrays and objects are JSON text; secrets appear only as hashes.

export const MIGRATIONS: readonly string[] = [
  // 1: the authorization server's records.
  `
  CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT,
    secret_expires_at INTEGER,
    source TEXT NOT NULL CHECK (source IN ('dynamic', 'static', 'cimd')),
    redirect_uris TEXT NOT NULL CHECK (json_valid(redirect_uris)),
    grant_types TEXT NOT NULL CHECK (json_valid(grant_types)),
    response_types TEXT NOT NULL CHECK (json_valid(response_types)),
    token_endpoint_auth_method TEXT NOT NULL
      CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    scope TEXT,
    client_name TEXT,
    metadata TEXT NOT NULL CHECK (json_valid(metadata)),
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled INTEGER CHECK (disabled IN (0, 1))
  ) STRICT;

  CREATE TABLE consents (
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (json_valid(scopes)),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id, redirect_uri)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX consents_by_client ON consents (client_id);
  CREATE TRIGGER users_delete_consents AFTER DELETE ON users
    BEGIN DELETE FROM consents WHERE user_id = old.id; END;
  CREATE TRIGGER clients_delete_consents AFTER DELETE ON clients
    BEGIN DELETE FROM consents WHERE client_id = old.client_id; END;

  CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (json_valid(scopes)),
    resource TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL CHECK (code_challenge_method IN ('S256', 'plain')),
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER,
    grant_id TEXT
  ) STRICT;
  CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

  CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (json_valid(scopes)),
    resource TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
  ) STRICT;
  CREATE INDEX grants_by_subject ON grants (subject, created_at);
  CREATE INDEX grants_by_expiry ON grants (expires_at);

  CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
  ) STRICT;
  CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
  CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

  CREATE TABLE revocations (
    id TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX revocations_by_expiry ON revocations (expires_at);

  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256', 'HS256')),
    private_jwk_encrypted TEXT NOT NULL,
    public_jwk TEXT CHECK (public_jwk IS NULL OR json_valid(public_jwk)),
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
    retires_at INTEGER
  ) STRICT;

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data))
  ) STRICT;
  `,
  // 2: the audit retention purge deletes the oldest records first, along their time.
  `
  CREATE INDEX audit_log_by_time ON audit_log (time);
  `,
];
