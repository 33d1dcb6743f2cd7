// Interoperability with the v2 TypeScript SDK client (@modelcontextprotocol/client 2.4.0) in both eras:
// modern 2026-07-28 (stateless, negotiated with server/discover, change notifications through
// subscriptions/listen) and legacy (initialize + session; 2025-11-25 by default, older revisions
// through supportedProtocolVersions), over Streamable HTTP, the 2024-11-05 HTTP+SSE transport, and stdio.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Client,
  type ClientOptions,
  SSEClientTransport,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
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

const MODERN: ClientOptions = { versionNegotiation: { mode: { pin: '2026-07-28' } } };
const AUTO: ClientOptions = { versionNegotiation: { mode: 'auto' } };

/** Everything a connected client must be able to do against the fixture, whatever the era or transport. */
async function exercise(client: Client): Promise<void> {
  const info = client.getServerVersion();
  assert.equal(info?.name, 'keyhole-fixture');
  assert.equal(info?.version, '1.2.3');
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

describe('SDK v2 client over Streamable HTTP, modern era (2026-07-28)', () => {
  let keyhole: Keyhole;
  before(async () => {
    keyhole = await startKeyhole();
  });
  after(async () => {
    await keyhole.close();
  });

  test(
    'pinned 2026-07-28: lists and calls tools, reads, gets prompts, receives progress, no session',
    GUARD,
    async () => {
      const wire = new WireLog();
      const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
      const client = new Client(CLIENT_INFO, MODERN);
      try {
        await withWire(wire, async () => {
          await client.connect(transport);
          assert.equal(client.getProtocolEra(), 'modern');
          assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
          assert.ok(client.getDiscoverResult()?.supportedVersions.includes('2026-07-28'));
          await exercise(client);
          // Stateless: no initialize, no session id, no GET stream, every request POSTed.
          assert.equal(transport.sessionId, undefined);
          for (const e of wire.exchanges) {
            assert.equal(e.method, 'POST', `${e.method} ${e.url}`);
            assert.equal(e.responseHeaders?.['mcp-session-id'], undefined);
            assert.equal(e.requestHeaders['mcp-protocol-version'], '2026-07-28');
            assert.doesNotMatch(e.requestBody ?? '', /"method":"initialize"/);
          }
        });
      } finally {
        await client.close();
      }
    },
  );

  test('auto negotiation: the server/discover probe selects the modern era', GUARD, async () => {
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, AUTO);
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        assert.equal(client.getProtocolEra(), 'modern');
        const first = JSON.parse(wire.exchanges[0]?.requestBody ?? '{}') as { method?: string };
        assert.equal(first.method, 'server/discover');
        assert.equal(wire.exchanges[0]?.status, 200);
        const { tools } = await client.listTools();
        assertFixtureTools(tools);
      });
    } finally {
      await client.close();
    }
  });

  test('receives tools/list_changed through subscriptions/listen', GUARD, async () => {
    const wire = new WireLog();
    const watcher = toolsChangedWatcher('late_modern_tool');
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, { ...MODERN, listChanged: { tools: watcher.option } });
    let handle: { remove(): void } | undefined;
    try {
      await withWire(wire, async () => {
        // connect() opens subscriptions/listen and resolves after notifications/subscriptions/acknowledged.
        await client.connect(transport);
        const sub = client.autoOpenedSubscription;
        assert.ok(sub, 'the client opened subscriptions/listen');
        assert.deepEqual(sub.honoredFilter, { toolsListChanged: true });
        handle = keyhole.server.tool({ name: 'late_modern_tool', handler: () => 'late' });
        const names = await watcher.seen;
        assert.deepEqual(names, toolsWith('late_modern_tool'));
        assert.equal(onlyText(await client.callTool({ name: 'late_modern_tool', arguments: {} })), 'late');
        await sub.close();
        assert.equal(await waitFor(sub.closed, 'the subscription to end'), 'local');
      });
    } finally {
      handle?.remove();
      await client.close();
    }
  });

  test('aborting a call closes its stream, which cancels the tool on the server', GUARD, async () => {
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, MODERN);
    const tool = blockingTool(keyhole.server, 'block_modern');
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        const ac = new AbortController();
        const call = client.callTool({ name: 'block_modern', arguments: {} }, { signal: ac.signal });
        await tool.started;
        ac.abort(new Error('user cancelled'));
        await assert.rejects(call);
        // MCP 2026-07-28 streamable-http "Cancellation": the closed stream is the cancellation.
        await tool.aborted;
        assert.equal(onlyText(await client.callTool({ name: 'echo', arguments: { text: 'next' } })), 'next');
      });
    } finally {
      tool.remove();
      await client.close();
    }
  });

  test('mirrors x-mcp-header parameters as Mcp-Param-* headers the server accepts', GUARD, async () => {
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, MODERN);
    const handle = keyhole.server.tool({
      name: 'region_echo',
      input: {
        type: 'object',
        properties: { region: { type: 'string', 'x-mcp-header': 'Region' } },
        required: ['region'],
      },
      handler: (args) => `region=${String(args.region)}`,
    });
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        // The client mirrors from its cached tools/list (MCP 2026-07-28 streamable-http "Custom Headers").
        const { tools } = await client.listTools(undefined, { cacheMode: 'refresh' });
        assert.ok(tools.some((t) => t.name === 'region_echo'));
        for (const region of ['eu-west-1', 'Zürich / 東京', ' padded ']) {
          const result = await client.callTool({ name: 'region_echo', arguments: { region } });
          assert.equal(onlyText(result), `region=${region}`);
          const sent = wire.exchanges.at(-1);
          assert.equal(sent?.requestHeaders['mcp-name'], 'region_echo');
          assert.ok(sent?.requestHeaders['mcp-param-region'], 'the client sent Mcp-Param-Region');
        }
      });
    } finally {
      handle.remove();
      await client.close();
    }
  });

  test('a subscription ends gracefully when the engine closes', GUARD, async () => {
    const own = await startKeyhole();
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(own.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, MODERN);
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        const sub = await client.listen({ promptsListChanged: true, resourcesListChanged: true });
        assert.deepEqual(sub.honoredFilter, { promptsListChanged: true, resourcesListChanged: true });
        own.engine.close();
        // MCP 2026-07-28 subscriptions "Graceful Closure": a result for the listen request, not a drop.
        assert.equal(await waitFor(sub.closed, 'the subscription to end'), 'graceful');
      });
    } finally {
      await client.close();
      await own.close();
    }
  });
});

