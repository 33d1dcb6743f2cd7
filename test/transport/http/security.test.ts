// Transport security and robustness on every MCP endpoint (MCP 2026-07-28 streamable-http "Security &
// Endpoint"; security best practices "DNS rebinding"): Origin, Host, body limits, health probes,
// unknown paths, extension routes, server timeouts, option validation.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Engine } from '../../../src/protocol/engine.ts';
import { McpServer } from '../../../src/server/server.ts';
import { createHttpApp } from '../../../src/transport/http/app.ts';
import { assertRpcError, type Harness, modern, post, raw, start } from './helpers.ts';

const BadRequest = -32000;

let h: Harness;
before(async () => {
  h = await start({ allowedOrigins: ['https://app.example.com'], allowedHosts: ['mcp.internal'] });
});
after(() => h.close());

const port = () => h.app.address()?.port ?? 0;

describe('Origin', () => {
  test('a foreign Origin is 403 with a JSON-RPC error without id, on every MCP endpoint', async () => {
    const m = modern('tools/list');
    const r = await post(h.url, { ...m.headers, origin: 'https://evil.example' }, m.body);
    assertRpcError(r, 403, BadRequest, null);
    for (const path of ['/sse', '/messages?sessionId=x']) {
      const res = await fetch(new URL(path, h.url), {
        method: path === '/sse' ? 'GET' : 'POST',
        headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
        body: path === '/sse' ? undefined : '{}',
      });
      assert.equal(res.status, 403, path);
      assert.equal((await res.json()).error.code, BadRequest);
    }
  });

  test('"null" and malformed origins are refused', async () => {
    const m = modern('tools/list');
    for (const origin of ['null', 'not a url']) {
      assertRpcError(await post(h.url, { ...m.headers, origin }, m.body), 403, BadRequest, null);
    }
  });

  test('the server’s own loopback origin, and configured origins, are allowed (with CORS headers)', async () => {
    const m = modern('tools/list');
    for (const origin of [
      `http://localhost:${port()}`,
      `http://127.0.0.1:${port()}`,
      'https://app.example.com',
    ]) {
      const r = await post(h.url, { ...m.headers, origin }, m.body);
      assert.equal(r.status, 200, origin);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
      assert.match(r.headers.get('access-control-expose-headers') ?? '', /Mcp-Session-Id/);
    }
  });

  test('a loopback origin on another port is a different origin', async () => {
    const m = modern('tools/list');
    const r = await post(h.url, { ...m.headers, origin: `http://localhost:${port() + 1}` }, m.body);
    assertRpcError(r, 403, BadRequest, null);
  });

  test('CORS preflight from an allowed origin is answered; from another it is 403', async () => {
    const ok = await fetch(h.url, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, mcp-method, mcp-param-region',
      },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /mcp-param-region/);
    const no = await fetch(h.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    assert.equal(no.status, 403);
    assert.equal((await no.json()).error.code, BadRequest);
  });
});

describe('Host (DNS rebinding)', () => {
  const body = modern('server/discover').body;
  const headers = (host: string) => ({ ...modern('server/discover').headers, host });

  test('a foreign Host is 403', async () => {
    for (const host of ['evil.example', `evil.example:${port()}`, 'localhost.evil.example']) {
      const r = await raw(h.url, { method: 'POST', headers: headers(host), body });
      assert.equal(r.status, 403, host);
      assert.equal(JSON.parse(r.text).error.code, BadRequest);
    }
  });

  test('loopback names and configured hosts are allowed', async () => {
    for (const host of [`localhost:${port()}`, `127.0.0.1:${port()}`, `[::1]:${port()}`, 'mcp.internal']) {
      const r = await raw(h.url, { method: 'POST', headers: headers(host), body });
      assert.equal(r.status, 200, `${host}: ${r.text}`);
    }
  });

  test('with a public URL, its host is allowed and others are not', async () => {
    const own = await start({ publicUrl: 'https://mcp.example.com' });
    try {
      assert.equal(own.app.url.href, 'https://mcp.example.com/mcp');
      const ok = await raw(own.url, { method: 'POST', headers: headers('mcp.example.com'), body });
      assert.equal(ok.status, 200, ok.text);
      const origin = await raw(own.url, {
        method: 'POST',
        headers: { ...headers('mcp.example.com'), origin: 'https://mcp.example.com' },
        body,
      });
      assert.equal(origin.status, 200, origin.text);
      const bad = await raw(own.url, { method: 'POST', headers: headers('other.example.com'), body });
      assert.equal(bad.status, 403);
    } finally {
      await own.close();
    }
  });
});

