// Interoperability with the v1 TypeScript SDK client (@modelcontextprotocol/sdk 1.32.2): a 2025-era
// client that always offers 2025-11-25 in `initialize`. Streamable HTTP with a session, the 2024-11-05
// HTTP+SSE transport, and stdio through the keyhole CLI.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  assertFixtureTools,
  assertProgressDelivered,
  blockingTool,
  CLIENT_INFO,
  FIXTURE_PROMPT,
  FIXTURE_RESOURCE,
  GATED_CALL_TIMEOUT_MS,
  GREETING_TEXT,
  GREETING_URI,
  GUARD,
  type Keyhole,
  onlyText,
  startKeyhole,
  stdioCommand,
  toolsChangedWatcher,
  toolsWith,
  WireLog,
  waitFor,
  withWire,
} from './helpers.ts';

/** Everything a connected client must be able to do against the fixture, whatever the transport. */
async function exercise(client: Client): Promise<void> {
  assert.deepEqual(client.getServerVersion(), { name: 'keyhole-fixture', version: '1.2.3' });
  const caps = client.getServerCapabilities();
  assert.ok(caps?.tools, 'server advertises tools');
  assert.ok(caps?.resources, 'server advertises resources');
  assert.ok(caps?.prompts, 'server advertises prompts');

  const { tools } = await client.listTools();
  assertFixtureTools(tools);

  const echoed = await client.callTool({ name: 'echo', arguments: { text: 'héllo, wörld ✓' } });
  assert.equal(echoed.isError ?? false, false);
  assert.equal(onlyText(echoed), 'héllo, wörld ✓');

  // The client validates structuredContent against the listed outputSchema before returning it.
  const added = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  assert.deepEqual(added.structuredContent, { sum: 42 });
  assert.equal(onlyText(added), '{"sum":42}');

  const { resources } = await client.listResources();
  assert.deepEqual(resources, [FIXTURE_RESOURCE]);
  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts, [FIXTURE_PROMPT]);

  const read = await client.readResource({ uri: GREETING_URI });
  assert.deepEqual(read.contents, [{ uri: GREETING_URI, mimeType: 'text/plain', text: GREETING_TEXT }]);

  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
  assert.equal(prompt.description, 'Greeting for Ada');
  assert.deepEqual(prompt.messages, [{ role: 'user', content: { type: 'text', text: 'Please greet Ada.' } }]);

  await assertProgressDelivered((name, args, onprogress) =>
    client.callTool(
      { name, arguments: args },
      undefined,
      onprogress ? { onprogress, timeout: GATED_CALL_TIMEOUT_MS } : {},
    ),
  );

  // Bad arguments are a tool execution error the model can read (server/tools "Error Handling").
  const invalid = await client.callTool({ name: 'echo', arguments: { text: 42 } });
  assert.equal(invalid.isError, true);
  assert.match(onlyText(invalid), /Invalid arguments for tool echo/);

  // An unknown tool is a protocol error: the client rejects with -32602.
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (e: { code?: number }) => {
    assert.equal(e.code, -32602);
    return true;
  });
}