describe('SDK v2 client over Streamable HTTP, legacy era (initialize + session)', () => {
  let keyhole: Keyhole;
  before(async () => {
    keyhole = await startKeyhole();
  });
  after(async () => {
    await keyhole.close();
  });

  for (const version of ['2025-11-25', '2025-06-18', '2025-03-26'] as const) {
    test(`${version}: lists and calls tools, reads, gets prompts, receives progress`, GUARD, async () => {
      const wire = new WireLog();
      const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
      const options: ClientOptions = version === '2025-11-25' ? {} : { supportedProtocolVersions: [version] };
      const client = new Client(CLIENT_INFO, options);
      try {
        await withWire(wire, async () => {
          await client.connect(transport);
          assert.equal(client.getProtocolEra(), 'legacy');
          assert.equal(client.getNegotiatedProtocolVersion(), version);
          assert.ok(transport.sessionId, 'the server issued a session id');
          await exercise(client);
          // The default (legacy) mode never sends 2026 traffic.
          for (const e of wire.exchanges) assert.doesNotMatch(e.requestBody ?? '', /server\/discover/);
        });
      } finally {
        await client.close();
      }
    });
  }

  test('receives tools/list_changed on the GET stream', GUARD, async () => {
    const wire = new WireLog();
    const watcher = toolsChangedWatcher('late_legacy_tool');
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO, { listChanged: { tools: watcher.option } });
    let handle: { remove(): void } | undefined;
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        await waitFor(wire.getStreamOpened, 'the GET stream to open');
        handle = keyhole.server.tool({ name: 'late_legacy_tool', handler: () => 'late' });
        const names = await watcher.seen;
        assert.deepEqual(names, toolsWith('late_legacy_tool'));
      });
    } finally {
      handle?.remove();
      await client.close();
    }
  });

  test('cancelling a call aborts the tool on the server (notifications/cancelled)', GUARD, async () => {
    const wire = new WireLog();
    const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl, { fetch: wire.fetch });
    const client = new Client(CLIENT_INFO);
    const tool = blockingTool(keyhole.server, 'block_legacy');
    try {
      await withWire(wire, async () => {
        await client.connect(transport);
        const ac = new AbortController();
        const call = client.callTool({ name: 'block_legacy', arguments: {} }, { signal: ac.signal });
        await tool.started;
        ac.abort(new Error('user cancelled'));
        await assert.rejects(call);
        await tool.aborted;
        assert.ok(wire.exchanges.some((e) => e.requestBody?.includes('"method":"notifications/cancelled"')));
        assert.equal(onlyText(await client.callTool({ name: 'echo', arguments: { text: 'next' } })), 'next');
      });
    } finally {
      tool.remove();
      await client.close();
    }
  });

  test(
    'listen() is refused on a legacy connection (the GET stream carries notifications there)',
    GUARD,
    async () => {
      const transport = new StreamableHTTPClientTransport(keyhole.mcpUrl);
      const client = new Client(CLIENT_INFO);
      try {
        await client.connect(transport);
        await assert.rejects(client.listen({ toolsListChanged: true }), /2026-07-28/);
      } finally {
        await client.close();
      }
    },
  );
});

