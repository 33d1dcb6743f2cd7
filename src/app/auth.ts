// Wiring of the built-in authorization server and the resource-server guard (config.auth.mode 'oauth'):
// storage, signing keys, the security event bus with its audit subscriber, the client registry, the
// rate limiter, the authorization-server routes, the RFC 9728 protected-resource metadata and the guard
// on every MCP endpoint. The issuer and the resource identifier depend on the public URL, which is only
// final once the listener has its port: everything that needs them is built in start().

import { TrustedProxies } from '../authserver/client-address.ts';
import { type CimdOptions, CimdResolver } from '../authserver/clients/cimd.ts';
import { ClientRegistry } from '../authserver/clients/registry.ts';
import {
  type AuthServerConfig,
  type AuthServerContext,
  resolveAuthServerConfig,
} from '../authserver/context.ts';
import type { FrontChannelContext } from '../authserver/endpoints/authorization-flow.ts';
import { KeyCipher } from '../authserver/key-encryption.ts';
import { KeyManager } from '../authserver/keys.ts';
import { MemoryRateLimiter, type RateLimiter } from '../authserver/rate-limit.ts';
import { RedisRateLimiter } from '../authserver/rate-limit-redis.ts';
import { createAuthRoutes } from '../authserver/routes.ts';
import type { KeyholeConfig } from '../config/types.ts';
import { createGuard, type ResourceGuard } from '../guard/guard.ts';
import {
  protectedResourceMetadata,
  protectedResourceMetadataRoutes,
  WELL_KNOWN_PRM,
} from '../guard/metadata.ts';
import { type AuditSubscription, subscribeAudit } from '../observability/audit.ts';
import { EventBus } from '../observability/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { McpServer } from '../server/server.ts';
import { RedisCimdCache } from '../storage/redis/cimd.ts';
import { closeRedis, connectRedis, type RedisClient, redisConnectionName } from '../storage/redis/client.ts';
import type { Storage } from '../storage/types.ts';
import type { Guard, GuardResult, Routes } from '../transport/http/app.ts';
import { isLoopback } from './loopback.ts';
import { databasePath, openConfiguredStorage } from './storage.ts';

export { databasePath };

/** Hooks for tests and embedding; none of them comes from configuration. */
export interface AuthOptions {
  /** Use this storage instead of opening the configured SQLite database (closed with Keyhole). */
  storage?: Storage;
  /**
   * TESTS ONLY: options of the Client ID Metadata Document fetcher, e.g. `allowHosts` and `ca` so a
   * test can serve client documents from a self-signed https server on loopback.
   */
  cimd?: CimdOptions;
  rateLimit?: RateLimiter;
  /** Clock (epoch ms) of the authorization server, the guard and storage. */
  now?: () => number;
}

/** The authorization server and guard of a running Keyhole. */
export interface AuthServer {
  readonly storage: Storage;
  readonly events: EventBus;
  readonly keys: KeyManager;
  readonly clients: ClientRegistry;
  /** The endpoints' context; undefined until start(). */
  readonly context: AuthServerContext | undefined;
  /** The resource-server guard; undefined until start(). */
  readonly resourceGuard: ResourceGuard | undefined;
  /** For createHttpApp: the authorization-server endpoints and the protected-resource metadata. */
  readonly routes: Routes;
  /** For createHttpApp: the bearer-token guard on every MCP endpoint. */
  readonly guard: Guard;
  /** For createHttpApp: the WWW-Authenticate value of a 403 insufficient_scope reply. */
  readonly challenge: (requiredScopes: readonly string[]) => string;
  /** Readiness checks for /health/ready. */
  ready(): Promise<Record<string, string>>;
  /** Builds what depends on the public URL: call once the listener is bound. */
  start(endpoint: URL): void;
  /** Stops timers, flushes the audit trail, closes storage. Call after the HTTP listener has drained. */
  close(): Promise<void>;
}

/** Every scope the application's tools, prompts, resources and resource templates declare. */
export function declaredScopes(server: McpServer): string[] {
  const scopes = new Set<string>();
  for (const registry of [server.tools, server.prompts, server.resources, server.templates]) {
    for (const entry of registry.values()) for (const s of entry.scopes) scopes.add(s);
  }
  return [...scopes];
}

