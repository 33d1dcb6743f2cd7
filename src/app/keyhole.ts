// Wiring: builds a running Keyhole from one configuration. This is the only place that knows every
// layer (config, application module, protocol engine, HTTP transport, logging); the CLI and tests go
// through it. Later features (authorization server, storage) are created and passed in here.

import type { KeyholeConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import type { Engine } from '../protocol/engine.ts';
import type { McpServer } from '../server/server.ts';
import { createHttpApp, type HttpApp } from '../transport/http/app.ts';
import type { HttpOptions } from '../transport/http/options.ts';
import { ensureDataDir } from './data-dir.ts';
import { type BuildOptions, createEngine } from './engine.ts';

export interface Keyhole {
  readonly config: KeyholeConfig;
  readonly logger: Logger;
  readonly server: McpServer;
  readonly engine: Engine;
  readonly http: HttpApp;
  /** Binds the HTTP listener; resolves with the MCP endpoint URL. */
  listen(): Promise<URL>;
  /** Ends listen streams, then drains and closes the HTTP listener (within server.shutdownGraceMs). Idempotent. */
  close(): Promise<void>;
}

/** Everything `keyhole serve` runs: data directory, application, engine and HTTP listener. */
export async function createKeyhole(config: KeyholeConfig, options: BuildOptions = {}): Promise<Keyhole> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  ensureDataDir(config.server.dataDir, logger);
  const { server, engine } = await createEngine(config, logger, options.server);
  if (config.protocol.stateSecret === undefined && !isLoopback(config.server.host)) {
    // A random key per process breaks MRTR retries that land on another replica.
    logger.warn(
      'KEYHOLE_STATE_SECRET is not set: MRTR requestState is sealed with a random per-process key, so a retry served by another process fails',
    );
  }
  const http = createHttpApp(engine, { ...httpOptions(config), logger: logger.child({ component: 'http' }) });
  return {
    config,
    logger,
    server,
    engine,
    http,
    listen: () => http.listen(),
    // HttpApp.close() ends subscriptions/listen streams gracefully (engine.close()), then drains.
    close: () => http.close(),
  };
}

/** The HTTP transport's options, from the configuration. */
export function httpOptions(config: KeyholeConfig): HttpOptions {
  const { server, http, sessions } = config;
  return {
    host: server.host,
    port: server.port,
    publicUrl: server.publicUrl,
    mcpPath: http.mcpPath,
    legacySsePath: http.legacySsePath,
    legacyMessagesPath: http.legacyMessagesPath,
    allowedOrigins: http.allowedOrigins,
    allowedHosts: http.allowedHosts,
    maxBodyBytes: http.maxBodyBytes,
    headersTimeoutMs: http.headersTimeoutMs,
    requestTimeoutMs: http.requestTimeoutMs,
    keepAliveTimeoutMs: http.keepAliveTimeoutMs,
    sessionIdleTimeoutMs: sessions.idleTimeoutMs,
    maxSessions: sessions.max,
    sseKeepAliveMs: http.sseKeepAliveMs,
    sseRetryMs: http.sseRetryMs,
    shutdownGraceMs: server.shutdownGraceMs,
  };
}

/** RFC 1122 §3.2.1.3 (127.0.0.0/8), RFC 4291 §2.5.3 (::1), RFC 6761 §6.3 (localhost). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
