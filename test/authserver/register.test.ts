// Dynamic Client Registration (RFC 7591), black-box over HTTP through the authorization server's route
// table: every refusal has its status and error code and leaves storage and the event stream untouched.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ClientRegistry } from '../../src/authserver/clients/registry.ts';
import { type AuthServerContext, resolveAuthServerConfig } from '../../src/authserver/context.ts';
import { register } from '../../src/authserver/endpoints/register.ts';
import type { KeyManager } from '../../src/authserver/keys.ts';
import { MemoryRateLimiter } from '../../src/authserver/rate-limit.ts';
import { createAuthRoutes } from '../../src/authserver/routes.ts';
import { hashSecret } from '../../src/authserver/secrets.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import type { AuthConfig } from '../../src/config/types.ts';
import { EventBus, type SecurityEvent } from '../../src/observability/events.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/types.ts';

interface Fixture {
  ctx: AuthServerContext;
  storage: Storage;
  events: SecurityEvent[];
  url: string;
  server: Server;
}

async function start(auth: Partial<AuthConfig> = {}): Promise<Fixture> {
  const storage = await openStorage({ kind: 'memory' });
  const bus = new EventBus();
  const events: SecurityEvent[] = [];
  bus.on((e) => events.push(e));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ctx: AuthServerContext = {
    config: resolveAuthServerConfig({ ...DEFAULTS.auth, ...auth }, { publicUrl: base, mcpPath: '/mcp' }),
    storage,
    keys: {} as KeyManager, // registration never signs anything
    clients: new ClientRegistry({ clients: storage.clients }),
    events: bus,
    rateLimit: new MemoryRateLimiter(),
    logger: silentLogger,
    now: () => 1_700_000_000_123,
  };
  const routes = createAuthRoutes(ctx);
  server.on('request', (req, res) => {
    void Promise.resolve(routes(req, res)).then((handled) => {
      if (handled) return;
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not routed');
    });
  });
  return { ctx, storage, events, url: `${base}/register`, server };
}

async function stop(f: Fixture): Promise<void> {
  f.server.closeAllConnections();
  await new Promise<void>((resolve) => f.server.close(() => resolve()));
  await f.storage.close();
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts an OAuth error response and that nothing was stored or emitted. */
async function assertRefused(f: Fixture, res: Response, status: number, error: string, description?: RegExp) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = (await res.json()) as { error: string; error_description?: string };
  assert.equal(body.error, error);
  if (description) assert.match(body.error_description ?? '', description);
  assert.deepEqual(await f.storage.clients.list(), [], 'no client stored');
  assert.deepEqual(
    f.events.filter((e) => e.type === 'client.registered'),
    [],
    'no client.registered event',
  );
  return body;
}

