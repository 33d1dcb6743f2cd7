// Fixture for the front-channel tests (/authorize, /login, /consent): the authorization server's real
// route table on an ephemeral port, memory storage whose writes of codes and consents are counted (so
// a refusal can be shown to store nothing), recorded security events, an adjustable clock, and the
// helpers a client would use (PKCE pair, authorization URL, code exchange).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientRegistry } from '../../src/authserver/clients/registry.ts';
import { type AuthServerContext, resolveAuthServerConfig } from '../../src/authserver/context.ts';
import { KeyManager } from '../../src/authserver/keys.ts';
import { MemoryRateLimiter, type RateLimiter } from '../../src/authserver/rate-limit.ts';
import { createAuthRoutes } from '../../src/authserver/routes.ts';
import { createUser } from '../../src/authserver/users.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import type { AuthConfig } from '../../src/config/types.ts';
import { EventBus, type SecurityEvent } from '../../src/observability/events.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { ClientRecord, Storage, UserRecord } from '../../src/storage/types.ts';
import type { Page } from './browser.ts';

export interface FrontChannelFixture {
  /** http://127.0.0.1:port (the issuer unless a public URL with a path was given). */
  base: string;
  issuer: string;
  resource: string;
  ctx: AuthServerContext;
  storage: Storage;
  /** How many times codes.put and consents.put were called. */
  writes: { codes: number; consents: number };
  events: SecurityEvent[];
  /** The server's clock (epoch ms); tests move it forward instead of sleeping. */
  clock: { now: number };
  addClient(client?: Partial<ClientRecord>): Promise<ClientRecord>;
  addUser(username?: string, password?: string): Promise<UserRecord>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  auth?: Partial<AuthConfig>;
  /** Scopes the "tools" declare (scopes_supported = these + auth.scopes). */
  toolScopes?: string[];
  rateLimit?: RateLimiter;
  /** Served under this public base path (a proxy strips it) – default none. */
  publicPath?: string;
}

export const PASSWORD = 'correct horse battery staple';
export const REDIRECT_URI = 'http://127.0.0.1:9876/callback';

export async function startFrontChannel(options: FixtureOptions = {}): Promise<FrontChannelFixture> {
  const memory = await openStorage({ kind: 'memory' });
  const writes = { codes: 0, consents: 0 };
  const storage: Storage = {
    kind: memory.kind,
    clients: memory.clients,
    users: memory.users,
    grants: memory.grants,
    revocations: memory.revocations,
    keys: memory.keys,
    audit: memory.audit,
    codes: {
      put: (code) => {
        writes.codes++;
        return memory.codes.put(code);
      },
      consume: (hash, now) => memory.codes.consume(hash, now),
      markRedeemed: (hash, grantId) => memory.codes.markRedeemed(hash, grantId),
    },
    consents: {
      get: (u, c, r) => memory.consents.get(u, c, r),
      put: (consent) => {
        writes.consents++;
        return memory.consents.put(consent);
      },
      revoke: (u, c) => memory.consents.revoke(u, c),
    },
    ping: () => memory.ping(),
    close: () => memory.close(),
  };
  const clock = { now: Date.UTC(2026, 0, 15, 9, 0, 0) };
  const bus = new EventBus();
  const events: SecurityEvent[] = [];
  bus.on((e) => events.push(e));
  const keys = await KeyManager.open(storage.keys, {
    alg: 'ES256',
    keySecret: 'k'.repeat(32),
    overlapSec: 0,
    reloadIntervalSec: 0,
    now: () => clock.now,
  });

  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = resolveAuthServerConfig(
    // Generous by default so a test file's many requests from 127.0.0.1 are not limited.
    { ...DEFAULTS.auth, rateLimitPerMinute: 10_000, ...options.auth },
    {
      publicUrl: `${base}${options.publicPath ?? ''}`,
      mcpPath: '/mcp',
      toolScopes: options.toolScopes ?? [],
    },
  );
  const ctx: AuthServerContext = {
    config,
    storage,
    keys,
    clients: new ClientRegistry({ clients: storage.clients, now: () => clock.now }),
    events: bus,
    rateLimit: options.rateLimit ?? new MemoryRateLimiter(),
    logger: silentLogger,
    now: () => clock.now,
  };
  const routes = createAuthRoutes(ctx);
  server.on('request', (req, res) => {
    // A proxy in front would strip the public base path.
    if (options.publicPath && req.url?.startsWith(options.publicPath)) {
      req.url = req.url.slice(options.publicPath.length) || '/';
    }
    void Promise.resolve(routes(req, res)).then((handled) => {
      if (handled) return;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not routed');
    });
  });

  let clients = 0;
  return {
    base,
    issuer: config.issuer,
    resource: config.resource,
    ctx,
    storage,
    writes,
    events,
    clock,
    async addClient(partial = {}) {
      const client: ClientRecord = {
        clientId: `client-${++clients}`,
        source: 'dynamic',
        redirectUris: [REDIRECT_URI],
        grantTypes: ['authorization_code', 'refresh_token'],
        responseTypes: ['code'],
        tokenEndpointAuthMethod: 'none',
        clientName: `Test App ${clients}`,
        metadata: {},
        createdAt: clock.now,
        ...partial,
      };
      await storage.clients.create(client);
      return client;
    },
    addUser(username = 'alice', password = PASSWORD) {
      return createUser(storage, username, password, { now: () => clock.now });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      keys.close();
      await memory.close();
    },
  };
}

/** An RFC 7636 §4.1 verifier and its S256 challenge, computed here independently of the server. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

/** An authorization URL; `undefined` values are left out. */
export function authorizeUrl(f: FrontChannelFixture, params: Record<string, string | undefined>): URL {
  const url = new URL(`${f.issuer}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.append(k, v);
  return url;
}

/** The parameters of a well-formed request from `client` (override any of them). */
export function validParams(
  f: FrontChannelFixture,
  client: ClientRecord,
  challenge: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUris[0],
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: f.resource,
    state: 'st-123',
    ...extra,
  };
}

/** Exchanges a code at /token as a public client would (RFC 6749 §4.1.3 + RFC 7636 §4.5 + RFC 8707). */
export async function exchangeCode(
  f: FrontChannelFixture,
  client: ClientRecord,
  code: string,
  verifier: string,
  redirectUri = client.redirectUris[0]!,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${f.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: client.clientId,
      redirect_uri: redirectUri,
      resource: f.resource,
    }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The payload of a JWT, unverified (the token tests verify signatures; here only claims matter). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

const SECURITY_HEADERS = {
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** Every front-channel response: not frameable, not cacheable, no referrer, no script. */
export function assertSecurityHeaders(page: Page): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    assert.equal(page.headers.get(name), value, `${name} on ${page.url.pathname} (${page.status})`);
  }
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /form-action /);
  assert.doesNotMatch(csp, /script-src/, 'no script is allowed');
}