describe('SDK v1 client over Streamable HTTP (2025-11-25 session)', () => {
  let keyhole: Keyhole;
  before(async () => {
    keyhole = await startKeyhole();
  });
  after(async () => {
    await keyhole.close();
  });

  test(
    'connects, lists and calls tools, reads a resource, gets a prompt, receives progress',
    GUARD,
    async () => {
      const wire = new WireLog();
      const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
      const client = new Client(CLIENT_INFO);
      try {
        await withWire(wire, async () => {
          await client.connect(transport);
          assert.equal(transport.protocolVersion, '2025-11-25');
          assert.match(transport.sessionId ?? '', /^[\x21-\x7e]{22,}$/);
          await exercise(client);
        });
      } finally {
        await client.close();
      }
    },
  );

  test(
    'receives tools/list_changed on the GET stream when a tool is registered at runtime',
    GUARD,
    async () => {
      const wire = new WireLog();
      const watcher = toolsChangedWatcher('late_tool');
      const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
      const client = new Client(CLIENT_INFO, { listChanged: { tools: watcher.option } });
      let handle: { remove(): void } | undefined;
      try {
        await withWire(wire, async () => {
          await client.connect(transport);
          assert.equal(client.getServerCapabilities()?.tools?.listChanged, true);
          // The client opens the GET stream after the 202 to notifications/initialized.
          await waitFor(wire.getStreamOpened, 'the GET stream to open');
          handle = keyhole.server.tool({ name: 'late_tool', handler: () => 'late' });
          const names = await watcher.seen;
          assert.deepEqual(names, toolsWith('late_tool'));
          assert.equal(onlyText(await client.callTool({ name: 'late_tool', arguments: {} })), 'late');
        });
      } finally {
        handle?.remove();
        await client.close();
      }
    },
  );

  test('cancelling a call aborts the tool on the server (notifications/cancelled)', GUARD, async () => {
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO);
    const tool = blockingTool(keyhole.server, 'block_v1');
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        const ac = new AbortController();
        const call = client.callTool({ name: 'block_v1', arguments: {} }, undefined, { signal: ac.signal });
        await tool.started;
        ac.abort(new Error('user cancelled'));
        await assert.rejects(call, /user cancelled/);
        await tool.aborted;
        // MCP 2025-11-25 basic/utilities/cancellation: the client said so with notifications/cancelled.
        assert.ok(wire.exchanges.some((e) => e.requestBody?.includes('"method":"notifications/cancelled"')));
        // The session is still usable afterwards.
        assert.equal(
          onlyText(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })),
          'still here',
        );
      });
    } finally {
      tool.remove();
      await client.close();
    }
  });

  test('a terminated session is gone (DELETE, then 404 for its id)', GUARD, async () => {
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO);
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        const id = transport.sessionId;
        assert.ok(id);
        await transport.terminateSession();
        const del = wire.exchanges.find((e) => e.method === 'DELETE');
        assert.ok(
          del && del.status !== undefined && del.status >= 200 && del.status < 300,
          'DELETE accepted',
        );
        // MCP 2025-11-25 transports "Session Management": requests with an ended session id get 404.
        const res = await fetch(keyhole.mcpUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': id,
            'mcp-protocol-version': '2025-11-25',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        });
        assert.equal(res.status, 404);
        const body = (await res.json()) as { jsonrpc: string; error?: { code: number } };
        assert.equal(body.jsonrpc, '2.0');
        assert.equal(typeof body.error?.code, 'number');
      });
    } finally {
      await client.close();
    }
  });
});

describe('SDK v1 client over HTTP+SSE (2024-11-05 transport)', () => {
  let keyhole: Keyhole;
  before(async () => {
    keyhole = await startKeyhole();
  });
  after(async () => {
    await keyhole.close();
  });

  test(
    'connects, lists and calls tools, reads a resource, gets a prompt, receives progress',
    GUARD,
    async () => {
      const wire = new WireLog();
      const transport = new SSEClientTransport(keyhole.sseUrl, { fetch: wire.fetch });
      const client = new Client(CLIENT_INFO);
      try {
        await withWire(wire, async () => {
          await client.connect(transport);
          await exercise(client);
        });
      } finally {
        await client.close();
      }
    },
  );

  test('receives tools/list_changed on the SSE stream', GUARD, async () => {
    const wire = new WireLog();
    const watcher = toolsChangedWatcher('late_sse_tool');
    const transport = new SSEClientTransport(keyhole.sseUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, { listChanged: { tools: watcher.option } });
    let handle: { remove(): void } | undefined;
    try {
      await withWire(wire, async () => {
        // The stream is the transport itself: it is open before connect() returns.
        await client.connect(transport);
        handle = keyhole.server.tool({ name: 'late_sse_tool', handler: () => 'late' });
        const names = await watcher.seen;
        assert.ok(names.includes('late_sse_tool'));
      });
    } finally {
      handle?.remove();
      await client.close();
    }
  });
});

describe('SDK v1 client over stdio (keyhole stdio --app fixture)', () => {
  test(
    'connects, lists and calls tools, reads a resource, gets a prompt, receives progress',
    GUARD,
    async () => {
      const stderr: Buffer[] = [];
      const transport = new StdioClientTransport({ ...stdioCommand(), stderr: 'pipe' });
      transport.stderr?.on('data', (b: Buffer) => stderr.push(b));
      const client = new Client(CLIENT_INFO);
      try {
        await client.connect(transport).catch((e: Error) => {
          throw new Error(`${e.message}\n--- server stderr ---\n${Buffer.concat(stderr).toString()}`, {
            cause: e,
          });
        });
        await exercise(client);
      } finally {
        await client.close();
      }
    },
  );

  test('receives tools/list_changed when the server registers a tool', GUARD, async () => {
    const watcher = toolsChangedWatcher('from_stdio');
    const transport = new StdioClientTransport({ ...stdioCommand(), stderr: 'pipe' });
    const client = new Client(CLIENT_INFO, { listChanged: { tools: watcher.option } });
    try {
      await client.connect(transport);
      const registered = await client.callTool({
        name: 'register_tool',
        arguments: { name: 'from_stdio', reply: 'hi' },
      });
      assert.equal(onlyText(registered), 'registered from_stdio');
      const names = await watcher.seen;
      assert.deepEqual(names, toolsWith('from_stdio'));
      assert.equal(onlyText(await client.callTool({ name: 'from_stdio', arguments: {} })), 'hi');
    } finally {
      await client.close();
    }
  });
});