describe('SDK v2 client over HTTP+SSE (2024-11-05 transport)', () => {
  let keyhole: Keyhole;
  before(async () => {
    keyhole = await startKeyhole();
  });
  after(async () => {
    await keyhole.close();
  });

  for (const version of ['2025-11-25', '2024-11-05'] as const) {
    test(
      `offering ${version}: lists and calls tools, reads, gets prompts, receives progress`,
      GUARD,
      async () => {
        const wire = new WireLog();
        const transport = new SSEClientTransport(keyhole.sseUrl, { fetch: wire.fetch });
        const client = new Client(CLIENT_INFO, { supportedProtocolVersions: [version] });
        try {
          await withWire(wire, async () => {
            await client.connect(transport);
            assert.equal(client.getNegotiatedProtocolVersion(), version);
            await exercise(client);
          });
        } finally {
          await client.close();
        }
      },
    );
  }
});

describe('SDK v2 client over stdio (keyhole stdio --app fixture)', () => {
  function spawnTransport(): { transport: StdioClientTransport; stderr: () => string } {
    const chunks: Buffer[] = [];
    const transport = new StdioClientTransport({ ...stdioCommand(), stderr: 'pipe' });
    transport.stderr?.on('data', (b: Buffer) => chunks.push(b));
    return { transport, stderr: () => Buffer.concat(chunks).toString() };
  }

  async function connect(client: Client, spawned: ReturnType<typeof spawnTransport>): Promise<void> {
    await client.connect(spawned.transport).catch((e: Error) => {
      throw new Error(`${e.message}\n--- server stderr ---\n${spawned.stderr()}`, { cause: e });
    });
  }

  test(
    'legacy (initialize): lists and calls tools, reads, gets prompts, receives progress',
    GUARD,
    async () => {
      const spawned = spawnTransport();
      const client = new Client(CLIENT_INFO);
      try {
        await connect(client, spawned);
        assert.equal(client.getProtocolEra(), 'legacy');
        assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
        await exercise(client);
      } finally {
        await client.close();
      }
    },
  );

  test(
    'auto negotiation picks the modern era: lists and calls tools, reads, gets prompts, progress',
    GUARD,
    async () => {
      const spawned = spawnTransport();
      const client = new Client(CLIENT_INFO, AUTO);
      try {
        await connect(client, spawned);
        assert.equal(client.getProtocolEra(), 'modern');
        assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
        await exercise(client);
      } finally {
        await client.close();
      }
    },
  );

  test('modern: tools/list_changed arrives on the subscriptions/listen stream', GUARD, async () => {
    const spawned = spawnTransport();
    const watcher = toolsChangedWatcher('from_stdio');
    const client = new Client(CLIENT_INFO, { ...MODERN, listChanged: { tools: watcher.option } });
    try {
      await connect(client, spawned);
      assert.ok(client.autoOpenedSubscription, 'the client opened subscriptions/listen');
      const registered = await client.callTool({
        name: 'register_tool',
        arguments: { name: 'from_stdio', reply: 'hi' },
      });
      assert.equal(onlyText(registered), 'registered from_stdio');
      assert.deepEqual(await watcher.seen, toolsWith('from_stdio'));
      assert.equal(onlyText(await client.callTool({ name: 'from_stdio', arguments: {} })), 'hi');
    } finally {
      await client.close();
    }
  });

  test('legacy: tools/list_changed arrives unsolicited', GUARD, async () => {
    const spawned = spawnTransport();
    const watcher = toolsChangedWatcher('from_stdio');
    const client = new Client(CLIENT_INFO, { listChanged: { tools: watcher.option } });
    try {
      await connect(client, spawned);
      await client.callTool({ name: 'register_tool', arguments: { name: 'from_stdio', reply: 'hi' } });
      assert.deepEqual(await watcher.seen, toolsWith('from_stdio'));
    } finally {
      await client.close();
    }
  });
});
