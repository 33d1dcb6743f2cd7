// MCP 2026-07-28 Streamable HTTP (basic/transports/streamable-http): stateless POSTs, JSON or a
// request-scoped SSE stream, header/body agreement, cancellation by disconnect, subscriptions/listen.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ACCEPT,
  assertRpcError,
  type Harness,
  MODERN,
  meta,
  modern,
  post,
  raw,
  SseReader,
  start,
} from './helpers.ts';

const HeaderMismatch = -32020;
const BadRequest = -32000;

let h: Harness;
before(async () => {
  h = await start({ sseKeepAliveMs: 20 });
});
after(() => h.close());

describe('2026-07-28 request/response', () => {
  test('tools/call answers with one JSON object, no session id, not cacheable', async () => {
    const m = modern('tools/call', { name: 'echo', arguments: { text: 'hi' } }, 7);
    const r = await post(h.url, m.headers, m.body);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('content-length'), String(Buffer.byteLength(r.text)));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('mcp-session-id'), null);
    assert.equal(r.json.id, 7);
    assert.deepEqual(r.json.result.content, [{ type: 'text', text: 'hi' }]);
  });

  test('an Mcp-Session-Id on a modern request is ignored, never echoed', async () => {
    const m = modern('tools/call', { name: 'echo', arguments: { text: 'x' } });
    const r = await post(h.url, { ...m.headers, 'mcp-session-id': 'no-such-session' }, m.body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('mcp-session-id'), null);
  });

  test('notifications are accepted with 202 and no body', async () => {
    const r = await post(
      h.url,
      { 'content-type': 'application/json', accept: ACCEPT, 'mcp-protocol-version': MODERN },
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/roots/list_changed',
        params: { _meta: meta() },
      }),
    );
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
  });

  test('request-scoped notifications upgrade the response to SSE; the response is the last event', async () => {
    const m = modern('tools/call', {
      name: 'steps',
      arguments: { count: 2 },
      _meta: meta({ progressToken: 'p', 'io.modelcontextprotocol/logLevel': 'debug' }),
    });
    const res = await fetch(h.url, { method: 'POST', headers: m.headers, body: m.body });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    assert.match(res.headers.get('cache-control') ?? '', /no-store/);
    const events = await new SseReader(res).rest();
    const messages = events.map((e) => JSON.parse(e.data));
    assert.deepEqual(
      messages.map((x) => x.method ?? 'response'),
      [
        'notifications/progress',
        'notifications/message',
        'notifications/progress',
        'notifications/message',
        'response',
      ],
    );
    // Modern streams are not resumable: no event ids (streamable-http "Receiving Messages").
    assert.ok(events.every((e) => e.id === undefined));
    assert.equal(messages[4].id, 1);
    assert.deepEqual(messages[4].result.content, [{ type: 'text', text: '2 steps' }]);
  });

  test('an unknown method is 404 with -32601', async () => {
    const m = modern('no/such', {});
    assertRpcError(await post(h.url, m.headers, m.body), 404, -32601, 1);
  });

  test('closing the response stream cancels the request (the handler signal aborts)', async () => {
    const m = modern('tools/call', { name: 'wait', arguments: { tag: 'modern' } });
    const client = new AbortController();
    const pending = fetch(h.url, { method: 'POST', headers: m.headers, body: m.body, signal: client.signal });
    await h.probe.wait('wait:modern:started');
    client.abort();
    await assert.rejects(pending);
    const reason = await h.probe.wait('wait:modern:aborted');
    assert.ok(reason instanceof Error);
  });
});

describe('2026-07-28 HTTP checks', () => {
  test('Accept without text/event-stream is 406', async () => {
    const m = modern('tools/list');
    assertRpcError(
      await post(h.url, { ...m.headers, accept: 'application/json' }, m.body),
      406,
      BadRequest,
      null,
    );
  });

  test('a missing Accept is 406', async () => {
    const m = modern('tools/list');
    const { accept: _, ...rest } = m.headers;
    assertRpcError(await post(h.url, rest, m.body), 406, BadRequest, null);
  });

  test('a body that is not application/json is 415', async () => {
    const m = modern('tools/list');
    assertRpcError(
      await post(h.url, { ...m.headers, 'content-type': 'text/plain' }, m.body),
      415,
      BadRequest,
      null,
    );
  });

  test('application/json with parameters is accepted', async () => {
    const m = modern('tools/list');
    const r = await post(h.url, { ...m.headers, 'content-type': 'application/json; charset=utf-8' }, m.body);
    assert.equal(r.status, 200, r.text);
  });

  test('invalid JSON is 400 with -32700 and a null id', async () => {
    const m = modern('tools/list');
    assertRpcError(await post(h.url, m.headers, '{"jsonrpc": "2.0",'), 400, -32700, null);
  });

  test('a JSON-RPC batch is 400 with -32600', async () => {
    const m = modern('tools/list');
    assertRpcError(await post(h.url, m.headers, `[${m.body}]`), 400, -32600, null);
  });

  test('a JSON-RPC response from a modern client is 400 with -32600', async () => {
    const m = modern('tools/list');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 3, result: {} });
    assertRpcError(await post(h.url, m.headers, body), 400, -32600, null);
  });

  test('a message that is not JSON-RPC 2.0 is 400 with -32600', async () => {
    const m = modern('tools/list');
    const body = JSON.stringify({ jsonrpc: '1.0', id: 3, method: 'tools/list' });
    assertRpcError(await post(h.url, m.headers, body), 400, -32600, 3);
  });

  test('GET and DELETE without a session are 405 with Allow and a JSON-RPC body', async () => {
    for (const method of ['GET', 'DELETE', 'PUT']) {
      const res = await fetch(h.url, { method, headers: { accept: 'text/event-stream' } });
      const text = await res.text();
      assert.equal(res.status, 405, method);
      assert.match(res.headers.get('allow') ?? '', /POST/);
      const body = JSON.parse(text);
      assert.equal(body.error.code, BadRequest);
      assert.equal(body.id, null);
    }
  });
});

