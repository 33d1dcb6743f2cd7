// What every authorization-server endpoint works with: the resolved configuration, storage, signing
// keys, the client registry, the security event bus, the rate limiter, a logger and the clock. Built
// once when the server starts (after the listener knows its public URL) and shared by all requests.

import type { AuthConfig } from '../config/types.ts';
import type { EventBus } from '../observability/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage } from '../storage/types.ts';
import type { TrustedProxies } from './client-address.ts';
import type { ClientRegistry } from './clients/registry.ts';
import type { KeyManager } from './keys.ts';
import type { RateLimiter } from './rate-limit.ts';

/** The configuration the endpoints read, resolved from `config.auth` and the public URL. */
export interface AuthServerConfig {
  /** Issuer identifier (RFC 8414 §2): https URL (http on loopback), no query, fragment or trailing slash. */
  readonly issuer: string;
  /** The one protected resource (RFC 8707, RFC 9728 `resource`): the MCP endpoint URL exactly. */
  readonly resource: string;
  /**
   * Path prefix, as requests reach this process, under which the issuer's endpoints are served: the
   * issuer's path less the public base path a reverse proxy strips ('' for an issuer at the base).
   */
  readonly mountPath: string;
  /** `scopes_supported` (RFC 8414 §2): scopes the tools declare plus `config.auth.scopes`. */
  readonly scopesSupported: readonly string[];
  readonly accessTokenTtlSec: number;
  readonly refreshTokenTtlSec: number;
  readonly codeTtlSec: number;
  readonly refreshGraceSec: number;
  readonly loginSessionTtlSec: number;
  readonly rateLimitPerMinute: number;
  readonly allowPlainPkce: boolean;
  readonly dynamicRegistration: boolean;
  readonly clientIdMetadataDocuments: boolean;
  readonly secureCookies: boolean;
  /** RFC 8414 §2 `service_documentation`, when the operator publishes one. */
  readonly serviceDocumentation?: string;
}

export interface AuthServerContext {
  readonly config: AuthServerConfig;
  readonly storage: Storage;
  readonly keys: KeyManager;
  readonly clients: ClientRegistry;
  readonly events: EventBus;
  readonly rateLimit: RateLimiter;
  /**
   * Proxies whose X-Forwarded-For / Forwarded name the client (`http.trustedProxies`, parsed once at
   * start). Absent: nobody is trusted, the client address is the connection's peer.
   */
  readonly trustedProxies?: TrustedProxies;
  readonly logger: Logger;
  /** Epoch milliseconds; injected so expiry logic is testable without sleeping. */
  now(): number;
}

/** Endpoint paths, relative to the issuer (shared decision in the authorization-server brief). */
export const AS_PATHS = Object.freeze({
  authorize: '/authorize',
  token: '/token',
  register: '/register',
  revoke: '/revoke',
  introspect: '/introspect',
  jwks: '/jwks.json',
  login: '/login',
  consent: '/consent',
});

/** RFC 8414 §3 and OpenID Connect Discovery 1.0 §4 well-known suffixes. */
export const OAUTH_METADATA_WELL_KNOWN = '/.well-known/oauth-authorization-server';
export const OPENID_METADATA_WELL_KNOWN = '/.well-known/openid-configuration';

/** The absolute URL of an endpoint: the issuer followed by the endpoint path (RFC 8414 §2 examples). */
export function endpointUrl(config: AuthServerConfig, path: string): string {
  return `${config.issuer}${path}`;
}

export interface ResolveOptions {
  /** The server's public base URL (config.server.publicUrl or the listener's address). */
  publicUrl: string | URL;
  /** The MCP endpoint path (config.http.mcpPath). */
  mcpPath: string;
  /** Scopes the application's tools declare; advertised together with `auth.scopes`. */
  toolScopes?: readonly string[];
  serviceDocumentation?: string;
}

/** Resolves `config.auth` against the public URL into what the endpoints need. */
export function resolveAuthServerConfig(auth: AuthConfig, options: ResolveOptions): AuthServerConfig {
  const base = new URL(String(options.publicUrl));
  const basePath = base.pathname.replace(/\/+$/, '');
  const publicBase = `${base.origin}${basePath}`;
  const issuer = (auth.issuer ?? publicBase).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  const issuerPath = issuerUrl.pathname.replace(/\/+$/, '');
  // A proxy that publishes this server under a base path strips it before the request reaches us.
  const mountPath =
    issuerUrl.origin === base.origin && basePath !== '' && `${issuerPath}/`.startsWith(`${basePath}/`)
      ? issuerPath.slice(basePath.length)
      : issuerPath;
  const scopes = new Set<string>([...(options.toolScopes ?? []), ...auth.scopes]);
  return {
    issuer,
    resource: `${publicBase}${options.mcpPath}`,
    mountPath,
    scopesSupported: [...scopes],
    accessTokenTtlSec: auth.accessTokenTtlSec,
    refreshTokenTtlSec: auth.refreshTokenTtlSec,
    codeTtlSec: auth.codeTtlSec,
    refreshGraceSec: auth.refreshGraceSec,
    loginSessionTtlSec: auth.loginSessionTtlSec,
    rateLimitPerMinute: auth.rateLimitPerMinute,
    allowPlainPkce: auth.allowPlainPkce,
    dynamicRegistration: auth.dynamicRegistration,
    clientIdMetadataDocuments: auth.clientIdMetadataDocuments,
    secureCookies: auth.secureCookies ?? base.protocol === 'https:',
    ...(options.serviceDocumentation ? { serviceDocumentation: options.serviceDocumentation } : {}),
  };
}
