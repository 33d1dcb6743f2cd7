// Wiring: builds a running Keyhole from one configuration. This is the only place that knows every
// layer (config, application module, protocol engine, authorization server, storage, HTTP transport,
// logging); the CLI and tests go through it.

import type { KeyholeConfig } from '../config/types.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import type { Engine } from '../protocol/engine.ts';
import type { McpServer } from '../server/server.ts';
import { createHttpApp, type HttpApp } from '../transport/http/app.ts';
import type { HttpOptions } from '../transport/http/options.ts';
import type { RedisSessionBackplane } from '../transport/http/redis-backplane.ts';
import { type AuthOptions, type AuthServer, openAuthServer } from './auth.ts';
import { ensureDataDir } from './data-dir.ts';
import { type BuildOptions, createEngine } from './engine.ts';
import { isLoopback } from './loopback.ts';

export { isLoopback };

export interface KeyholeOptions extends BuildOptions {
  /** Authorization-server hooks for tests and embedding (storage, clock, CIMD fetcher). */
  auth?: AuthOptions;
}

export interface Keyhole {
  readonly config: KeyholeConfig;
  readonly logger: Logger;
  readonly server: McpServer;
  readonly engine: Engine;
  readonly http: HttpApp;
  /** The authorization server, its storage and the guard; undefined with `auth.mode` 'none'. */
  readonly auth: AuthServer | undefined;
  /** Binds the HTTP listener; resolves with the MCP endpoint URL. */
  listen(): Promise<URL>;
  /**
   * Ends listen streams, drains and closes the HTTP listener (within server.shutdownGraceMs), then
   * stops the authorization server and closes storage. Idempotent.
   */
  close(): Promise<void>;
}

/** A configuration Keyhole refuses to run (the CLI exits 2 with the message). */
export class UnsafeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeConfigError';
  }
}

/**
 * Refuses what would expose an unauthenticated or development server beyond this machine: `--auth none`
 * and `--dev` need a loopback bind address and, when set, a loopback public URL (a reverse proxy on
 * this host would otherwise publish it).
 */
export function checkExposure(config: KeyholeConfig): void {
  const { host, publicUrl } = config.server;
  const local = isLoopback(host) && (publicUrl === undefined || isLoopback(new URL(publicUrl).hostname));
  if (local) return;
  const where = publicUrl === undefined ? `host ${host}` : `host ${host} with public URL ${publicUrl}`;
  if (config.auth.mode === 'none') {
    throw new UnsafeConfigError(
      `--auth none (KEYHOLE_AUTH=none) turns authentication off and is only allowed on a loopback address, not ${where}; ` +
        'bind to 127.0.0.1 or keep the default --auth oauth',
    );
  }
  if (config.server.dev) {
    throw new UnsafeConfigError(
      `--dev creates a development user with a printed password and is only allowed on a loopback address, not ${where}`,
    );
  }
}

/** Everything `keyhole serve` runs: data directory, application, engine, authorization server, HTTP listener. */
export async function createKeyhole(config: KeyholeConfig, options: KeyholeOptions = {}): Promise<Keyhole> {
  checkExposure(config);
  const logger = options.logger ?? createLogger({ level: config.log.level });
  ensureDataDir(config.server.dataDir, logger);
  const { server, engine } = await createEngine(config, logger, options.server);
  const shared = config.storage.databaseUrl !== undefined || config.storage.redisUrl !== undefined;
  if (shared && config.auth.mode === 'oauth' && config.auth.keySecret === undefined) {
    // The signing keys in shared storage are encrypted with keys.secret from this data directory.
    logger.warn(
      'KEYHOLE_KEY_SECRET is not set while storage is shared: every replica must use the same key secret to read the signing keys',
    );
  }
  if (config.protocol.stateSecret === undefined && (shared || !isLoopback(config.server.host))) {
    // A random key per process breaks MRTR retries that land on another replica.
    logger.warn(
      'KEYHOLE_STATE_SECRET is not set: MRTR requestState is sealed with a random per-process key, so a retry served by another process fails',
    );
  }
  const auth =
    config.auth.mode === 'oauth' ? await openAuthServer(config, server, logger, options.auth) : undefined;
  if (!auth) logger.warn('authentication is off (--auth none): every request is served without a token');
  let http: HttpApp;
  let sessions: RedisSessionBackplane | undefined;
  try {
    // Legacy sessions and their event streams in Redis: any replica serves any request of a session
    // (issue #4 "Replicas"). On the storage's connections when it has them (closed with the storage,
    // after the sessions), else on two of the backplane's own (`--auth none`).
    if (config.storage.redisUrl !== undefined) {
      const { createRedisSessionBackplane } = await import('../transport/http/redis-backplane.ts');
      const lent = auth?.storage.redis;
      sessions = await createRedisSessionBackplane(
        lent
          ? { redis: lent, prefix: config.storage.redisPrefix }
          : {
              url: config.storage.redisUrl,
              prefix: config.storage.redisPrefix,
              onError: (err) => logger.warn('redis (sessions): connection error', { error: err.message }),
            },
      );
    }
    const ready = readiness(auth, sessions);
    http = createHttpApp(engine, {
      ...httpOptions(config),
      logger: logger.child({ component: 'http' }),
      ...(auth ? { routes: auth.routes, guard: auth.guard, challenge: auth.challenge } : {}),
      ...(ready ? { ready } : {}),
      ...(sessions ? { sessionBackplane: sessions } : {}),
    });
  } catch (err) {
    await sessions?.close();
    await auth?.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    // HttpApp.close() ends subscriptions/listen streams gracefully (engine.close()), then drains.
    closing ??= http
      .close()
      .finally(() => sessions?.close())
      .finally(() => auth?.close());
    return closing;
  };
  return {
    config,
    logger,
    server,
    engine,
    http,
    auth,
    listen: async () => {
      let url: URL;
      try {
        url = await http.listen();
      } catch (err) {
        await close();
        throw err;
      }
      auth?.start(url);
      return url;
    },
    close,
  };
}

/** /health/ready: the authorization server's dependencies and, with Redis, the session store. */
function readiness(
  auth: AuthServer | undefined,
  sessions: RedisSessionBackplane | undefined,
): (() => Promise<Record<string, string>>) | undefined {
  if (!auth && !sessions) return undefined;
  return async () => {
    const checks = auth ? await auth.ready() : {};
    if (sessions) {
      checks.sessions = await sessions.ping().then(
        () => 'ok',
        () => 'unavailable',
      );
    }
    return checks;
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
