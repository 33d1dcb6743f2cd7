// Client ID Metadata Documents (MCP 2026-07-28 basic/authorization/client-registration;
// draft-ietf-oauth-client-id-metadata-document-00), fetched from a real https server on 127.0.0.1
// with a self-signed certificate made for the test. Loopback is reachable only through the test-only
// allow-list; without it the SSRF guard refuses before connecting.

import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type CimdOptions, CimdResolver, isCimdClientId } from '../../src/authserver/clients/cimd.ts';
import { ClientRegistry } from '../../src/authserver/clients/registry.ts';
import { openStorage } from '../../src/storage/open.ts';
import { RedisCimdCache } from '../../src/storage/redis/cimd.ts';
import { connectRedis } from '../../src/storage/redis/client.ts';
import { deleteRedisKeys, REDIS_URL, redisPrefix } from '../support/databases.ts';
import { selfSignedLoopbackCert } from '../support/tls.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let ca: Buffer;
let origin: string; // https://127.0.0.1:PORT
let allowHost: string; // 127.0.0.1:PORT
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
/** Responses held back until the test releases them (for the coalescing case). */
const held: (() => void)[] = [];

before(async () => {
  const tls = selfSignedLoopbackCert();
  ca = tls.cert;
  const key = tls.key;
  server = createServer({ key, cert: ca }, (req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `https://127.0.0.1:${port}`;
  allowHost = `127.0.0.1:${port}`;
});

after(async () => {
  for (const release of held.splice(0)) release();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  routes.clear();
  hits.clear();
});

function resolver(options: CimdOptions = {}): CimdResolver {
  return new CimdResolver({ allowHosts: [allowHost], ca, ...options });
}

/** Serves `doc` (with `client_id` = its own URL unless given) at `path`. */
function serveDoc(
  path: string,
  doc: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): string {
  const url = `${origin}${path}`;
  const body = JSON.stringify({
    client_id: url,
    client_name: 'Example MCP Client',
    redirect_uris: ['http://127.0.0.1:3000/callback', 'http://localhost:3000/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...doc,
  });
  routes.set(path, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(body);
  });
  return url;
}

async function refused(r: CimdResolver, url: string, reason: RegExp): Promise<void> {
  const result = await r.resolve(url);
  assert.equal(result.ok, false, 'expected a refusal');
  assert.match((result as { reason: string }).reason, reason);
}

describe('client_id as a metadata document URL (draft §3)', () => {
  test('https URLs with a path, in normal form', () => {
    for (const id of [
      'https://app.example.com/client.json',
      'https://app.example.com/oauth/client-metadata.json',
      'https://app.example.com:8443/c',
      'https://app.example.com/c?v=1',
    ]) {
      assert.equal(isCimdClientId(id), true, id);
    }
    for (const id of [
      'http://app.example.com/client.json',
      'https://app.example.com',
      'https://app.example.com/',
      'https://app.example.com/c#x',
      'https://user:pw@app.example.com/c',
      'https://app.example.com/a/../c',
      'https://app.example.com/./c',
      'https://APP.example.com/c',
      'https://app.example.com:443/c',
      'client-123',
      '',
    ]) {
      assert.equal(isCimdClientId(id), false, id);
    }
  });
});

describe('metadata document fetch', () => {
  test('a valid document becomes a public client with source cimd', async () => {
    const url = serveDoc('/client.json', {
      logo_uri: 'https://app.example.com/logo.png',
      scope: 'tools:read',
    });
    const result = await resolver({ now: () => 1_000 }).resolve(url);
    assert.ok(result.ok, JSON.stringify(result));
    const c = result.client;
    assert.equal(c.clientId, url);
    assert.equal(c.source, 'cimd');
    assert.equal(c.clientName, 'Example MCP Client');
    assert.equal(c.tokenEndpointAuthMethod, 'none');
    assert.equal(c.secretHash, undefined);
    assert.deepEqual(c.redirectUris, ['http://127.0.0.1:3000/callback', 'http://localhost:3000/callback']);
    assert.deepEqual(c.grantTypes, ['authorization_code', 'refresh_token']);
    assert.equal(c.scope, 'tools:read');
    assert.deepEqual(c.metadata, { logo_uri: 'https://app.example.com/logo.png' });
    assert.equal(c.createdAt, 1_000);
  });

  test('an absent token_endpoint_auth_method means a public client', async () => {
    const url = serveDoc('/no-method.json', { token_endpoint_auth_method: undefined });
    const result = await resolver().resolve(url);
    assert.ok(result.ok);
    assert.equal(result.client.tokenEndpointAuthMethod, 'none');
  });

  test('the registry resolves https client ids through the document', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const url = serveDoc('/registry.json');
    const registry = new ClientRegistry({ clients: storage.clients, cimd: resolver() });
    assert.equal((await registry.get(url))?.source, 'cimd');
    // Nothing is persisted: the document stays the source of truth.
    assert.deepEqual(await storage.clients.list(), []);
    await storage.close();
  });
});

describe('caching (HTTP caching headers; failures never cached; one fetch per URL at a time)', () => {
  test('Cache-Control max-age: served from cache until it expires', async () => {
    const url = serveDoc('/cached.json', {}, { 'cache-control': 'max-age=60' });
    let now = 0;
    const r = resolver({ now: () => now });
    assert.ok((await r.resolve(url)).ok);
    now = 59_999;
    assert.ok((await r.resolve(url)).ok);
    assert.equal(hits.get('/cached.json'), 1);
    now = 60_000;
    assert.ok((await r.resolve(url)).ok);
    assert.equal(hits.get('/cached.json'), 2);
  });

  test('no-store and no-cache: fetched every time', async () => {
    const a = serveDoc('/nostore.json', {}, { 'cache-control': 'no-store' });
    const b = serveDoc('/nocache.json', {}, { 'cache-control': 'public, no-cache' });
    const r = resolver();
    for (let i = 0; i < 2; i++) {
      assert.ok((await r.resolve(a)).ok);
      assert.ok((await r.resolve(b)).ok);
    }
    assert.equal(hits.get('/nostore.json'), 2);
    assert.equal(hits.get('/nocache.json'), 2);
  });

  test('Expires relative to Date; no headers: the default lifetime; max-age capped by maxTtlMs', async () => {
    const date = new Date(Date.UTC(2030, 0, 1)).toUTCString();
    const expires = new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString();
    const a = serveDoc('/expires.json', {}, { date, expires });
    const b = serveDoc('/plain.json');
    const c = serveDoc('/long.json', {}, { 'cache-control': 'max-age=999999' });
    let now = 0;
    const r = resolver({ now: () => now, defaultTtlMs: 10_000, maxTtlMs: 100_000 });
    for (const u of [a, b, c]) assert.ok((await r.resolve(u)).ok);
    now = 9_999;
    for (const u of [a, b, c]) assert.ok((await r.resolve(u)).ok);
    assert.deepEqual([hits.get('/expires.json'), hits.get('/plain.json'), hits.get('/long.json')], [1, 1, 1]);
    now = 10_000; // default lifetime over
    for (const u of [a, b, c]) assert.ok((await r.resolve(u)).ok);
    assert.deepEqual([hits.get('/expires.json'), hits.get('/plain.json'), hits.get('/long.json')], [1, 2, 1]);
    now = 30_000; // Expires reached (30 s after Date)
    assert.ok((await r.resolve(a)).ok);
    assert.equal(hits.get('/expires.json'), 2);
    now = 100_000; // max-age capped at maxTtlMs
    assert.ok((await r.resolve(c)).ok);
    assert.equal(hits.get('/long.json'), 2);
  });

  test('a failure is not cached: the next lookup fetches again', async () => {
    const path = '/flaky.json';
    routes.set(path, (_req, res) => {
      res.writeHead(503, { 'cache-control': 'max-age=3600' });
      res.end();
    });
    const r = resolver();
    await refused(r, `${origin}${path}`, /HTTP 503/);
    serveDoc(path, {}, { 'cache-control': 'max-age=3600' });
    assert.ok((await r.resolve(`${origin}${path}`)).ok);
    assert.equal(hits.get(path), 2);
  });

  test('concurrent lookups of one URL share one fetch', async () => {
    const url = `${origin}/slow.json`;
    const body = JSON.stringify({
      client_id: url,
      client_name: 'Slow',
      redirect_uris: ['https://a.example/cb'],
    });
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    routes.set('/slow.json', (_req, res) => {
      held.push(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(body);
      });
      arrived();
    });
    const r = resolver();
    const lookups = Array.from({ length: 5 }, () => r.resolve(url));
    await arrival;
    // Another lookup while the fetch is still in flight joins it too.
    lookups.push(r.resolve(url));
    for (const release of held.splice(0)) release();
    const results = await Promise.all(lookups);
    assert.ok(results.every((x) => x.ok));
    assert.equal(hits.get('/slow.json'), 1);
    // Once settled (and not cacheable), the next lookup fetches afresh.
    serveDoc('/slow.json', { client_name: 'Slow' }, { 'cache-control': 'no-store' });
    assert.ok((await r.resolve(url)).ok);
    assert.equal(hits.get('/slow.json'), 2);
  });
  test('distinct URLs beyond maxConcurrent in flight fail at once, uncached', async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const url = `${origin}/held.json`;
    const body = JSON.stringify({
      client_id: url,
      client_name: 'Held',
      redirect_uris: ['https://a.example/cb'],
    });
    routes.set('/held.json', (_req, res) => {
      held.push(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      });
      arrived();
    });
    const other = serveDoc('/other.json');
    const r = resolver({ maxConcurrent: 1 });
    const first = r.resolve(url);
    await arrival;
    await refused(r, other, /too many client metadata documents/);
    assert.equal(hits.get('/other.json'), undefined);
    for (const release of held.splice(0)) release();
    assert.ok((await first).ok);
    // The refusal was not cached: with the slot free, the lookup succeeds.
    assert.ok((await r.resolve(other)).ok);
  });
});