describe('2026-07-28 header validation ("Server Validation": 400 + -32020)', () => {
  const call = (args: Record<string, unknown>, headers: Record<string, string> = {}, drop: string[] = []) => {
    const m = modern('tools/call', { name: 'query', arguments: { sql: 'select 1', ...args } }, 'q');
    const all: Record<string, string> = { ...m.headers, ...headers };
    for (const d of drop) delete all[d];
    return post(h.url, all, m.body);
  };

  test('a conformant request with mirrored parameters is accepted', async () => {
    const r = await call(
      { region: 'us-west1', limit: 42, dryRun: true, target: { zone: 'b' } },
      {
        'mcp-param-region': 'us-west1',
        'mcp-param-limit': '42',
        'mcp-param-dry-run': 'true',
        'mcp-param-zone': 'b',
      },
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.json.result.content[0].text).target, { zone: 'b' });
  });

  test('MCP-Protocol-Version is required', async () => {
    const m = modern('tools/list');
    const { 'mcp-protocol-version': _, ...rest } = m.headers;
    assertRpcError(await post(h.url, rest, m.body), 400, HeaderMismatch, 1);
  });

  test('MCP-Protocol-Version must equal the _meta version', async () => {
    const m = modern('tools/list');
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { _meta: meta({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) },
    });
    assertRpcError(await post(h.url, m.headers, body), 400, HeaderMismatch, 1);
  });

  test('an unsupported version (header and _meta agree) is 400 with -32022 and the supported list', async () => {
    const m = modern('tools/list');
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { _meta: meta({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) },
    });
    const r = await post(h.url, { ...m.headers, 'mcp-protocol-version': '2099-01-01' }, body);
    assertRpcError(r, 400, -32022, 1);
    assert.ok(r.json.error.data.supported.includes(MODERN));
    assert.equal(r.json.error.data.requested, '2099-01-01');
  });

  test('a modern version header without _meta is served as modern: 400 with -32602', async () => {
    const m = modern('tools/list');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    assertRpcError(await post(h.url, m.headers, body), 400, -32602, 1);
  });

  test('Mcp-Method is required', async () => {
    assertRpcError(await call({}, {}, ['mcp-method']), 400, HeaderMismatch, 'q');
  });

  test('Mcp-Method must equal the method, case-sensitively', async () => {
    assertRpcError(await call({}, { 'mcp-method': 'tools/list' }), 400, HeaderMismatch, 'q');
    assertRpcError(await call({}, { 'mcp-method': 'TOOLS/CALL' }), 400, HeaderMismatch, 'q');
  });

  test('Mcp-Name is required for tools/call and must equal params.name', async () => {
    assertRpcError(await call({}, {}, ['mcp-name']), 400, HeaderMismatch, 'q');
    assertRpcError(await call({}, { 'mcp-name': 'echo' }), 400, HeaderMismatch, 'q');
  });

  test('Mcp-Name mirrors params.uri for resources/read and params.name for prompts/get', async () => {
    const read = modern('resources/read', { uri: 'memo://one' });
    assert.equal((await post(h.url, read.headers, read.body)).status, 200);
    assertRpcError(
      await post(h.url, { ...read.headers, 'mcp-name': 'memo://two' }, read.body),
      400,
      HeaderMismatch,
    );
    const get = modern('prompts/get', { name: 'greet' });
    assert.equal((await post(h.url, get.headers, get.body)).status, 200);
    assertRpcError(await post(h.url, { ...get.headers, 'mcp-name': 'other' }, get.body), 400, HeaderMismatch);
  });

  test('a Base64-sentinel Mcp-Name is decoded before the comparison', async () => {
    const m = modern('resources/read', { uri: 'memo://one' });
    const encoded = `=?base64?${Buffer.from('memo://one').toString('base64')}?=`;
    const r = await post(h.url, { ...m.headers, 'mcp-name': encoded }, m.body);
    assert.equal(r.status, 200, r.text);
  });

  test('an Mcp-Name with invalid Base64 is rejected', async () => {
    const m = modern('resources/read', { uri: 'memo://one' });
    assertRpcError(
      await post(h.url, { ...m.headers, 'mcp-name': '=?base64?bWVtbzovL29uZQ?=' }, m.body),
      400,
      HeaderMismatch,
    );
    assertRpcError(
      await post(h.url, { ...m.headers, 'mcp-name': '=?base64?bWVt!!!b25l?=' }, m.body),
      400,
      HeaderMismatch,
    );
  });

  test('a header value with non-ASCII bytes is rejected', async () => {
    const m = modern('tools/call', { name: 'query', arguments: { sql: 's', region: 'zürich' } });
    const r = await raw(h.url, {
      method: 'POST',
      headers: { ...m.headers, 'mcp-param-region': Buffer.from('zürich', 'utf8').toString('latin1') },
      body: m.body,
    });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.text).error.code, HeaderMismatch);
  });

  test('non-ASCII parameter values travel Base64-encoded', async () => {
    const encoded = `=?base64?${Buffer.from('zürich').toString('base64')}?=`;
    const r = await call({ region: 'zürich' }, { 'mcp-param-region': encoded });
    assert.equal(r.status, 200, r.text);
  });

  test('a sentinel-looking value without the suffix is a literal', async () => {
    const literal = '=?base64?SGVsbG8=';
    const r = await call({ region: literal }, { 'mcp-param-region': literal });
    assert.equal(r.status, 200, r.text);
  });

  test('an Mcp-Param header is required when the argument is present', async () => {
    assertRpcError(await call({ region: 'us-west1' }), 400, HeaderMismatch, 'q');
    assertRpcError(await call({ target: { zone: 'b' } }), 400, HeaderMismatch, 'q');
  });

  test('an Mcp-Param header without the argument is rejected; a null argument needs no header', async () => {
    assertRpcError(await call({}, { 'mcp-param-region': 'us-west1' }), 400, HeaderMismatch, 'q');
    const r = await call({ region: null });
    // No header expected for null; the schema then reports the bad type as a tool error (200).
    assert.equal(r.status, 200, r.text);
  });

  test('an Mcp-Param value must match the argument', async () => {
    assertRpcError(
      await call({ region: 'us-west1' }, { 'mcp-param-region': 'eu-west1' }),
      400,
      HeaderMismatch,
      'q',
    );
    assertRpcError(
      await call({ target: { zone: 'b' } }, { 'mcp-param-zone': 'c' }),
      400,
      HeaderMismatch,
      'q',
    );
  });

  test('integers compare numerically, booleans in lower case', async () => {
    assert.equal((await call({ limit: 42 }, { 'mcp-param-limit': '42.0' })).status, 200);
    assertRpcError(await call({ limit: 42 }, { 'mcp-param-limit': '43' }), 400, HeaderMismatch, 'q');
    assertRpcError(await call({ limit: 42 }, { 'mcp-param-limit': 'forty-two' }), 400, HeaderMismatch, 'q');
    assertRpcError(await call({ dryRun: true }, { 'mcp-param-dry-run': 'True' }), 400, HeaderMismatch, 'q');
    assert.equal((await call({ dryRun: false }, { 'mcp-param-dry-run': 'false' })).status, 200);
  });

  test('header names are case-insensitive', async () => {
    const r = await raw(h.url, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ACCEPT: ACCEPT,
        'MCP-PROTOCOL-VERSION': MODERN,
        'MCP-METHOD': 'tools/call',
        'mcp-NAME': 'query',
        'MCP-Param-REGION': 'x',
      },
      body: modern('tools/call', { name: 'query', arguments: { sql: 's', region: 'x' } }).body,
    });
    assert.equal(r.status, 200, r.text);
  });
});

