// Where each configuration option can come from: its config-file key, environment variable and CLI
// flag, and how its value is parsed. The meaning and default of each option live in defaults.ts.
// Precedence, lowest to highest: defaults < config file < KEYHOLE_* environment < CLI flags.

import {
  baseUrl,
  bindHost,
  boolean,
  fsPath,
  hostHeader,
  integer,
  ipRange,
  keyPrefix,
  LOG_LEVELS,
  list,
  oneOf,
  origin,
  type Parser,
  scopeToken,
  secret,
  serviceUrl,
  urlPath,
} from './parse.ts';

export interface OptionSpec {
  /** Dotted path in the config object and the config file, e.g. `server.port`. */
  readonly key: string;
  /** Environment variable, e.g. `KEYHOLE_PORT`. */
  readonly env: string;
  /** Long CLI flag without dashes, when the option has one. */
  readonly flag?: string;
  readonly parser: Parser<unknown>;
  /** Relative paths are resolved against the config file's directory, or the working directory. */
  readonly isPath?: boolean;
  /** Secrets come from the environment only and their values never appear in messages. */
  readonly secret?: boolean;
  /** Values that may hold credentials (a database URL): allowed in files, never shown in messages. */
  readonly sensitive?: boolean;
  /** One line for `--help` and the README. */
  readonly summary: string;
}

const MAX_MS = 24 * 60 * 60_000;
/** 100 years: longer is indistinguishable from forever, which is the default (leave it unset). */
const MAX_AUDIT_RETENTION_DAYS = 36_500;