describe('a cache shared by replicas (Redis)', () => {
  test('a document fetched by one replica serves the others until it is stale', async () => {
    const prefix = redisPrefix();
    const clients = [await connectRedis({ url: REDIS_URL }), await connectRedis({ url: REDIS_URL })];
    try {
      const url = serveDoc('/shared.json', {}, { 'cache-control': 'max-age=60' });
      let now = Date.now();
      const [a, b] = clients.map((c) => resolver({ now: () => now, cache: new RedisCimdCache(c!, prefix) }));
      const first = await a!.resolve(url);
      assert.ok(first.ok);
      const second = await b!.resolve(url);
      assert.ok(second.ok);
      assert.deepEqual(second.client, first.client);
      assert.equal(hits.get('/shared.json'), 1, 'the second replica did not fetch');
      now += 60_000; // stale for everyone
      assert.ok((await b!.resolve(url)).ok);
      assert.equal(hits.get('/shared.json'), 2);
      // Failures and no-store documents are not shared either.
      routes.set('/gone.json', (_req, res) => {
        res.writeHead(500);
        res.end();
      });
      assert.equal((await a!.resolve(`${origin}/gone.json`)).ok, false);
      assert.equal((await b!.resolve(`${origin}/gone.json`)).ok, false);
      assert.equal(hits.get('/gone.json'), 2);
    } finally {
      for (const c of clients) c.destroy();
      await deleteRedisKeys(prefix);
    }
  });

  test('a cache that fails (Redis gone) is a miss: the document is fetched, never refused', async () => {
    const client = await connectRedis({ url: REDIS_URL });
    client.destroy();
    const url = serveDoc('/no-cache-backend.json', {}, { 'cache-control': 'max-age=60' });
    const r = resolver({ cache: new RedisCimdCache(client, redisPrefix()) });
    assert.ok((await r.resolve(url)).ok);
    assert.ok((await r.resolve(url)).ok);
    assert.equal(hits.get('/no-cache-backend.json'), 2);
  });
});

