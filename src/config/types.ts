// The shape of Keyhole's configuration. Every field's meaning and default is documented once, in
// defaults.ts; where each value can come from (file key, environment variable, flag) is in options.ts.
// Sections are independent so later features (authorization server, storage) add their own section
// without moving existing keys.

import type { LogLevel } from '../observability/logger.ts';

export interface ServerConfig {
  host: string;
  port: number;
  /** Absolute http(s) URL without a trailing slash, or undefined. */
  publicUrl: string | undefined;
  /** Absolute path. */
  dataDir: string;
  /** Absolute path of the application module (exports `createServer(): McpServer`). */
  app: string;
  shutdownGraceMs: number;
  dev: boolean;
}

export interface HttpConfig {
  mcpPath: string;
  legacySsePath: string;
  legacyMessagesPath: string;
  allowedOrigins: string[];
  allowedHosts: string[];
  /** Canonical IP addresses, CIDR ranges and range names (`loopback`, `private`, `linklocal`). */
  trustedProxies: string[];
  maxBodyBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  sseKeepAliveMs: number;
  sseRetryMs: number;
}

export interface SessionsConfig {
  idleTimeoutMs: number;
  max: number;
}

export interface LogConfig {
  level: LogLevel;
}

export interface ProtocolConfig {
  /** Never read from a file and never logged. */
  stateSecret: string | undefined;
}

export interface AuthConfig {
  /** 'oauth': the built-in authorization server guards every MCP endpoint; 'none': no authentication (loopback only). */
  mode: 'oauth' | 'none';
  /** Issuer identifier (RFC 8414 §2); undefined = the public base URL. */
  issuer: string | undefined;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  codeTtlSec: number;
  signingAlg: 'ES256' | 'RS256' | 'HS256';
  /** HS256 shared secret; environment only, never logged. */
  hs256Secret: string | undefined;
  /** Key-encryption secret for signing keys at rest; environment only. Unset: a key file in the data dir. */
  keySecret: string | undefined;
  keyRotationOverlapSec: number;
  allowPlainPkce: boolean;
  dynamicRegistration: boolean;
  clientIdMetadataDocuments: boolean;
  refreshGraceSec: number;
  /** Extra scopes advertised in scopes_supported besides the ones tools declare. */
  scopes: string[];
  loginSessionTtlSec: number;
  /** Requests per minute, per IP and per client, on /token, /register, /authorize and login. */
  rateLimitPerMinute: number;
  /** Browser-session and CSRF cookies get `Secure` (automatic when the public URL is https). */
  secureCookies: boolean | undefined;
  /** Audit records older than this many days are deleted; undefined = kept forever. */
  auditRetentionDays: number | undefined;
}

export interface StorageConfig {
  /** SQLite database file; undefined = `keyhole.db` in the data dir. `:memory:` keeps nothing. */
  sqlitePath: string | undefined;
  /** PostgreSQL URL; set, it replaces SQLite. */
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** Redis URL; set, Redis holds codes, revocations, rate limits, legacy sessions, the CIMD cache. */
  redisUrl: string | undefined;
  redisPrefix: string;
}

export interface KeyholeConfig {
  server: ServerConfig;
  http: HttpConfig;
  sessions: SessionsConfig;
  log: LogConfig;
  protocol: ProtocolConfig;
  auth: AuthConfig;
  storage: StorageConfig;
}
