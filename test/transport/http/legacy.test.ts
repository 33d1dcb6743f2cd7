// Legacy Streamable HTTP (MCP 2025-03-26 .. 2025-11-25 basic/transports): sessions, the standalone GET
// stream, resumability with Last-Event-ID, SSE polling (SEP-1699), server-to-client requests, batches.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Principal } from '../../../src/protocol/contract.ts';
import { ACCEPT, assertRpcError, type Harness, initialize, post, rpc, SseReader, start } from './helpers.ts';

const BadRequest = -32000;
const SessionNotFound = -32001;

let h: Harness;
before(async () => {
  h = await start();
});
after(() => h.close());

const json = { 'content-type': 'application/json', accept: ACCEPT };

describe('session management', () => {
  test('initialize creates a session: Mcp-Session-Id of visible ASCII, JSON result', async () => {
    const { sessionId, headers } = await initialize(h.url);
    assert.match(sessionId, /^[\x21-\x7e]{32,}$/);
    const r = await post(h.url, headers, rpc('tools/call', { name: 'echo', arguments: { text: 'hi' } }, 2));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(r.json, { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'hi' }] } });
  });

  test('each initialize gets its own session id', async () => {
    const a = await initialize(h.url);
    const b = await initialize(h.url);
    assert.notEqual(a.sessionId, b.sessionId);
  });

  test('a failed initialize hands out no session', async () => {
    const r = await post(h.url, json, rpc('initialize', { capabilities: {} }, 0));
    assert.equal(r.status, 200);
    assert.equal(r.json.error.code, -32602);
    assert.equal(r.headers.get('mcp-session-id'), null);
  });

  test('a request other than initialize without a session id is 400', async () => {
    assertRpcError(await post(h.url, json, rpc('tools/list', {}, 3)), 400, BadRequest, 3);
  });

  test('an unknown session id is 404', async () => {
    const r = await post(h.url, { ...json, 'mcp-session-id': 'not-a-session' }, rpc('tools/list', {}, 4));
    assertRpcError(r, 404, SessionNotFound, 4);
  });

  test('an unsupported MCP-Protocol-Version is 400; an absent one means 2025-03-26', async () => {
    const { headers } = await initialize(h.url);
    const bad = await post(
      h.url,
      { ...headers, 'mcp-protocol-version': '1999-01-01' },
      rpc('tools/list', {}, 5),
    );
    assertRpcError(bad, 400, BadRequest, 5);
    const { 'mcp-protocol-version': _, ...noVersion } = headers;
    assert.equal((await post(h.url, noVersion, rpc('tools/list', {}, 6))).status, 200);
  });

  test('DELETE ends the session; every later request is 404', async () => {
    const { headers } = await initialize(h.url);
    const del = await fetch(h.url, { method: 'DELETE', headers });
    assert.equal(del.status, 204);
    assertRpcError(await post(h.url, headers, rpc('tools/list', {}, 7)), 404, SessionNotFound, 7);
    const get = await fetch(h.url, { headers: { ...headers, accept: 'text/event-stream' } });
    assert.equal(get.status, 404);
    assert.equal((await get.json()).error.code, SessionNotFound);
    const again = await fetch(h.url, { method: 'DELETE', headers });
    assert.equal(again.status, 404);
    assert.equal((await again.json()).error.code, SessionNotFound);
  });

  test('DELETE cancels the session’s requests in flight', async () => {
    const { headers } = await initialize(h.url);
    const pending = post(h.url, headers, rpc('tools/call', { name: 'wait', arguments: { tag: 'del' } }, 8));
    await h.probe.wait('wait:del:started');
    assert.equal((await fetch(h.url, { method: 'DELETE', headers })).status, 204);
    await h.probe.wait('wait:del:aborted');
    await pending;
  });

  test('notifications/cancelled aborts the request it names', async () => {
    const { headers } = await initialize(h.url);
    const pending = post(h.url, headers, rpc('tools/call', { name: 'wait', arguments: { tag: 'nc' } }, 'w1'));
    await h.probe.wait('wait:nc:started');
    const ack = await post(
      h.url,
      headers,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'w1' } }),
    );
    assert.equal(ack.status, 202);
    await h.probe.wait('wait:nc:aborted');
    await pending;
  });

  test('notifications and responses are accepted with 202', async () => {
    const { headers } = await initialize(h.url);
    const n = await post(
      h.url,
      headers,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }),
    );
    assert.equal(n.status, 202);
    assert.equal(n.text, '');
    const r = await post(h.url, headers, JSON.stringify({ jsonrpc: '2.0', id: 'srv-99', result: {} }));
    assert.equal(r.status, 202);
  });

  test('a message that is not JSON-RPC is 400 with -32600', async () => {
    const { headers } = await initialize(h.url);
    assertRpcError(await post(h.url, headers, JSON.stringify({ id: 1, method: 'x' })), 400, -32600);
  });

  test('sessions expire when idle', async () => {
    const own = await start({ sessionIdleTimeoutMs: 20 });
    try {
      const { headers } = await initialize(own.url);
      // Every request is activity, so the check waits well past the timeout between attempts.
      let status = 200;
      while (status !== 404) {
        await new Promise((r) => setTimeout(r, 60));
        status = (await post(own.url, headers, rpc('ping', {}, 1))).status;
      }
      assert.equal(status, 404);
    } finally {
      await own.close();
    }
  });

  test('a full session table answers initialize with 503', async () => {
    const own = await start({ maxSessions: 1 });
    try {
      await initialize(own.url);
      const r = await post(
        own.url,
        json,
        rpc(
          'initialize',
          { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
          0,
        ),
      );
      assertRpcError(r, 503, BadRequest, 0);
      assert.ok(r.headers.get('retry-after'));
    } finally {
      await own.close();
    }
  });
});