export async function openAuthServer(
  config: KeyholeConfig,
  server: McpServer,
  logger: Logger,
  options: AuthOptions = {},
): Promise<AuthServer> {
  const now = options.now ?? Date.now;
  // Parsed once; the configuration was validated at start-up (http.trustedProxies).
  const trustedProxies = new TrustedProxies(config.http.trustedProxies);
  const storage =
    options.storage ??
    (await openConfiguredStorage(config, { now, logger: logger.child({ component: 'storage' }) }));
  const events = new EventBus();
  let audit: AuditSubscription | undefined;
  let keys: KeyManager;
  let frontChannelSecret: Uint8Array;
  let rateLimit: RateLimiter;
  let redis: RedisClient | undefined;
  /** A connection of our own, only when the storage lends none (an embedder's storage): closed here. */
  let ownRedis: RedisClient | undefined;
  try {
    // Sign-in sessions, CSRF tokens and pending requests are HMAC'd with a key derived from the same
    // root as the signing-key encryption (KEYHOLE_KEY_SECRET or keys.secret): they survive restarts
    // and are shared by replicas configured with the same secret.
    frontChannelSecret = KeyCipher.open({
      keySecret: config.auth.keySecret,
      dataDir: config.server.dataDir,
    }).subkey('front-channel');
    audit = subscribeAudit(events, { logger: logger.child({ component: 'security' }), audit: storage.audit });
    keys = await KeyManager.open(storage.keys, {
      alg: config.auth.signingAlg,
      hs256Secret: config.auth.hs256Secret,
      keySecret: config.auth.keySecret,
      dataDir: config.server.dataDir,
      overlapSec: config.auth.keyRotationOverlapSec,
      now,
      events,
      ...(storage.changes ? { changes: storage.changes } : {}),
      logger: logger.child({ component: 'keys' }),
    });
    if (config.storage.redisUrl !== undefined) {
      // Rate-limit counters and the CIMD cache, shared by every replica (issue #4 "Adapters"), on the
      // storage's connection (borrowed: the storage closes it).
      redis = storage.redis?.client;
      if (redis === undefined) {
        ownRedis = await connectRedis({
          url: config.storage.redisUrl,
          name: redisConnectionName('auth'),
          onError: (err) =>
            logger.warn('redis (rate limits, CIMD cache): connection error', { error: err.message }),
        });
        redis = ownRedis;
      }
    }
    // RFC 6749 §10.10: every replica counts against the same limits.
    rateLimit =
      options.rateLimit ??
      (redis ? new RedisRateLimiter(redis, { prefix: config.storage.redisPrefix }) : new MemoryRateLimiter());
  } catch (err) {
    await audit?.close();
    if (ownRedis?.isOpen) ownRedis.destroy();
    await storage.close();
    throw err;
  }
  const cimd = config.auth.clientIdMetadataDocuments
    ? new CimdResolver({
        ...(redis ? { cache: new RedisCimdCache(redis, config.storage.redisPrefix) } : {}),
        ...options.cimd,
        now,
      })
    : undefined;
  const clients = new ClientRegistry({
    clients: storage.clients,
    ...(cimd ? { cimd } : {}),
    logger: logger.child({ component: 'clients' }),
    now,
  });
  const asLogger = logger.child({ component: 'authserver' });

  let context: AuthServerContext | undefined;
  let resourceGuard: ResourceGuard | undefined;
  let routes: Routes | undefined;
  let unsubscribe: (() => void) | undefined;

  const start = (endpoint: URL) => {
    if (context) throw new Error('the authorization server is already started');
    const mcpPath = config.http.mcpPath;
    // The public base URL: the endpoint URL without the MCP path (it keeps a proxy's base path).
    const publicUrl = endpoint.href.slice(0, endpoint.href.length - mcpPath.length);
    const resolve = (): AuthServerConfig => ({
      ...resolveAuthServerConfig(config.auth, { publicUrl, mcpPath, toolScopes: declaredScopes(server) }),
      // RFC 8707 / RFC 9728 resource: the MCP endpoint URL exactly as the transport reports it.
      resource: endpoint.href,
    });
    let current = resolve();
    warnAboutUrls(current, config, logger);
    // scopes_supported follows the application: tools added later bring their scopes.
    unsubscribe = server.onChange((change) => {
      if (change.kind !== 'resource-updated') current = resolve();
    });
    const ctx: FrontChannelContext = {
      get config() {
        return current;
      },
      frontChannelSecret,
      storage,
      keys,
      clients,
      events,
      rateLimit,
      trustedProxies,
      logger: asLogger,
      now,
    };
    context = ctx;
    resourceGuard = createGuard({
      keys,
      issuer: current.issuer,
      resource: current.resource,
      revocations: storage.revocations,
      ...(storage.changes ? { changes: storage.changes } : {}),
      events,
      // MCP "Scope Selection Strategy": the 401 challenge names what the application's operations need.
      scopes: current.scopesSupported,
      now,
      maxTokenTtlSec: config.auth.accessTokenTtlSec,
      logger: logger.child({ component: 'guard' }),
    });
    const basePath = new URL(publicUrl).pathname.replace(/\/+$/, '');
    const metadata = protectedResourceMetadataRoutes({
      metadata: () =>
        protectedResourceMetadata({
          resource: current.resource,
          issuer: current.issuer,
          scopes: current.scopesSupported,
          resourceName: server.info.title ?? server.info.name,
        }),
      // Behind a proxy that publishes this server under a base path and strips it.
      ...(basePath !== '' ? { extraPaths: [`${WELL_KNOWN_PRM}${mcpPath}`] } : {}),
    });
    const endpoints = createAuthRoutes(ctx);
    routes = (req, res) => {
      const handled = metadata(req, res);
      if (handled === true) return true;
      if (handled === false) return endpoints(req, res);
      return handled.then((done) => done || endpoints(req, res));
    };
  };

  const notStarted: GuardResult = {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '1' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Service Unavailable: starting' },
    }),
  };

  let closed: Promise<void> | undefined;
  return {
    storage,
    events,
    keys,
    clients,
    get context() {
      return context;
    },
    get resourceGuard() {
      return resourceGuard;
    },
    routes: (req, res) => (routes ? routes(req, res) : false),
    guard: (req, ctx) => (resourceGuard ? resourceGuard.guard(req, ctx) : Promise.resolve(notStarted)),
    challenge: (scopes) =>
      resourceGuard?.challenge({
        scopes,
        error: 'insufficient_scope',
        description: 'The access token lacks a scope this operation requires',
      }) ?? 'Bearer',
    ready: async () => {
      let checks: Record<string, string>;
      try {
        if (storage.health) checks = await storage.health();
        else {
          await storage.ping();
          checks = { storage: 'ok' };
        }
      } catch (err) {
        logger.warn('storage is not answering', { error: err });
        checks = { storage: 'unavailable' };
      }
      // The guard cannot vouch for revocations while its view of them is stale.
      if (resourceGuard && !resourceGuard.revocationsCurrent()) checks.revocations = 'unavailable';
      return checks;
    },
    start,
    close: () => {
      closed ??= (async () => {
        unsubscribe?.();
        resourceGuard?.close();
        keys.close();
        await audit.close();
        if (ownRedis) await closeRedis(ownRedis);
        await storage.close();
      })();
      return closed;
    },
  };
}

/** OAuth 2.1 §1.5 / RFC 8414 §2: the issuer is https, except for a server only reachable locally. */
function warnAboutUrls(resolved: AuthServerConfig, config: KeyholeConfig, logger: Logger): void {
  const issuer = new URL(resolved.issuer);
  if (issuer.protocol !== 'https:' && !isLoopback(issuer.hostname)) {
    logger.warn(
      'the authorization server is served over plain http on a non-loopback address: put it behind TLS and set KEYHOLE_PUBLIC_URL to the https URL',
      { issuer: resolved.issuer },
    );
  }
  if (config.server.publicUrl === undefined && !isLoopback(config.server.host)) {
    logger.warn(
      'KEYHOLE_PUBLIC_URL is not set: tokens are issued for the bound address, which clients may not use to reach this server',
      { resource: resolved.resource },
    );
  }
}
