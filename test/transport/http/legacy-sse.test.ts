// MCP 2024-11-05 HTTP+SSE (basic/transports "HTTP with SSE"): the stream's first event is `endpoint`;
// messages are POSTed there and every answer travels on the stream.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertRpcError, type Harness, post, rpc, SseReader, start } from './helpers.ts';

const BadRequest = -32000;
const SessionNotFound = -32001;

let h: Harness;
before(async () => {
  h = await start();
});
after(() => h.close());

const json = { 'content-type': 'application/json' };

async function connect(): Promise<{ events: SseReader; endpoint: URL; res: Response }> {
  const res = await fetch(new URL('/sse', h.url), { headers: { accept: 'text/event-stream' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const events = new SseReader(res);
  const first = await events.next();
  assert.equal(first?.event, 'endpoint');
  assert.match(first?.data ?? '', /^\/messages\?sessionId=[\w-]+$/);
  return { events, endpoint: new URL(first?.data ?? '', h.url), res };
}

describe('2024-11-05 HTTP+SSE', () => {
  test('endpoint event, then initialize and a tool call answered on the stream', async () => {
    const { events, endpoint } = await connect();
    const init = await post(
      endpoint,
      json,
      rpc(
        'initialize',
        { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'old', version: '1' } },
        1,
      ),
    );
    assert.equal(init.status, 202);
    const initResult = await events.nextMessage();
    assert.equal(initResult?.message.id, 1);
    assert.equal(initResult?.message.result.protocolVersion, '2024-11-05');
    const ack = await post(
      endpoint,
      json,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    );
    assert.equal(ack.status, 202);
    assert.equal(
      (await post(endpoint, json, rpc('tools/call', { name: 'echo', arguments: { text: 'old' } }, 2))).status,
      202,
    );
    const call = await events.nextMessage();
    assert.deepEqual(call?.message, {
      jsonrpc: '2.0',
      id: 2,
      result: { content: [{ type: 'text', text: 'old' }] },
    });
    // List changes reach the stream once the session is initialized.
    await post(endpoint, json, rpc('tools/call', { name: 'add_tool', arguments: {} }, 3));
    const seen = [(await events.nextMessage())?.message, (await events.nextMessage())?.message];
    assert.deepEqual(
      seen.map((m) => m.method ?? m.id).sort(),
      [3, 'notifications/tools/list_changed'].sort(),
    );
    await events.cancel();
  });

  test('an unknown sessionId is 404; a missing one is 400', async () => {
    assertRpcError(
      await post(new URL('/messages?sessionId=nope', h.url), json, rpc('ping', {}, 1)),
      404,
      SessionNotFound,
      null,
    );
    assertRpcError(await post(new URL('/messages', h.url), json, rpc('ping', {}, 1)), 400, BadRequest, null);
  });

  test('bad bodies: wrong media type 415, invalid JSON -32700, batches and non-messages -32600', async () => {
    const { events, endpoint } = await connect();
    assertRpcError(
      await post(endpoint, { 'content-type': 'text/plain' }, rpc('ping', {}, 1)),
      415,
      BadRequest,
      null,
    );
    assertRpcError(await post(endpoint, json, '{'), 400, -32700, null);
    assertRpcError(await post(endpoint, json, `[${rpc('ping', {}, 1)}]`), 400, -32600, null);
    assertRpcError(await post(endpoint, json, '{"jsonrpc":"2.0"}'), 400, -32600, null);
    await events.cancel();
  });

  test('closing the stream ends the session', async () => {
    const { events, endpoint } = await connect();
    await events.cancel();
    let r = await post(endpoint, json, rpc('ping', {}, 1));
    while (r.status === 202) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      r = await post(endpoint, json, rpc('ping', {}, 1));
    }
    assertRpcError(r, 404, SessionNotFound, null);
  });

  test('a session of one transport is not usable on the other', async () => {
    const { events, endpoint } = await connect();
    const sessionId = endpoint.searchParams.get('sessionId') ?? '';
    const r = await post(
      h.url,
      { ...json, accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId },
      rpc('tools/list', {}, 1),
    );
    assertRpcError(r, 404, SessionNotFound, 1);
    await events.cancel();
  });

  test('wrong methods are 405 with Allow', async () => {
    const a = await fetch(new URL('/sse', h.url), { method: 'POST', headers: json, body: '{}' });
    assert.equal(a.status, 405);
    assert.equal(a.headers.get('allow'), 'GET');
    assert.equal((await a.json()).error.code, BadRequest);
    const b = await fetch(new URL('/messages', h.url));
    assert.equal(b.status, 405);
    assert.equal(b.headers.get('allow'), 'POST');
    assert.equal((await b.json()).error.code, BadRequest);
  });

  test('the endpoint carries the public URL’s path prefix', async () => {
    const own = await start({ publicUrl: 'http://localhost/prefix/' });
    try {
      assert.equal(own.app.url.href, 'http://localhost/prefix/mcp');
      const res = await fetch(new URL('/sse', own.origin), { headers: { accept: 'text/event-stream' } });
      const events = new SseReader(res);
      const first = await events.next();
      assert.match(first?.data ?? '', /^\/prefix\/messages\?sessionId=/);
      await events.cancel();
    } finally {
      await own.close();
    }
  });
});