describe('POST response streams', () => {
  test('2025-11-25: the stream starts with a priming event (id, retry, empty data); events carry ids', async () => {
    const { headers } = await initialize(h.url);
    const res = await fetch(h.url, {
      method: 'POST',
      headers,
      body: rpc('tools/call', { name: 'steps', arguments: { count: 2 }, _meta: { progressToken: 'p' } }, 9),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const events = await new SseReader(res).rest();
    assert.equal(events[0]?.data, '');
    assert.ok(events[0]?.id);
    assert.equal(typeof events[0]?.retry, 'number');
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'event ids are unique');
    const messages = events.slice(1).map((e) => JSON.parse(e.data));
    assert.equal(messages.at(-1).id, 9);
    assert.equal(messages.filter((m) => m.method === 'notifications/progress').length, 2);
    // Legacy sessions get log messages at the default level.
    assert.equal(messages.filter((m) => m.method === 'notifications/message').length, 2);
  });

  test('2025-06-18: no priming event', async () => {
    const { headers } = await initialize(h.url, '2025-06-18');
    const res = await fetch(h.url, {
      method: 'POST',
      headers,
      body: rpc('tools/call', { name: 'steps', arguments: { count: 1 }, _meta: { progressToken: 1 } }, 1),
    });
    const events = await new SseReader(res).rest();
    assert.ok(events.every((e) => e.data !== ''));
    assert.equal(JSON.parse(events.at(-1)?.data ?? '{}').id, 1);
  });

  test('server-to-client requests travel on the POST stream; the answer comes back as a POST', async () => {
    const { headers } = await initialize(h.url, '2025-11-25', { elicitation: {} });
    const res = await fetch(h.url, {
      method: 'POST',
      headers,
      body: rpc('tools/call', { name: 'confirm', arguments: { what: 'deploy' } }, 'c1'),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = new SseReader(res);
    const ask = await events.nextMessage();
    assert.equal(ask?.message.method, 'elicitation/create');
    const answer = await post(
      h.url,
      headers,
      JSON.stringify({
        jsonrpc: '2.0',
        id: ask?.message.id,
        result: { action: 'accept', content: { yes: true } },
      }),
    );
    assert.equal(answer.status, 202);
    const final = await events.nextMessage();
    assert.equal(final?.message.id, 'c1');
    assert.match(final?.message.result.content[0].text, /accept/);
    assert.equal(await events.next(), undefined);
  });
});

describe('the standalone GET stream', () => {
  test('carries list changes; a second GET is 409', async () => {
    const { headers } = await initialize(h.url);
    const res = await fetch(h.url, { headers: { ...headers, accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = new SseReader(res);
    const priming = await events.next();
    assert.equal(priming?.data, '');
    const second = await fetch(h.url, { headers: { ...headers, accept: 'text/event-stream' } });
    assert.equal(second.status, 409);
    assert.equal((await second.json()).error.code, BadRequest);
    await post(h.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 1));
    const changed = await events.nextMessage();
    assert.equal(changed?.message.method, 'notifications/tools/list_changed');
    await events.cancel();
  });

  test('GET without text/event-stream in Accept is 406', async () => {
    const { headers } = await initialize(h.url);
    const res = await fetch(h.url, { headers: { ...headers, accept: 'application/json' } });
    assert.equal(res.status, 406);
    assert.equal((await res.json()).error.code, BadRequest);
  });

  test('GET with an unknown session is 404', async () => {
    const res = await fetch(h.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': 'nope' } });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.code, SessionNotFound);
  });

  test('close() ends the stream', async () => {
    const own = await start();
    const { headers } = await initialize(own.url);
    const res = await fetch(own.url, { headers: { ...headers, accept: 'text/event-stream' } });
    const events = new SseReader(res);
    await events.next();
    await own.close();
    assert.deepEqual(await events.rest(), []);
  });
});

describe('resumability (Last-Event-ID) and SSE polling (SEP-1699)', () => {
  const resume = (headers: Record<string, string>, lastEventId: string) =>
    fetch(h.url, { headers: { ...headers, accept: 'text/event-stream', 'last-event-id': lastEventId } });

  test('a handler closes its stream; the response is replayed on GET with Last-Event-ID', async () => {
    const { headers } = await initialize(h.url);
    const res = await fetch(h.url, {
      method: 'POST',
      headers,
      body: rpc(
        'tools/call',
        { name: 'reconnect', arguments: { tag: 'r1' }, _meta: { progressToken: 1 } },
        'r1',
      ),
    });
    assert.equal(await h.probe.wait('reconnect:r1:closed'), true);
    const first = await new SseReader(res).rest();
    assert.equal(first.length, 1, 'only the priming event before the close');
    assert.equal(first[0]?.data, '');
    assert.ok(first[0]?.retry);
    const last = first[0]?.id ?? '';
    // Produced while the client is away: kept for the replay.
    h.probe.emit('reconnect:r1:go');
    const again = await resume(headers, last);
    assert.equal(again.status, 200);
    const replay = (await new SseReader(again).rest()).map((e) => JSON.parse(e.data));
    assert.deepEqual(
      replay.map((m) => m.method ?? m.id),
      ['notifications/progress', 'r1'],
    );
    assert.equal(replay[1].result.content[0].text, 'reconnected r1');
  });

  test('a client that comes back before the response gets the rest live', async () => {
    const { headers } = await initialize(h.url);
    const res = await fetch(h.url, {
      method: 'POST',
      headers,
      body: rpc('tools/call', { name: 'reconnect', arguments: { tag: 'r2' } }, 'r2'),
    });
    await h.probe.wait('reconnect:r2:closed');
    const [priming] = await new SseReader(res).rest();
    const again = await resume(headers, priming?.id ?? '');
    const events = new SseReader(again);
    h.probe.emit('reconnect:r2:go');
    const final = await events.nextMessage();
    assert.equal(final?.message.id, 'r2');
    assert.equal(await events.next(), undefined, 'the stream ends after the response');
  });

  test('the standalone stream replays what was sent while the client was away', async () => {
    const { headers } = await initialize(h.url);
    const res = await fetch(h.url, { headers: { ...headers, accept: 'text/event-stream' } });
    const events = new SseReader(res);
    const priming = await events.next();
    await events.cancel();
    // The server notices the closed connection asynchronously: wait until a new GET is accepted.
    let probe = await fetch(h.url, { headers: { ...headers, accept: 'text/event-stream' } });
    while (probe.status === 409) {
      await probe.body?.cancel();
      await new Promise((r) => setTimeout(r, 5));
      probe = await fetch(h.url, { headers: { ...headers, accept: 'text/event-stream' } });
    }
    await probe.body?.cancel();
    await post(h.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 1));
    const again = await resume(headers, priming?.id ?? '');
    assert.equal(again.status, 200);
    const replay = new SseReader(again);
    const replayed = await replay.nextMessage();
    assert.equal(replayed?.message.method, 'notifications/tools/list_changed');
    await replay.cancel();
  });

  test('a Last-Event-ID that names no stream of the session is 400', async () => {
    const { headers } = await initialize(h.url);
    for (const id of ['garbage', 'zz.5', '9.1']) {
      const r = await resume(headers, id);
      assert.equal(r.status, 400, id);
      assert.equal((await r.json()).error.code, BadRequest);
    }
  });

  test('another session cannot resume this session’s stream', async () => {
    const a = await initialize(h.url);
    const b = await initialize(h.url);
    const res = await fetch(h.url, {
      method: 'POST',
      headers: a.headers,
      body: rpc('tools/call', { name: 'reconnect', arguments: { tag: 'r3' } }, 'r3'),
    });
    await h.probe.wait('reconnect:r3:closed');
    const [priming] = await new SseReader(res).rest();
    const other = await resume(b.headers, priming?.id ?? '');
    assert.equal(other.status, 400);
    await other.body?.cancel();
    h.probe.emit('reconnect:r3:go');
  });

  test('polling is refused for 2025-06-18 sessions (no priming events there)', async () => {
    const { headers } = await initialize(h.url, '2025-06-18');
    const pending = post(
      h.url,
      headers,
      rpc('tools/call', { name: 'reconnect', arguments: { tag: 'r4' } }, 'r4'),
    );
    assert.equal(await h.probe.wait('reconnect:r4:closed'), false);
    h.probe.emit('reconnect:r4:go');
    const r = await pending;
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.json.id, 'r4');
  });
});

describe('JSON-RPC batches', () => {
  test('2025-03-26 sessions may batch: responses come back as one array', async () => {
    const { headers } = await initialize(h.url, '2025-03-26');
    const r = await post(
      h.url,
      headers,
      `[${rpc('tools/call', { name: 'echo', arguments: { text: 'a' } }, 1)},${rpc('ping', {}, 2)},` +
        `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"},{"bad":true}]`,
    );
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json));
    assert.deepEqual(
      r.json.map((m: { id: unknown }) => m.id),
      [1, 2, null],
    );
    assert.equal(r.json[2].error.code, -32600);
  });

  test('a batch of notifications only is 202', async () => {
    const { headers } = await initialize(h.url, '2025-03-26');
    const r = await post(h.url, headers, '[{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]');
    assert.equal(r.status, 202);
  });

  test('later revisions refuse batches with 400 -32600', async () => {
    const { headers } = await initialize(h.url, '2025-06-18');
    assertRpcError(await post(h.url, headers, `[${rpc('ping', {}, 1)}]`), 400, -32600, null);
  });

  test('an empty batch, or one with initialize, is 400 -32600', async () => {
    const { headers } = await initialize(h.url, '2025-03-26');
    assertRpcError(await post(h.url, headers, '[]'), 400, -32600, null);
    const init = rpc('initialize', { protocolVersion: '2025-03-26', capabilities: {} }, 1);
    assertRpcError(await post(h.url, headers, `[${init}]`), 400, -32600, null);
  });

  test('a batch without a session is 400 -32600', async () => {
    assertRpcError(await post(h.url, json, `[${rpc('ping', {}, 1)}]`), 400, -32600, null);
  });
});

describe('sessions bound to principals', () => {
  const users: Record<string, Principal> = {
    alice: { subject: 'alice', clientId: 'app', scopes: [] },
    bob: { subject: 'bob', clientId: 'app', scopes: [] },
    aliceOther: { subject: 'alice', clientId: 'other-app', scopes: [] },
  };
  let g: Harness;
  before(async () => {
    g = await start({
      guard: async (req) => {
        const who = req.headers['x-user'];
        const principal = typeof who === 'string' ? users[who] : undefined;
        if (!principal) {
          return {
            status: 401,
            headers: { 'www-authenticate': 'Bearer', 'content-type': 'application/json' },
            body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Unauthorized"}}',
          };
        }
        return { principal };
      },
    });
  });
  after(() => g.close());

  test('the guard’s refusal is sent as it is', async () => {
    const r = await post(g.url, json, rpc('tools/list', {}, 1));
    assertRpcError(r, 401, BadRequest, null);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  });

  test('only the principal that created a session can use it; others get 404', async () => {
    const { headers } = await initialize(g.url, '2025-11-25', {}, { 'x-user': 'alice' });
    assert.equal((await post(g.url, headers, rpc('tools/list', {}, 1))).status, 200);
    for (const who of ['bob', 'aliceOther']) {
      const r = await post(g.url, { ...headers, 'x-user': who }, rpc('tools/list', {}, 2));
      assertRpcError(r, 404, SessionNotFound, 2);
      const get = await fetch(g.url, { headers: { ...headers, 'x-user': who, accept: 'text/event-stream' } });
      assert.equal(get.status, 404);
      await get.body?.cancel();
      const del = await fetch(g.url, { method: 'DELETE', headers: { ...headers, 'x-user': who } });
      assert.equal(del.status, 404);
      await del.body?.cancel();
    }
    assert.equal((await post(g.url, headers, rpc('tools/list', {}, 3))).status, 200, 'still alive for alice');
  });
});
