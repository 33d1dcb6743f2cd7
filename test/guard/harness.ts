// A Keyhole HTTP app guarded by the resource-server guard, on an ephemeral port, with a tiny McpServer
// whose `whoami` tool returns the principal it was given, and helpers to mint tokens of every shape.

import { generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { issueAccessToken } from '../../src/authserver/access-token.ts';
import { KeyManager } from '../../src/authserver/keys.ts';
import { createGuard, type GuardOptions, type ResourceGuard } from '../../src/guard/guard.ts';
import { protectedResourceMetadata, protectedResourceMetadataRoutes } from '../../src/guard/metadata.ts';
import { EventBus } from '../../src/observability/events.ts';
import { Engine } from '../../src/protocol/engine.ts';
import { McpServer } from '../../src/server/server.ts';
import { openMemoryStorage } from '../../src/storage/memory/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import { createHttpApp, type HttpApp } from '../../src/transport/http/app.ts';

export const MODERN = '2026-07-28';
export const SCOPES = ['mcp:tools', 'offline_access'];

export interface Harness {
  app: HttpApp;
  storage: Storage;
  keys: KeyManager;
  events: EventBus;
  guard: ResourceGuard;
  /** The MCP endpoint URL: the `resource`, and the `aud` tokens must carry. */
  resource: string;
  issuer: string;
  /** How many times the guard asked for a verification key (a cache miss verifies). */
  keyLookups: () => number;
  /** A valid access token for this resource. */
  token(overrides?: Partial<Parameters<typeof issueAccessToken>[0]>): Promise<{ token: string; jti: string }>;
  /** A token signed with the current key, with the given header and claims (nothing added). */
  forge(header: Record<string, unknown>, claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

export async function startGuarded(options: Partial<GuardOptions> = {}): Promise<Harness> {
  const storage = openMemoryStorage();
  const events = new EventBus();
  const keys = await KeyManager.open(storage.keys, {
    alg: 'ES256',
    keySecret: 'guard-test-key-secret-of-32-bytes!!',
    overlapSec: 3600,
    reloadIntervalSec: 0,
  });
  const server = new McpServer({ name: 'guard-test', version: '1.0.0' });
  server.tool({
    name: 'whoami',
    handler: (_args, ctx) => JSON.stringify(ctx.principal ?? null),
  });
  const engine = new Engine(server);
  let lookups = 0;
  const counted = {
    verificationKey: (kid: string) => {
      lookups++;
      return keys.verificationKey(kid);
    },
    verifies: (kid: string) => keys.verifies(kid),
  };
  // The resource URL is known once the port is: the guard and the metadata are bound after listen().
  let guard: ResourceGuard | undefined;
  let routes: ReturnType<typeof protectedResourceMetadataRoutes> | undefined;
  const app = createHttpApp(engine, {
    port: 0,
    guard: (req, ctx) => guard!.guard(req, ctx),
    routes: (req, res) => routes!(req, res),
  });
  await app.listen();
  const resource = app.url.href;
  const issuer = app.url.origin;
  guard = createGuard({
    keys: counted,
    issuer,
    resource,
    revocations: storage.revocations,
    events,
    scopes: SCOPES,
    revocationSyncSec: 0,
    ...options,
  });
  await guard.ready();
  routes = protectedResourceMetadataRoutes({
    metadata: protectedResourceMetadata({ resource, issuer, scopes: SCOPES, resourceName: 'Guard test' }),
  });
  return {
    app,
    storage,
    keys,
    events,
    guard,
    resource,
    issuer,
    keyLookups: () => lookups,
    token: async (overrides = {}) =>
      issueAccessToken({
        keys,
        issuer,
        subject: 'user-1',
        clientId: 'client-1',
        scopes: ['mcp:tools'],
        resource,
        grantId: 'grant-1',
        ttlSec: 3600,
        ...overrides,
      }),
    forge: async (header, claims) => {
      const { key } = keys.signingKey();
      return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key);
    },
    close: async () => {
      guard?.close();
      keys.close();
      await app.close();
    },
  };
}

/** Standard claims of a valid token, for forging variants. */
export function claimsFor(h: Harness, extra: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: h.issuer,
    sub: 'user-1',
    aud: h.resource,
    client_id: 'client-1',
    scope: 'mcp:tools',
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    iat: now,
    exp: now + 600,
    gid: 'grant-1',
    ...extra,
  };
}

/** A key the server does not know. */
export async function strangerKey() {
  return generateKeyPair('ES256');
}

/** A modern tools/call of `whoami`, with the headers that mirror the body. */
export function whoami(authorization?: string): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN,
    'mcp-method': 'tools/call',
    'mcp-name': 'whoami',
  };
  if (authorization !== undefined) headers.authorization = authorization;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name: 'whoami',
      arguments: {},
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientInfo': { name: 'guard-test', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  return { headers, body };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are inspected field by field.
  json: any;
}

export async function call(url: string, init: RequestInit): Promise<Reply> {
  const res = await fetch(url, init);
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: type.startsWith('application/json') && text ? JSON.parse(text) : undefined,
  };
}

/** POST whoami with an Authorization header value (or none). */
export function callWhoami(h: Harness, authorization?: string, url = h.resource): Promise<Reply> {
  const { headers, body } = whoami(authorization);
  return call(url, { method: 'POST', headers, body });
}