describe('fetch limits: no redirects, size cap, deadline, JSON only, TLS', () => {
  test('a redirect is not followed', async () => {
    serveDoc('/target.json');
    routes.set('/moved.json', (_req, res) => {
      res.writeHead(302, { location: `${origin}/target.json` });
      res.end();
    });
    await refused(resolver(), `${origin}/moved.json`, /redirect \(HTTP 302\)/);
    assert.equal(hits.get('/target.json'), undefined);
  });

  test('a declared length over the cap is refused before reading', async () => {
    routes.set('/big.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2000' });
      res.write('{');
      // The rest never comes: the declared length alone is enough to refuse.
    });
    await refused(resolver({ maxBytes: 1_024 }), `${origin}/big.json`, /larger than 1024 bytes/);
  });

  test('a body over the cap without a declared length is aborted mid-transfer', async () => {
    routes.set('/stream.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"padding":"${'x'.repeat(800)}`);
      res.write('x'.repeat(800));
      // Never ends on its own: the client must stop reading.
    });
    await refused(resolver({ maxBytes: 1_024 }), `${origin}/stream.json`, /larger than 1024 bytes/);
  });

  test('no complete answer before the deadline', async () => {
    routes.set('/hang.json', () => {
      // Never answers.
    });
    await refused(resolver({ timeoutMs: 200 }), `${origin}/hang.json`, /within 200 ms/);
  });

  test('only JSON content types', async () => {
    const url = `${origin}/html.json`;
    routes.set('/html.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(JSON.stringify({ client_id: url }));
    });
    await refused(resolver(), url, /content type is 'text\/html'/);
    const alt = serveDoc(
      '/typed.json',
      {},
      { 'content-type': 'application/oauth-client+json; charset=utf-8' },
    );
    assert.ok((await resolver().resolve(alt)).ok);
  });

  test('invalid JSON and non-objects', async () => {
    routes.set('/broken.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"client_id": ');
    });
    routes.set('/array.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    await refused(resolver(), `${origin}/broken.json`, /not valid JSON/);
    await refused(resolver(), `${origin}/array.json`, /not a JSON object/);
  });

  test('an untrusted certificate fails the fetch', async () => {
    const url = serveDoc('/tls.json');
    await refused(new CimdResolver({ allowHosts: [allowHost] }), url, /certificate/);
  });
});