describe('Dynamic Client Registration RFC 7591', () => {
  let f: Fixture;
  before(async () => {
    f = await start();
  });
  after(() => stop(f));
  beforeEach(async () => {
    for (const c of await f.storage.clients.list()) await f.storage.clients.delete(c.clientId);
    f.events.length = 0;
  });

  test('a public MCP client (token_endpoint_auth_method none): 201, no secret, metadata echoed', async () => {
    const res = await post(f.url, {
      client_name: 'My MCP Client',
      redirect_uris: [
        'http://127.0.0.1:33418/callback',
        'cursor://anysphere.cursor-retrieval/oauth/callback',
      ],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      software_id: 'example',
      x_custom: { nested: true },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    assert.match(String(body.client_id), /^[0-9a-f]{32}$/);
    assert.equal(body.client_secret, undefined);
    assert.equal(body.client_secret_expires_at, undefined);
    assert.equal(body.client_id_issued_at, 1_700_000_000);
    assert.deepEqual(body.redirect_uris, [
      'http://127.0.0.1:33418/callback',
      'cursor://anysphere.cursor-retrieval/oauth/callback',
    ]);
    assert.deepEqual(body.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(body.response_types, ['code']);
    assert.equal(body.token_endpoint_auth_method, 'none');
    assert.equal(body.client_name, 'My MCP Client');
    assert.equal(body.application_type, 'native');
    assert.equal(body.software_id, 'example');
    assert.deepEqual(body.x_custom, { nested: true });

    const stored = await f.storage.clients.get(String(body.client_id));
    assert.ok(stored);
    assert.equal(stored.source, 'dynamic');
    assert.equal(stored.secretHash, undefined);
    assert.equal(stored.createdAt, 1_700_000_000_123);
    // The registry finds it, so /authorize and /token will.
    assert.equal((await f.ctx.clients.get(stored.clientId))?.clientId, stored.clientId);

    assert.equal(f.events.length, 1);
    assert.deepEqual(f.events[0], {
      type: 'client.registered',
      time: 1_700_000_000_123,
      data: {
        clientId: stored.clientId,
        source: 'dynamic',
        redirectUris: stored.redirectUris,
        ip: '127.0.0.1',
      },
    });
  });

  test('defaults (RFC 7591 §2): client_secret_basic, so a confidential client with a secret shown once', async () => {
    const res = await post(f.url, { redirect_uris: ['https://app.example.com/cb'] });
    assert.equal(res.status, 201);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(body.grant_types, ['authorization_code']);
    assert.deepEqual(body.response_types, ['code']);
    const secret = String(body.client_secret);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(body.client_secret_expires_at, 0);
    const stored = await f.storage.clients.get(String(body.client_id));
    assert.ok(stored);
    // Stored only as its hash (RFC 6749 §10.3).
    assert.equal(stored.secretHash, hashSecret(secret));
    assert.equal(JSON.stringify(stored).includes(secret), false);
    assert.equal(JSON.stringify(f.events).includes(secret), false);
  });

  test('client_secret_post and client_credentials for a machine client', async () => {
    const res = await post(f.url, {
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'tools:read tools:write',
    });
    assert.equal(res.status, 201);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body.grant_types, ['client_credentials']);
    assert.deepEqual(body.response_types, []);
    assert.deepEqual(body.redirect_uris, []);
    assert.equal(body.scope, 'tools:read tools:write');
    assert.equal(typeof body.client_secret, 'string');
  });

  test('values the server assigns are not taken from the request', async () => {
    const res = await post(f.url, {
      client_id: 'chosen-by-client',
      client_secret: 'chosen-secret',
      client_id_issued_at: 1,
      redirect_uris: ['https://app.example.com/cb'],
      token_endpoint_auth_method: 'none',
    });
    assert.equal(res.status, 201);
    const body = (await res.json()) as Record<string, unknown>;
    assert.notEqual(body.client_id, 'chosen-by-client');
    assert.equal(body.client_secret, undefined);
    assert.equal(body.client_id_issued_at, 1_700_000_000);
    assert.equal(await f.storage.clients.get('chosen-by-client'), undefined);
  });

  test('every registration gets a new client_id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await post(f.url, {
        redirect_uris: ['https://app.example.com/cb'],
        token_endpoint_auth_method: 'none',
      });
      ids.add(String(((await res.json()) as { client_id: string }).client_id));
    }
    assert.equal(ids.size, 3);
    assert.equal((await f.storage.clients.list()).length, 3);
  });

  const invalidRedirects: [string, unknown, RegExp][] = [
    ['no redirect_uris for authorization_code', { client_name: 'x' }, /redirect_uris is required/],
    [
      'http off loopback',
      { redirect_uris: ['http://app.example.com/cb'] },
      /'http:\/\/app\.example\.com\/cb' uses http/,
    ],
    ['a fragment', { redirect_uris: ['https://app.example.com/cb#x'] }, /fragment/],
    ['javascript:', { redirect_uris: ['javascript:alert(1)'] }, /not allowed/],
    ['data:', { redirect_uris: ['data:text/html,x'] }, /not allowed/],
    ['credentials', { redirect_uris: ['https://u:p@app.example.com/cb'] }, /credentials/],
    ['a relative URI', { redirect_uris: ['/cb'] }, /absolute/],
    [
      'one bad among good ones',
      { redirect_uris: ['https://a.example/cb', 'http://b.example/cb'] },
      /b\.example/,
    ],
  ];
  for (const [name, body, description] of invalidRedirects) {
    test(`invalid_redirect_uri: ${name}`, async () => {
      await assertRefused(f, await post(f.url, body), 400, 'invalid_redirect_uri', description);
    });
  }

  const invalidMetadata: [string, unknown, RegExp][] = [
    [
      'grant type implicit',
      { redirect_uris: ['https://a.example/cb'], grant_types: ['implicit'] },
      /implicit/,
    ],
    [
      'grant type password',
      { redirect_uris: ['https://a.example/cb'], grant_types: ['password'] },
      /password/,
    ],
    ['response type token', { redirect_uris: ['https://a.example/cb'], response_types: ['token'] }, /token/],
    [
      'inconsistent grant and response types',
      { redirect_uris: ['https://a.example/cb'], grant_types: ['authorization_code'], response_types: [] },
      /inconsistent/,
    ],
    [
      'unsupported auth method',
      { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt' },
      /private_key_jwt/,
    ],
    [
      'client_credentials for a public client',
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' },
      /confidential/,
    ],
    [
      'application_type',
      { redirect_uris: ['https://a.example/cb'], application_type: 'browser' },
      /application_type/,
    ],
    ['malformed scope', { redirect_uris: ['https://a.example/cb'], scope: 'a\\b' }, /scope/],
    [
      'logo_uri not a web URL',
      { redirect_uris: ['https://a.example/cb'], logo_uri: 'javascript:x' },
      /logo_uri/,
    ],
    ['tos_uri relative', { redirect_uris: ['https://a.example/cb'], tos_uri: 'tos.html' }, /tos_uri/],
    ['redirect_uris not an array', { redirect_uris: 'https://a.example/cb' }, /array of strings/],
    ['a JSON array body', [], /JSON object/],
    [
      'a control character in client_name',
      { redirect_uris: ['https://a.example/cb'], client_name: 'Good\u001b[31mEvil' },
      /control characters/,
    ],
    [
      'NUL in an extension field',
      { redirect_uris: ['https://a.example/cb'], client_name: 'ok', x_vendor: { note: 'a\u0000b' } },
      /NUL/,
    ],
  ];
  for (const [name, body, description] of invalidMetadata) {
    test(`invalid_client_metadata: ${name}`, async () => {
      await assertRefused(f, await post(f.url, body), 400, 'invalid_client_metadata', description);
    });
  }

  test('a body that is not JSON: invalid_request', async () => {
    await assertRefused(
      f,
      await post(f.url, '{"redirect_uris": ['),
      400,
      'invalid_request',
      /not valid JSON/,
    );
  });

  test('a form body: invalid_request (RFC 7591 §3.1 asks for JSON)', async () => {
    const res = await post(f.url, 'redirect_uris=https%3A%2F%2Fa.example%2Fcb', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    await assertRefused(f, res, 400, 'invalid_request', /application\/json/);
  });

  test('an oversized body: 413', async () => {
    const res = await post(f.url, { redirect_uris: ['https://a.example/cb'], padding: 'x'.repeat(70_000) });
    await assertRefused(f, res, 413, 'invalid_request', /exceeds/);
  });

  test('GET: 405 with Allow', async () => {
    const res = await fetch(f.url);
    assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
    await assertRefused(f, res, 405, 'invalid_request');
  });
});

