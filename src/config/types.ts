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

export interface KeyholeConfig {
  server: ServerConfig;
  http: HttpConfig;
  sessions: SessionsConfig;
  log: LogConfig;
  protocol: ProtocolConfig;
}
