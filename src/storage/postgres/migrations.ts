// The PostgreSQL schema as an ordered list of migrations: entry i is schema version i + 1. Applied in
// order inside the opening transaction, under an advisory lock, and recorded in
// `keyhole_schema_migrations` (see migrate.ts). Never edit a released entry: append a new one.
// Same tables and columns as SQLite (docs/storage.md); times are epoch milliseconds in BIGINT, string
// lists are TEXT[], objects JSON. Secrets appear only as hashes.

export const MIGRATIONS: readonly string[] = [
  // 1: the authorization server's records.
  `
  CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT,
    secret_expires_at BIGINT,
    source TEXT NOT NULL CHECK (source IN ('dynamic', 'static', 'cimd')),
    redirect_uris TEXT[] NOT NULL CHECK (array_position(redirect_uris, NULL) IS NULL),
    grant_types TEXT[] NOT NULL CHECK (array_position(grant_types, NULL) IS NULL),
    response_types TEXT[] NOT NULL CHECK (array_position(response_types, NULL) IS NULL),
    token_endpoint_auth_method TEXT NOT NULL
      CHECK (token_endpoint_auth_method IN ('none', 'client_secret_basic', 'client_secret_post')),
    scope TEXT,
    client_name TEXT,
    -- JSON, not JSONB: registered metadata is returned exactly as it was stored (RFC 7591 §3.2.1).
    metadata JSON NOT NULL CHECK (json_typeof(metadata) = 'object'),
    created_at BIGINT NOT NULL
  );

  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled BOOLEAN
  );

  CREATE TABLE consents (
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT[] NOT NULL CHECK (array_position(scopes, NULL) IS NULL),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id, redirect_uri)
  );
  CREATE INDEX consents_by_client ON consents (client_id);

  CREATE FUNCTION keyhole_users_delete_consents() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN DELETE FROM consents WHERE user_id = OLD.id; RETURN NULL; END
  $$;
  CREATE TRIGGER users_delete_consents AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION keyhole_users_delete_consents();
  CREATE FUNCTION keyhole_clients_delete_consents() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN DELETE FROM consents WHERE client_id = OLD.client_id; RETURN NULL; END
  $$;
  CREATE TRIGGER clients_delete_consents AFTER DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION keyhole_clients_delete_consents();

  CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT[] NOT NULL CHECK (array_position(scopes, NULL) IS NULL),
    resource TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL CHECK (code_challenge_method IN ('S256', 'plain')),
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    grant_id TEXT
  );
  CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);

  CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT[] NOT NULL CHECK (array_position(scopes, NULL) IS NULL),
    resource TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
  );
  CREATE INDEX grants_by_subject ON grants (subject, created_at);
  CREATE INDEX grants_by_expiry ON grants (expires_at);

  CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
  );
  CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
  CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

  CREATE TABLE revocations (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX revocations_by_expiry ON revocations (expires_at);

  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256', 'HS256')),
    private_jwk_encrypted TEXT NOT NULL,
    public_jwk JSONB CHECK (public_jwk IS NULL OR jsonb_typeof(public_jwk) = 'object'),
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'retiring', 'retired')),
    retires_at BIGINT
  );

  CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    data JSONB NOT NULL CHECK (jsonb_typeof(data) = 'object')
  );
  `,
  // 2: the audit retention purge deletes the oldest records first, along their time. (Not CONCURRENTLY:
  // migrations run in one transaction; on a large audit table appends wait while the index builds.)
  `
  CREATE INDEX audit_log_by_time ON audit_log (time);
  `,
];
