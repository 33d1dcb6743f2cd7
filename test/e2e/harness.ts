// End-to-end plumbing: a real Keyhole (createKeyhole: SQLite in a temp data dir, the demo app unless
// told otherwise, port 0) whose log lines are kept so tests can show no secret ever reached them; a
// person signing in through the login and consent pages with the browser-like test client; and the
// OAuth client helpers every flow repeats (PKCE, dynamic registration, code exchange).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthOptions } from '../../src/app/auth.ts';
import { createKeyhole, type Keyhole } from '../../src/app/keyhole.ts';
import { createUser } from '../../src/authserver/users.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { McpServer } from '../../src/server/server.ts';
import type { Storage } from '../../src/storage/types.ts';
import { Browser, isRedirect, type Page, visibleText } from '../authserver/browser.ts';
import type { ReplicaSet } from '../support/replicas.ts';
import { selfSignedLoopbackCert } from '../support/tls.ts';

export const PASSWORD = 'correct horse battery staple';
/** A loopback redirect URI (RFC 8252 §7.3); nothing listens there: the browser stops at the redirect. */
export const REDIRECT_URI = 'http://127.0.0.1:48123/callback';

export interface RunningKeyhole {
  readonly keyhole: Keyhole;
  readonly storage: Storage;
  /** The MCP endpoint URL (the RFC 8707 resource). */
  readonly mcpUrl: URL;
  /** The issuer identifier (the public base URL). */
  readonly issuer: string;
  readonly dataDir: string;
  /** Every log line written so far (JSON), debug level included. */
  readonly logs: string[];
  /** Stops the server; the data directory is kept (restart) unless `remove` is set. */
  stop(options?: { remove?: boolean }): Promise<void>;
}

/** Where a client reaches a deployment: one Keyhole, or replicas behind a balancer. */
export type Endpoints = Pick<RunningKeyhole, 'issuer' | 'mcpUrl'>;

export interface StartOptions {
  /** Reuse a data directory (restart); default: a new temp directory. */
  dataDir?: string;
  /** KEYHOLE_* variables on top of the harness defaults. */
  env?: Record<string, string>;
  /** CLI-style flags on top of the harness defaults (port 0, the data dir). */
  flags?: Record<string, string | boolean>;
  server?: McpServer;
  auth?: AuthOptions;
}

/** Starts Keyhole as `keyhole serve` would, from a configuration loaded like the CLI loads it. */
export async function startKeyhole(options: StartOptions = {}): Promise<RunningKeyhole> {
  const dataDir = options.dataDir ?? join(mkdtempSync(join(tmpdir(), 'keyhole-e2e-')), 'data');
  const config = loadConfig({
    flags: { port: '0', 'data-dir': dataDir, ...options.flags },
    env: {
      // A test file makes more requests from 127.0.0.1 in a minute than the production default allows.
      KEYHOLE_RATE_LIMIT_PER_MINUTE: '100000',
      ...options.env,
    },
    cwd: tmpdir(),
  });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const keyhole = await createKeyhole(config, {
    logger,
    ...(options.server ? { server: options.server } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
  });
  const mcpUrl = await keyhole.listen();
  const auth = keyhole.auth;
  assert.ok(auth?.context, 'the authorization server is on');
  let stopped: Promise<void> | undefined;
  return {
    keyhole,
    storage: auth.storage,
    mcpUrl,
    issuer: auth.context.config.issuer,
    dataDir,
    logs,
    stop(o = {}) {
      stopped ??= keyhole.close().then(() => {
        if (o.remove) rmSync(join(dataDir, '..'), { recursive: true, force: true });
      });
      return stopped;
    },
  };
}

export function addUser(k: RunningKeyhole, username: string, password = PASSWORD) {
  return createUser(k.storage, username, password);
}

/** Asserts that none of the secrets appears in any log line. */
export function assertNotLogged(k: RunningKeyhole, secrets: readonly (string | undefined)[]): void {
  const text = k.logs.join('\n');
  for (const s of secrets) {
    if (s === undefined || s === '') continue;
    assert.ok(!text.includes(s), `a secret (${s.slice(0, 6)}…) reached the log`);
  }
}

/**
 * A person at the authorization server: opens the authorization URL, signs in on the login page if it
 * is shown, presses Approve on the consent page if it is shown, and returns where the server sends the
 * browser back to (the client's redirect URI with code, state and iss).
 */
export async function authorizeInBrowser(
  authorizationUrl: string | URL,
  user: { username: string; password?: string },
  browser = new Browser(),
): Promise<URL> {
  const start = new URL(authorizationUrl);
  let page: Page = await browser.navigate(start);
  for (let step = 0; step < 4; step++) {
    if (isRedirect(page) && page.location!.origin !== start.origin) return page.location!;
    const form = page.forms[0];
    assert.ok(form, `expected the login or consent page, got ${page.status}: ${visibleText(page.body)}`);
    if (form.fields.some(([name]) => name === 'password')) {
      page = await browser.submit(page, {
        fields: { username: user.username, password: user.password ?? PASSWORD },
      });
    } else {
      page = await browser.submit(page, { button: 'approve' });
    }
    if (isRedirect(page) && page.location!.origin === start.origin)
      page = await browser.navigate(page.location!);
  }
  assert.fail(`the authorization did not come back to the client: ${page.status} ${visibleText(page.body)}`);
}

// ---------------------------------------------------------------------------------------------
// A hand-written public client (RFC 6749 + RFC 7636 + RFC 8707), for flows the SDKs do not expose

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier, 'ascii').digest('base64url') };
}