describe('document rules', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      'client_id differs from the URL',
      { client_id: 'https://elsewhere.example/client.json' },
      /does not match its URL/,
    ],
    ['client_id with a trailing slash', { client_id: '__URL__/' }, /does not match its URL/],
    ['a client_secret', { client_secret: 'x' }, /must not contain client_secret/],
    ['client_secret_expires_at', { client_secret_expires_at: 0 }, /must not contain client_secret/],
    ['client_secret_basic', { token_endpoint_auth_method: 'client_secret_basic' }, /shared secret/],
    ['client_secret_jwt', { token_endpoint_auth_method: 'client_secret_jwt' }, /shared secret/],
    [
      'private_key_jwt (not implemented here)',
      { token_endpoint_auth_method: 'private_key_jwt' },
      /private_key_jwt/,
    ],
    ['no client_name', { client_name: undefined }, /client_name/],
    ['no redirect_uris', { redirect_uris: undefined }, /redirect_uris/],
    [
      'an http redirect URI off loopback',
      { redirect_uris: ['http://evil.example/cb'] },
      /evil\.example.*loopback/,
    ],
    ['a redirect URI with a fragment', { redirect_uris: ['https://a.example/cb#x'] }, /fragment/],
    ['an unsupported grant type', { grant_types: ['implicit'] }, /implicit/],
  ];
  for (const [name, doc, reason] of cases) {
    test(`refused: ${name}`, async () => {
      const path = `/rule-${name.replace(/\W+/g, '-')}.json`;
      const url = `${origin}${path}`;
      const patched = { ...doc };
      if (patched.client_id === '__URL__/') patched.client_id = `${url}/`;
      serveDoc(path, patched);
      await refused(resolver(), url, reason);
    });
  }
});

describe('SSRF guard (draft §6; MCP security considerations)', () => {
  test('loopback is refused without the test allow-list, before any connection', async () => {
    const url = serveDoc('/ssrf.json');
    await refused(new CimdResolver({ ca }), url, /127\.0\.0\.1 is not a public address/);
    assert.equal(hits.get('/ssrf.json'), undefined);
  });

  test('a host name resolving to loopback is refused at connect time', async () => {
    const port = allowHost.split(':')[1];
    serveDoc('/named.json');
    await refused(new CimdResolver({ ca }), `https://localhost:${port}/named.json`, /not a public address/);
    assert.equal(hits.get('/named.json'), undefined);
  });

  test('private, link-local and mapped literals are refused', async () => {
    const r = new CimdResolver();
    assert.equal(isCimdClientId('https://[::ffff:127.0.0.1]/c'), false); // not in normal form
    for (const host of [
      '10.0.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '[::1]',
      '[::ffff:7f00:1]',
      '[fe80::1]',
      '[fd00::1]',
    ]) {
      await refused(r, `https://${host}/client.json`, /not a public address/);
    }
  });

  test('the allow-list is exact host:port', async () => {
    const url = serveDoc('/exact.json');
    await refused(new CimdResolver({ ca, allowHosts: ['127.0.0.1:1'] }), url, /not a public address/);
    assert.equal(hits.get('/exact.json'), undefined);
  });
});