describe('bodies', () => {
  let small: Harness;
  before(async () => {
    small = await start({ maxBodyBytes: 512 });
  });
  after(() => small.close());

  test('a declared size over the limit is 413 with a JSON-RPC error', async () => {
    const m = modern('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(1000) } });
    const r = await raw(small.url, {
      method: 'POST',
      headers: { ...m.headers, 'content-length': Buffer.byteLength(m.body) },
      body: m.body,
    });
    assert.equal(r.status, 413);
    assert.equal(r.headers.connection, 'close');
    assert.equal(JSON.parse(r.text).error.code, BadRequest);
  });

  test('a chunked body that grows over the limit is 413', async () => {
    const m = modern('tools/call', { name: 'echo', arguments: { text: 'x'.repeat(1000) } });
    const r = await raw(small.url, {
      method: 'POST',
      headers: { ...m.headers, 'transfer-encoding': 'chunked' },
      body: m.body,
    });
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.text).error.code, BadRequest);
  });

  test('a body at the limit is read', async () => {
    const m = modern('tools/call', { name: 'echo', arguments: { text: 'ok' } });
    assert.ok(Buffer.byteLength(m.body) <= 512);
    assert.equal((await post(small.url, m.headers, m.body)).status, 200);
  });

  test('the 2024-11-05 messages endpoint has the same limit', async () => {
    const res = await fetch(new URL('/sse', small.url), { headers: { accept: 'text/event-stream' } });
    const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
    const first = (await reader?.read())?.value ?? '';
    const endpoint = /data: (\S+)/.exec(first)?.[1] ?? '';
    const r = await post(
      new URL(endpoint, small.url),
      { 'content-type': 'application/json' },
      'x'.repeat(600),
    );
    assertRpcError(r, 413, BadRequest, null);
    await reader?.cancel();
  });
});

describe('health, routes and unknown paths', () => {
  test('/health/live is 200', async () => {
    const res = await fetch(new URL('/health/live', h.url));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  test('/health/ready reports every check; one failing check makes it 503', async () => {
    let db = 'ok';
    const own = await start({ ready: async () => ({ db, cache: 'ok' }) });
    try {
      const ok = await fetch(new URL('/health/ready', own.url));
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { status: 'ok', checks: { db: 'ok', cache: 'ok' } });
      db = 'connection refused';
      const bad = await fetch(new URL('/health/ready', own.url));
      assert.equal(bad.status, 503);
      assert.deepEqual(await bad.json(), {
        status: 'error',
        checks: { db: 'connection refused', cache: 'ok' },
      });
    } finally {
      await own.close();
    }
  });

  test('a readiness check that throws makes it 503', async () => {
    const own = await start({
      ready: async () => {
        throw new Error('boom');
      },
    });
    try {
      const r = await fetch(new URL('/health/ready', own.url));
      assert.equal(r.status, 503);
      assert.equal((await r.json()).status, 'error');
    } finally {
      await own.close();
    }
  });

  test('health probes skip the Host check (probes come under any name)', async () => {
    const r = await raw(h.url, { method: 'GET', path: '/health/live', headers: { host: '10.0.0.7:8080' } });
    assert.equal(r.status, 200);
  });

  test('an unknown path is 404 JSON', async () => {
    const res = await fetch(new URL('/nope', h.url));
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), { error: 'not_found' });
  });

  test('extension routes answer their paths; the rest stays 404', async () => {
    const own = await start({
      routes: async (req, res) => {
        if (req.url !== '/.well-known/thing') return false;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('thing');
        return true;
      },
    });
    try {
      const ok = await fetch(new URL('/.well-known/thing', own.url));
      assert.equal(await ok.text(), 'thing');
      assert.equal((await fetch(new URL('/other', own.url))).status, 404);
      const m = modern('tools/list');
      assert.equal((await post(own.url, m.headers, m.body)).status, 200, 'MCP paths are not routed there');
    } finally {
      await own.close();
    }
  });
});

describe('server settings', () => {
  test('timeouts are applied to the listener', () => {
    const s = h.app.server;
    assert.equal(s.headersTimeout, h.app.options.headersTimeoutMs);
    assert.equal(s.requestTimeout, h.app.options.requestTimeoutMs);
    assert.equal(s.keepAliveTimeout, h.app.options.keepAliveTimeoutMs);
  });

  test('bad options are refused, naming the option', () => {
    const engine = new Engine(new McpServer());
    assert.throws(() => createHttpApp(engine, { port: -1 }), /port/);
    assert.throws(() => createHttpApp(engine, { mcpPath: 'mcp' }), /mcpPath/);
    assert.throws(() => createHttpApp(engine, { publicUrl: 'ftp://x' }), /publicUrl/);
    assert.throws(() => createHttpApp(engine, { maxBodyBytes: 0 }), /maxBodyBytes/);
    assert.throws(() => createHttpApp(engine, { legacySsePath: '/mcp' }), /differ/);
  });

  test('close() lets in-flight requests finish and refuses new ones on open connections with 503', async () => {
    const own = await start();
    // One keep-alive connection: request A is held in flight by the gate tool; request B follows on the
    // same connection after close() began.
    const socket = connect(Number(own.app.address()?.port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      received += d;
    });
    const request = (m: { headers: Record<string, string>; body: string }) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(m.headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}content-length: ${Buffer.byteLength(m.body)}\r\n\r\n${m.body}`;
    socket.write(request(modern('tools/call', { name: 'gate', arguments: { tag: 'drain' } }, 'A')));
    await own.probe.wait('gate:drain:started');
    const closing = own.close();
    // B must reach the server while A is still running (an idle connection may be closed any time).
    const arrived = once(own.app.server, 'request');
    socket.write(request(modern('tools/list', {}, 'B')));
    await arrived;
    own.probe.emit('gate:drain');
    await closing;
    await once(socket, 'close');
    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((x) => x[1]);
    assert.deepEqual(statuses, ['200', '503'], received);
    assert.match(received, /released drain/);
    assert.match(received, /"code":-32000/);
  });
});
