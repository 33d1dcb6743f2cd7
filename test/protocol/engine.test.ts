// Protocol engine: era selection, `_meta` validation, tools, MRTR sealing, sessions and listen streams,
// exercised directly (transports are tested black-box in test/transport).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as z from 'zod';
import type { Dispatch, Outbound } from '../../src/protocol/contract.ts';
import { Engine } from '../../src/protocol/engine.ts';
import type { JsonObject, JsonRpcNotification, JsonRpcRequest } from '../../src/protocol/jsonrpc.ts';
import { McpServer } from '../../src/server/server.ts';

class Sink implements Outbound {
  readonly messages: (JsonRpcNotification | JsonRpcRequest)[] = [];
  readonly canRequest: boolean;
  constructor(canRequest = false) {
    this.canRequest = canRequest;
  }
  send(m: JsonRpcNotification | JsonRpcRequest): boolean {
    this.messages.push(m);
    return true;
  }
}

const META = (extra: JsonObject = {}) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
  ...extra,
});

function req(method: string, params: JsonObject = {}, id: number | string = 1): JsonRpcRequest {
  return { jsonrpc: '2.0', id, method, params };
}

function modern(outbound: Outbound = new Sink(), signal = new AbortController().signal): Dispatch {
  return { signal, outbound, transport: 'http' };
}

function makeServer(): McpServer {
  const server = new McpServer({ name: 'test', version: '1.0.0' });
  server.tool({
    name: 'echo',
    input: z.object({ text: z.string() }),
    handler: ({ text }) => ({ content: [{ type: 'text', text }] }),
  });
  server.tool({
    name: 'confirm',
    input: z.object({ what: z.string() }),
    handler: ({ what }, ctx) => {
      const answer = ctx.inputResponses?.ok;
      if (!answer) {
        return ctx.inputRequired({
          inputRequests: {
            ok: {
              method: 'elicitation/create',
              params: { message: `Confirm ${what}?`, requestedSchema: { type: 'object', properties: {} } },
            },
          },
          state: { what },
        });
      }
      return `${answer.action} ${JSON.stringify(ctx.requestState)}`;
    },
  });
  server.tool({
    name: 'progress',
    handler: (_a, ctx) => {
      ctx.progress(1, 2);
      ctx.log('info', 'hello');
      return 'done';
    },
  });
  return server;
}