export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'server.host',
    env: 'KEYHOLE_HOST',
    flag: 'host',
    parser: bindHost(),
    summary: 'Interface to bind',
  },
  {
    key: 'server.port',
    env: 'KEYHOLE_PORT',
    flag: 'port',
    parser: integer(0, 65535),
    summary: 'TCP port (0 = any free port)',
  },
  {
    key: 'server.publicUrl',
    env: 'KEYHOLE_PUBLIC_URL',
    flag: 'public-url',
    parser: baseUrl(),
    summary: 'Public base URL when behind a proxy',
  },
  {
    key: 'server.dataDir',
    env: 'KEYHOLE_DATA_DIR',
    flag: 'data-dir',
    parser: fsPath(),
    isPath: true,
    summary: 'State directory (created with mode 0700)',
  },
  {
    key: 'server.app',
    env: 'KEYHOLE_APP',
    flag: 'app',
    parser: fsPath(),
    isPath: true,
    summary: 'Module exporting createServer(): McpServer',
  },
  {
    key: 'server.shutdownGraceMs',
    env: 'KEYHOLE_SHUTDOWN_GRACE_MS',
    parser: integer(0, MAX_MS),
    summary: 'Drain time on SIGTERM/SIGINT',
  },
  {
    key: 'server.dev',
    env: 'KEYHOLE_DEV',
    flag: 'dev',
    parser: boolean(),
    summary: 'Development mode',
  },
  {
    key: 'http.mcpPath',
    env: 'KEYHOLE_MCP_PATH',
    parser: urlPath(),
    summary: 'MCP endpoint path',
  },
  {
    key: 'http.legacySsePath',
    env: 'KEYHOLE_LEGACY_SSE_PATH',
    parser: urlPath(),
    summary: '2024-11-05 HTTP+SSE stream path',
  },
  {
    key: 'http.legacyMessagesPath',
    env: 'KEYHOLE_LEGACY_MESSAGES_PATH',
    parser: urlPath(),
    summary: '2024-11-05 HTTP+SSE POST path',
  },
  {
    key: 'http.allowedOrigins',
    env: 'KEYHOLE_ALLOWED_ORIGINS',
    parser: list(origin(), 'origin'),
    summary: 'Extra browser origins allowed',
  },
  {
    key: 'http.allowedHosts',
    env: 'KEYHOLE_ALLOWED_HOSTS',
    parser: list(hostHeader(), 'host'),
    summary: 'Extra Host header values allowed',
  },
  {
    key: 'http.trustedProxies',
    env: 'KEYHOLE_TRUSTED_PROXIES',
    parser: list(ipRange(), 'IP range'),
    summary: 'Proxies whose X-Forwarded-For / Forwarded name the client',
  },
  {
    key: 'http.maxBodyBytes',
    env: 'KEYHOLE_MAX_BODY_BYTES',
    parser: integer(1024, 1024 * 1024 * 1024),
    summary: 'Largest request body',
  },
  {
    key: 'http.headersTimeoutMs',
    env: 'KEYHOLE_HEADERS_TIMEOUT_MS',
    parser: integer(1, MAX_MS),
    summary: 'Time to receive request headers',
  },
  {
    key: 'http.requestTimeoutMs',
    env: 'KEYHOLE_REQUEST_TIMEOUT_MS',
    parser: integer(1, MAX_MS),
    summary: 'Time to receive a whole request',
  },
  {
    key: 'http.keepAliveTimeoutMs',
    env: 'KEYHOLE_KEEP_ALIVE_TIMEOUT_MS',
    parser: integer(1, MAX_MS),
    summary: 'Idle keep-alive connection lifetime',
  },
  {
    key: 'http.sseKeepAliveMs',
    env: 'KEYHOLE_SSE_KEEP_ALIVE_MS',
    parser: integer(1_000, MAX_MS),
    summary: 'Keep-alive comment interval on SSE streams',
  },
  {
    key: 'http.sseRetryMs',
    env: 'KEYHOLE_SSE_RETRY_MS',
    parser: integer(1, MAX_MS),
    summary: 'SSE reconnection delay sent to clients',
  },
  {
    key: 'sessions.idleTimeoutMs',
    env: 'KEYHOLE_SESSION_IDLE_TIMEOUT_MS',
    parser: integer(1_000, 30 * MAX_MS),
    summary: 'Idle legacy session lifetime',
  },
  {
    key: 'sessions.max',
    env: 'KEYHOLE_MAX_SESSIONS',
    parser: integer(1, 10_000_000),
    summary: 'Most concurrent legacy sessions',
  },
  {
    key: 'log.level',
    env: 'KEYHOLE_LOG_LEVEL',
    flag: 'log-level',
    parser: oneOf(LOG_LEVELS),
    summary: 'Minimum log level (stderr, JSON lines)',
  },
  {
    key: 'protocol.stateSecret',
    env: 'KEYHOLE_STATE_SECRET',
    parser: secret(32),
    secret: true,
    summary: 'HMAC key for MRTR requestState',
  },
  {
    key: 'auth.mode',
    env: 'KEYHOLE_AUTH',
    flag: 'auth',
    parser: oneOf(['oauth', 'none'] as const),
    summary: 'oauth (built-in authorization server) or none (loopback only)',
  },
  {
    key: 'auth.issuer',
    env: 'KEYHOLE_ISSUER',
    parser: baseUrl(),
    summary: 'Issuer identifier (default: public URL)',
  },
  {
    key: 'auth.accessTokenTtlSec',
    env: 'KEYHOLE_ACCESS_TOKEN_TTL_SEC',
    parser: integer(60, 24 * 3600),
    summary: 'Access-token lifetime',
  },
  {
    key: 'auth.refreshTokenTtlSec',
    env: 'KEYHOLE_REFRESH_TOKEN_TTL_SEC',
    parser: integer(300, 365 * 24 * 3600),
    summary: 'Refresh-token family lifetime',
  },
  {
    key: 'auth.codeTtlSec',
    env: 'KEYHOLE_CODE_TTL_SEC',
    parser: integer(10, 600),
    summary: 'Authorization-code lifetime',
  },
  {
    key: 'auth.signingAlg',
    env: 'KEYHOLE_SIGNING_ALG',
    parser: oneOf(['ES256', 'RS256', 'HS256'] as const),
    summary: 'Access-token signing algorithm',
  },
  {
    key: 'auth.hs256Secret',
    env: 'KEYHOLE_HS256_SECRET',
    parser: secret(32),
    secret: true,
    summary: 'HS256 shared secret',
  },
  {
    key: 'auth.keySecret',
    env: 'KEYHOLE_KEY_SECRET',
    parser: secret(32),
    secret: true,
    summary: 'Encrypts signing keys at rest',
  },
  {
    key: 'auth.keyRotationOverlapSec',
    env: 'KEYHOLE_KEY_ROTATION_OVERLAP_SEC',
    parser: integer(0, 30 * 24 * 3600),
    summary: 'How long a rotated-out key still verifies',
  },
  {
    key: 'auth.allowPlainPkce',
    env: 'KEYHOLE_ALLOW_PLAIN_PKCE',
    parser: boolean(),
    summary: 'Accept PKCE plain',
  },
  {
    key: 'auth.dynamicRegistration',
    env: 'KEYHOLE_DYNAMIC_REGISTRATION',
    parser: boolean(),
    summary: 'RFC 7591 dynamic client registration',
  },
  {
    key: 'auth.clientIdMetadataDocuments',
    env: 'KEYHOLE_CIMD',
    parser: boolean(),
    summary: 'Client ID Metadata Documents',
  },
  {
    key: 'auth.refreshGraceSec',
    env: 'KEYHOLE_REFRESH_GRACE_SEC',
    parser: integer(0, 60),
    summary: 'Grace window for concurrent refreshes (0 = off)',
  },
  {
    key: 'auth.scopes',
    env: 'KEYHOLE_SCOPES',
    parser: list(scopeToken(), 'scope'),
    summary: 'Extra supported scopes',
  },
  {
    key: 'auth.loginSessionTtlSec',
    env: 'KEYHOLE_LOGIN_SESSION_TTL_SEC',
    parser: integer(60, 30 * 24 * 3600),
    summary: 'Login session lifetime',
  },
  {
    key: 'auth.rateLimitPerMinute',
    env: 'KEYHOLE_RATE_LIMIT_PER_MINUTE',
    parser: integer(1, 1_000_000),
    summary: 'Rate limit on OAuth endpoints per IP and client',
  },
  { key: 'auth.secureCookies', env: 'KEYHOLE_SECURE_COOKIES', parser: boolean(), summary: 'Secure cookies' },
  {
    key: 'auth.auditRetentionDays',
    env: 'KEYHOLE_AUDIT_RETENTION_DAYS',
    parser: integer(1, MAX_AUDIT_RETENTION_DAYS),
    summary: 'Days audit records are kept (unset: forever)',
  },
  {
    key: 'storage.sqlitePath',
    env: 'KEYHOLE_SQLITE_PATH',
    parser: fsPath(),
    isPath: true,
    summary: 'SQLite database file (default: keyhole.db in the data dir)',
  },
  {
    key: 'storage.databaseUrl',
    env: 'KEYHOLE_DATABASE_URL',
    parser: serviceUrl(['postgres:', 'postgresql:'], 'postgres://user:password@host:5432/keyhole'),
    sensitive: true,
    summary: 'PostgreSQL URL: durable records in PostgreSQL instead of SQLite',
  },
  {
    key: 'storage.databasePoolSize',
    env: 'KEYHOLE_DATABASE_POOL_SIZE',
    parser: integer(1, 1000),
    summary: 'Most PostgreSQL connections per process',
  },
  {
    key: 'storage.redisUrl',
    env: 'KEYHOLE_REDIS_URL',
    parser: serviceUrl(['redis:', 'rediss:'], 'redis://host:6379'),
    sensitive: true,
    summary: 'Redis URL: codes, revocations, rate limits, sessions shared by replicas',
  },
  {
    key: 'storage.redisPrefix',
    env: 'KEYHOLE_REDIS_PREFIX',
    parser: keyPrefix(),
    summary: 'Prefix of every Redis key and channel',
  },
];

/** Environment variables that are not options but are understood by the loader. */
export const CONFIG_FILE_ENV = 'KEYHOLE_CONFIG';

export const BY_KEY: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.key, o]));