describe('2026-07-28 subscriptions/listen', () => {
  test('the stream stays open, carries subscribed changes and keep-alive comments, ends on close()', async () => {
    const own = await start({ sseKeepAliveMs: 10 });
    try {
      const m = modern('subscriptions/listen', { notifications: { toolsListChanged: true } }, 'sub');
      const res = await fetch(own.url, { method: 'POST', headers: m.headers, body: m.body });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const events = new SseReader(res);
      const ack = await events.nextMessage();
      assert.equal(ack?.message.method, 'notifications/subscriptions/acknowledged');
      const add = modern('tools/call', { name: 'add_tool', arguments: {} }, 2);
      assert.equal((await post(own.url, add.headers, add.body)).status, 200);
      const changed = await events.nextMessage();
      assert.equal(changed?.message.method, 'notifications/tools/list_changed');
      // Quiet stream: comment lines keep it alive until the server shuts down.
      assert.deepEqual(await events.untilComment(), []);
      const closing = own.close();
      // Graceful closure (basic/patterns/subscriptions): the listen request gets its response, as the
      // stream's last event, and the stream ends.
      const rest = (await events.rest()).filter((e) => e.data !== '').map((e) => JSON.parse(e.data));
      const final = rest.at(-1);
      assert.equal(final?.id, 'sub');
      assert.ok(final?.result);
      assert.ok(rest.slice(0, -1).every((m) => typeof m.method === 'string' && m.id === undefined));
      await closing;
    } finally {
      await own.close();
    }
  });
});