describe('registration rate limit (per IP)', () => {
  let f: Fixture;
  before(async () => {
    f = await start({ rateLimitPerMinute: 2 });
  });
  after(() => stop(f));

  test('beyond the limit: 429, Retry-After, OAuth body, nothing stored, rate_limit.hit emitted', async () => {
    const body = { redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'none' };
    assert.equal((await post(f.url, body)).status, 201);
    assert.equal((await post(f.url, body)).status, 201);
    const before = await f.storage.clients.list();
    f.events.length = 0;
    const res = await post(f.url, body);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '30');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const err = (await res.json()) as { error: string; error_description: string };
    assert.equal(err.error, 'slow_down');
    assert.match(err.error_description, /retry after 30 seconds/);
    assert.deepEqual(await f.storage.clients.list(), before);
    assert.deepEqual(f.events, [
      {
        type: 'rate_limit.hit',
        time: 1_700_000_000_123,
        data: { endpoint: 'register', key: 'ip', ip: '127.0.0.1' },
      },
    ]);
  });
});

describe('registration turned off (auth.dynamicRegistration false)', () => {
  let f: Fixture;
  before(async () => {
    f = await start({ dynamicRegistration: false });
  });
  after(() => stop(f));

  test('the route table has no /register', async () => {
    const res = await post(f.url, { redirect_uris: ['https://a.example/cb'] });
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'not routed');
    assert.deepEqual(await f.storage.clients.list(), []);
  });

  test('the endpoint itself answers 404 with an OAuth body', async () => {
    const server = createServer((req, res) => void register(req, res, f.ctx));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await post(`http://127.0.0.1:${port}/register`, {
        redirect_uris: ['https://a.example/cb'],
      });
      await assertRefused(f, res, 404, 'invalid_request', /not enabled/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