/** RFC 7591 registration of a public client with one redirect URI. */
export async function registerClient(k: Endpoints, redirectUri = REDIRECT_URI): Promise<string> {
  const res = await fetch(`${k.issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'E2E client',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { client_id: string }).client_id;
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  scope?: string;
  token_type: string;
  expires_in: number;
}

/** The whole authorization-code flow as `username`, returning the token response. */
export async function obtainTokens(
  k: Endpoints,
  options: { clientId?: string; username: string; scope?: string; browser?: Browser },
): Promise<Tokens & { clientId: string }> {
  const clientId = options.clientId ?? (await registerClient(k));
  const { verifier, challenge } = pkce();
  const url = new URL(`${k.issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: k.mcpUrl.href,
    state: randomBytes(8).toString('hex'),
    ...(options.scope !== undefined ? { scope: options.scope } : {}),
  }).toString();
  const back = await authorizeInBrowser(url, { username: options.username }, options.browser);
  const code = back.searchParams.get('code');
  assert.ok(code, `no code in ${back.href}`);
  return { ...(await exchangeCode(k, { code, verifier, clientId })), clientId };
}

/** RFC 6749 §4.1.3 code exchange by a public client (PKCE verifier, RFC 8707 resource); asserts 200. */
export async function exchangeCode(
  k: Endpoints,
  grant: { code: string; verifier: string; clientId: string; redirectUri?: string },
): Promise<Tokens> {
  const res = await fetch(`${k.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: grant.code,
      code_verifier: grant.verifier,
      client_id: grant.clientId,
      redirect_uri: grant.redirectUri ?? REDIRECT_URI,
      resource: k.mcpUrl.href,
    }),
  });
  const body = (await res.json()) as Tokens;
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

// ---------------------------------------------------------------------------------------------
// Raw MCP over HTTP with a bearer token

export const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'keyhole-e2e', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A 2026-07-28 tools/call with `token` (or none); the response as received. */
export function callTool(
  k: Endpoints,
  token: string | undefined,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': name,
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return fetch(k.mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name, arguments: args, _meta: META },
    }),
  });
}

/**
 * Polls each replica (pinned) with a tools/call bearing `token` until every one refuses it with 401;
 * fails if one still accepts it `withinMs` after the call (issue #4: a revocation reaches every
 * replica within a second). Afterwards a request with `token` fails wherever the balancer sends it.
 */
export async function refusedByEveryReplica(set: ReplicaSet, token: string, withinMs = 1000): Promise<void> {
  await everyReplicaWithin(
    set,
    'refusing the token (401)',
    performance.now(),
    async (i) => (await echoOn(set, i, token)) === 401,
    withinMs,
  );
}

/** Calls `echo` on replica `i` of `set` (pinned), returning the status. */
export async function echoOn(set: ReplicaSet, i: number, token: string): Promise<number> {
  set.balancer.pin(i);
  try {
    const res = await callTool(set, token, 'echo', { text: `hi from ${i}` });
    await res.body?.cancel();
    return res.status;
  } finally {
    set.balancer.pin(undefined);
  }
}

/**
 * Polls each replica of `set` until `check(i)` holds; fails once `withinMs` (issue #4: one second) has
 * passed since `since`.
 */
export async function everyReplicaWithin(
  set: ReplicaSet,
  what: string,
  since: number,
  check: (i: number) => Promise<boolean>,
  withinMs = 1000,
): Promise<void> {
  for (let i = 0; i < set.ports.length; i++) {
    while (!(await check(i))) {
      assert.ok(performance.now() - since < withinMs, `replica ${i}: not ${what} ${withinMs} ms after`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** GET /health/ready of replica `i` directly, bypassing the balancer. */
export async function readiness(
  set: ReplicaSet,
  i: number,
): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(new URL('/health/ready', set.direct(i)));
  const body = (await res.json()) as { checks: Record<string, string> };
  return { status: res.status, checks: body.checks };
}

/** The `error="…"` of a WWW-Authenticate Bearer challenge. */
export function challengeError(res: Response): string | undefined {
  return /error="([^"]*)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
}

// ---------------------------------------------------------------------------------------------
// An https server on 127.0.0.1 with a self-signed certificate (Client ID Metadata Documents)

export interface TestHttpsServer {
  readonly origin: string;
  /** `host:port`, for the CIMD fetcher's test-only allowHosts. */
  readonly host: string;
  readonly ca: Buffer;
  /** Path → JSON document. */
  readonly documents: Map<string, unknown>;
  close(): Promise<void>;
}

export async function startHttpsServer(): Promise<TestHttpsServer> {
  const { key, cert } = selfSignedLoopbackCert();
  const documents = new Map<string, unknown>();
  const server: HttpsServer = createHttpsServer({ key, cert }, (req, res) => {
    const doc = documents.get(req.url ?? '/');
    if (doc === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    const body = JSON.stringify(doc);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    ca: cert,
    documents,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