describe('modern (2026-07-28) requests', () => {
  const engine = new Engine(makeServer());

  test('tools/call returns resultType complete and serverInfo', async () => {
    const r = await engine.handle(
      req('tools/call', { _meta: META(), name: 'echo', arguments: { text: 'hi' } }),
      modern(),
    );
    assert.equal(r.status, 200);
    assert.ok('result' in r.message);
    assert.deepEqual(r.message.result.content, [{ type: 'text', text: 'hi' }]);
    assert.equal(r.message.result.resultType, 'complete');
    assert.deepEqual((r.message.result._meta as JsonObject)['io.modelcontextprotocol/serverInfo'], {
      name: 'test',
      version: '1.0.0',
    });
  });

  test('missing _meta fields are -32602 with HTTP 400', async () => {
    for (const params of [
      {},
      { _meta: {} },
      { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    ]) {
      const r = await engine.handle(req('tools/list', params), modern());
      assert.equal(r.status, 400);
      assert.ok('error' in r.message);
      assert.equal(r.message.error.code, -32602);
    }
  });

  test('unsupported version is -32022 with supported list', async () => {
    const r = await engine.handle(
      req('tools/list', { _meta: META({ 'io.modelcontextprotocol/protocolVersion': '1900-01-01' }) }),
      modern(),
    );
    assert.equal(r.status, 400);
    assert.ok('error' in r.message);
    assert.equal(r.message.error.code, -32022);
    assert.deepEqual((r.message.error.data as JsonObject).requested, '1900-01-01');
    assert.ok(((r.message.error.data as JsonObject).supported as string[]).includes('2026-07-28'));
  });

  test('unknown and legacy-only methods are 404 -32601', async () => {
    for (const m of ['nope', 'ping', 'initialize', 'logging/setLevel']) {
      const r = await engine.handle(req(m, { _meta: META() }), modern());
      assert.equal(r.status, 404, m);
      assert.ok('error' in r.message);
      assert.equal(r.message.error.code, -32601);
    }
  });

  test('invalid tool arguments are a tool execution error; unknown tool a protocol error', async () => {
    const bad = await engine.handle(
      req('tools/call', { _meta: META(), name: 'echo', arguments: { text: 3 } }),
      modern(),
    );
    assert.ok('result' in bad.message);
    assert.equal(bad.message.result.isError, true);
    const unknown = await engine.handle(req('tools/call', { _meta: META(), name: 'nope' }), modern());
    assert.ok('error' in unknown.message);
    assert.equal(unknown.message.error.code, -32602);
  });

  test('progress and logging only when asked for', async () => {
    const quiet = new Sink();
    await engine.handle(req('tools/call', { _meta: META(), name: 'progress' }), modern(quiet));
    assert.equal(quiet.messages.length, 0);
    const loud = new Sink();
    await engine.handle(
      req('tools/call', {
        _meta: META({ progressToken: 't1', 'io.modelcontextprotocol/logLevel': 'debug' }),
        name: 'progress',
      }),
      modern(loud),
    );
    assert.deepEqual(
      loud.messages.map((m) => m.method),
      ['notifications/progress', 'notifications/message'],
    );
  });

  test('MRTR: input_required with sealed state, retry completes, tampering is rejected', async () => {
    const first = await engine.handle(
      req('tools/call', { _meta: META(), name: 'confirm', arguments: { what: 'x' } }),
      modern(),
    );
    assert.ok('result' in first.message);
    assert.equal(first.message.result.resultType, 'input_required');
    const state = first.message.result.requestState as string;
    assert.equal(typeof state, 'string');
    const retry = await engine.handle(
      req(
        'tools/call',
        {
          _meta: META(),
          name: 'confirm',
          arguments: { what: 'x' },
          inputResponses: { ok: { action: 'accept' } },
          requestState: state,
        },
        2,
      ),
      modern(),
    );
    assert.ok('result' in retry.message);
    assert.deepEqual(retry.message.result.content, [{ type: 'text', text: 'accept {"what":"x"}' }]);
    const tampered = `${state.slice(0, -2)}AA`;
    const bad = await engine.handle(
      req(
        'tools/call',
        {
          _meta: META(),
          name: 'confirm',
          arguments: { what: 'x' },
          inputResponses: { ok: { action: 'accept' } },
          requestState: tampered,
        },
        3,
      ),
      modern(),
    );
    assert.ok('error' in bad.message);
    assert.equal(bad.message.error.code, -32602);
    const otherRequest = await engine.handle(
      req(
        'tools/call',
        {
          _meta: META(),
          name: 'confirm',
          arguments: { what: 'y' },
          inputResponses: { ok: { action: 'accept' } },
          requestState: state,
        },
        4,
      ),
      modern(),
    );
    assert.ok('error' in otherRequest.message, 'state bound to other arguments must be rejected');
  });

  test('MRTR: a client without the capability gets -32021', async () => {
    const r = await engine.handle(
      req('tools/call', {
        _meta: META({ 'io.modelcontextprotocol/clientCapabilities': {} }),
        name: 'confirm',
        arguments: { what: 'x' },
      }),
      modern(),
    );
    assert.equal(r.status, 400);
    assert.ok('error' in r.message);
    assert.equal(r.message.error.code, -32021);
  });

  test('subscriptions/listen acknowledges, delivers list changes, ends on close', async () => {
    const server = makeServer();
    const e = new Engine(server);
    const sink = new Sink();
    const pending = e.handle(
      req('subscriptions/listen', { _meta: META(), notifications: { toolsListChanged: true } }, 'L'),
      modern(sink),
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(sink.messages[0]?.method, 'notifications/subscriptions/acknowledged');
    server.tool({ name: 'late', handler: () => 'x' });
    server.prompt({ name: 'p', get: () => ({ messages: [] }) });
    assert.deepEqual(
      sink.messages.map((m) => m.method),
      ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed'],
    );
    e.close();
    const reply = await pending;
    assert.ok('result' in reply.message);
    assert.equal((reply.message.result._meta as JsonObject)['io.modelcontextprotocol/subscriptionId'], 'L');
  });
});

describe('legacy (initialize-based) sessions', () => {
  test('initialize negotiates, then MRTR handlers become server-to-client requests', async () => {
    const engine = new Engine(makeServer());
    const session = engine.createSession();
    const out = new Sink(true);
    const d: Dispatch = { signal: new AbortController().signal, outbound: out, session, transport: 'http' };
    const init = await engine.handle(
      req('initialize', {
        protocolVersion: '2025-11-25',
        capabilities: { elicitation: {} },
        clientInfo: { name: 'c', version: '1' },
      }),
      d,
    );
    assert.ok('result' in init.message);
    assert.equal(init.message.result.protocolVersion, '2025-11-25');
    assert.equal(init.message.result.resultType, undefined);
    const pending = engine.handle(req('tools/call', { name: 'confirm', arguments: { what: 'z' } }, 2), d);
    await new Promise((r) => setImmediate(r));
    const sent = out.messages.find((m): m is JsonRpcRequest => 'id' in m);
    assert.equal(sent?.method, 'elicitation/create');
    assert.ok(engine.response({ jsonrpc: '2.0', id: sent!.id, result: { action: 'accept' } }, d));
    const done = await pending;
    assert.ok('result' in done.message);
    assert.deepEqual(done.message.result.content, [{ type: 'text', text: 'accept {"what":"z"}' }]);
  });

  test('an unknown version negotiates down to the latest legacy one; re-initialize is refused', async () => {
    const engine = new Engine(makeServer());
    const session = engine.createSession();
    const d: Dispatch = {
      signal: new AbortController().signal,
      outbound: new Sink(true),
      session,
      transport: 'http',
    };
    const r = await engine.handle(req('initialize', { protocolVersion: '1999-01-01', capabilities: {} }), d);
    assert.ok('result' in r.message);
    assert.equal(r.message.result.protocolVersion, '2025-11-25');
    const again = await engine.handle(
      req('initialize', { protocolVersion: '2025-11-25', capabilities: {} }, 2),
      d,
    );
    assert.ok('error' in again.message);
    assert.equal(again.message.error.code, -32600);
  });

  test('notifications/cancelled aborts the handler and suppresses the reply', async () => {
    const server = new McpServer();
    let seen: AbortSignal | undefined;
    server.tool({
      name: 'slow',
      handler: (_a, ctx) =>
        new Promise((resolve) => {
          seen = ctx.signal;
          ctx.signal.addEventListener('abort', () => resolve('stopped'));
        }),
    });
    const engine = new Engine(server);
    const session = engine.createSession();
    const d: Dispatch = {
      signal: new AbortController().signal,
      outbound: new Sink(true),
      session,
      transport: 'http',
    };
    await engine.handle(req('initialize', { protocolVersion: '2025-06-18', capabilities: {} }), d);
    const pending = engine.handle(req('tools/call', { name: 'slow' }, 'slow-1'), d);
    await new Promise((r) => setImmediate(r));
    engine.notification(
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1' } },
      d,
    );
    const reply = await pending;
    assert.equal(seen?.aborted, true);
    assert.equal(reply.cancelled, true);
  });

  test('list changes reach attached sessions on their standalone stream', async () => {
    const server = makeServer();
    const engine = new Engine(server);
    const session = engine.createSession();
    const standalone = new Sink(true);
    session.standalone = standalone;
    const d: Dispatch = {
      signal: new AbortController().signal,
      outbound: new Sink(true),
      session,
      transport: 'http',
    };
    await engine.handle(req('initialize', { protocolVersion: '2025-11-25', capabilities: {} }), d);
    engine.attachSession(session);
    const h = server.tool({ name: 'added', handler: () => 'x' });
    h.remove();
    session.close();
    server.tool({ name: 'after-close', handler: () => 'x' });
    assert.deepEqual(
      standalone.messages.map((m) => m.method),
      ['notifications/tools/list_changed', 'notifications/tools/list_changed'],
    );
  });
});
