// stdio transport (MCP 2026-07-28 basic/transports/stdio; 2025-11-25 transports "stdio"), black-box
// through `keyhole stdio` serving the demo app: both eras, framing errors, concurrency, cancellation
// and shutdown when stdin closes.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Message, MODERN_META, type Result, StdioChild } from './child.ts';

const children: StdioChild[] = [];
after(() => {
  for (const c of children) c.kill();
});
function start(args: string[] = [], env: Record<string, string> = {}): StdioChild {
  const c = StdioChild.stdio(args, env);
  children.push(c);
  return c;
}

function result(m: Message): Result {
  assert.ok(m.result, `expected a result, got ${JSON.stringify(m)}`);
  return m.result;
}

function text(m: Message): string {
  const content = m.result?.content;
  assert.ok(content, `expected a result, got ${JSON.stringify(m)}`);
  return content.map((c) => c.text).join('');
}

/** Exit code 0, nothing but JSON-RPC on stdout, JSON log lines on stderr. */
async function finish(child: StdioChild): Promise<void> {
  const { code } = await child.end();
  assert.equal(code, 0, child.stderr);
  assert.deepEqual(child.garbage, []);
  for (const m of child.messages) assert.equal(m.jsonrpc, '2.0');
  assert.doesNotThrow(() => child.logLines());
}

describe('modern (2026-07-28) requests over stdio', () => {
  const child = start();

  test('server/discover and tools/call echo are served statelessly', async () => {
    const discover = await child.modern(1, 'server/discover');
    assert.ok(discover.result?.supportedVersions?.includes('2026-07-28'));
    const echo = await child.modern(2, 'tools/call', { name: 'echo', arguments: { text: 'hello stdio' } });
    assert.deepEqual(echo.result?.content, [{ type: 'text', text: 'hello stdio' }]);
    assert.equal(echo.result?.resultType, 'complete');
  });

  test('a request without _meta is rejected (-32602); an unknown method gets -32601', async () => {
    const bare = await child.request(3, 'tools/list');
    assert.equal(bare.error?.code, -32602);
    const unknown = await child.modern(4, 'no/such/method');
    assert.equal(unknown.error?.code, -32601);
  });

  test('invalid JSON gets -32700 with a null id, and the stream carries on', async () => {
    child.send('{"jsonrpc": "2.0", "id": 5, "method": ');
    const parse = await child.next((m) => m.id === null && m.error?.code === -32700, 'parse error');
    assert.equal(parse.error?.message, 'Parse error');
    const echo = await child.modern(6, 'tools/call', { name: 'echo', arguments: { text: 'still here' } });
    assert.equal(text(echo), 'still here');
  });

  test('a JSON value that is not a JSON-RPC message gets -32600 with its id', async () => {
    child.send({ jsonrpc: '2.0', id: 7 });
    const invalid = await child.response(7);
    assert.equal(invalid.error?.code, -32600);
    child.send('[1,2]');
    const batch = await child.next((m) => m.id === null && m.error?.code === -32600, 'batch error');
    assert.match(String(batch.error?.message), /batch/);
  });

  test('requests run concurrently, and notifications/cancelled stops one without a response', async () => {
    child.modern(
      'slow',
      'tools/call',
      { name: 'countdown', arguments: { from: 60, intervalMs: 5000 } },
      {
        progressToken: 'p-slow',
      },
    );
    const progress = await child.next(
      (m) => m.method === 'notifications/progress' && m.params?.progressToken === 'p-slow',
      'progress',
    );
    assert.equal(progress.params?.total, 60);
    // The countdown is still running: a second request is answered meanwhile.
    const fast = await child.modern('fast', 'tools/call', { name: 'echo', arguments: { text: 'fast' } });
    assert.equal(text(fast), 'fast');
    assert.ok(!child.messages.some((m) => m.id === 'slow'), 'the slow request cannot have finished');
    child.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 'slow', reason: 'test' },
    });
    const after = await child.modern('after', 'tools/call', { name: 'echo', arguments: { text: 'after' } });
    assert.equal(text(after), 'after');
  });

  test('MRTR: a tool that asks the user returns input_required, and the retry completes it', async () => {
    const meta = { 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    const first = await child.modern(
      8,
      'tools/call',
      { name: 'delete_note', arguments: { id: 'shopping' } },
      meta,
    );
    assert.equal(first.result?.resultType, 'input_required');
    assert.equal(first.result?.inputRequests?.confirm?.method, 'elicitation/create');
    assert.equal(typeof first.result?.requestState, 'string');
    const retry = await child.modern(
      9,
      'tools/call',
      {
        name: 'delete_note',
        arguments: { id: 'shopping' },
        inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
        requestState: first.result?.requestState,
      },
      meta,
    );
    assert.equal(text(retry), 'Deleted "Shopping list".');
    const gone = await child.modern(10, 'resources/read', { uri: 'notes://shopping' });
    assert.equal(gone.error?.code, -32602);
  });

  test("the demo's resource, resource template, prompt and completions", async () => {
    const list = await child.modern(20, 'resources/list');
    const uris = (result(list).resources as { uri: string }[]).map((r) => r.uri);
    assert.ok(uris.includes('demo://readme'));
    assert.ok(uris.includes('notes://welcome'));
    const templates = await child.modern(21, 'resources/templates/list');
    assert.deepEqual(
      (result(templates).resourceTemplates as { uriTemplate: string }[]).map((t) => t.uriTemplate),
      ['notes://{id}'],
    );
    const note = await child.modern(22, 'resources/read', { uri: 'notes://welcome' });
    assert.match((result(note).contents as { text: string }[])[0]!.text, /^Welcome\n/);
    const byId = await child.modern(23, 'completion/complete', {
      ref: { type: 'ref/prompt', name: 'summarize_note' },
      argument: { name: 'id', value: 'w' },
    });
    assert.deepEqual((result(byId).completion as { values: string[] }).values, ['welcome']);
    const byStyle = await child.modern(24, 'completion/complete', {
      ref: { type: 'ref/resource', uri: 'notes://{id}' },
      argument: { name: 'id', value: 'i' },
    });
    assert.deepEqual((result(byStyle).completion as { values: string[] }).values, ['ideas']);
    const prompt = await child.modern(25, 'prompts/get', {
      name: 'summarize_note',
      arguments: { id: 'welcome', style: 'haiku' },
    });
    const messages = prompt.result?.messages as { content: { type: string; text?: string } }[];
    assert.equal(messages[0]!.content.text, 'Summarize this note as haiku.');
    assert.equal(messages[1]!.content.type, 'resource');
  });

  test('structured output, and an argument error the model can correct', async () => {
    const ok = await child.modern(26, 'tools/call', {
      name: 'convert_length',
      arguments: { value: 3, from: 'ft', to: 'in' },
    });
    assert.deepEqual(ok.result?.structuredContent, { value: 36, unit: 'in' });
    assert.equal(text(ok), '3 ft = 36 in');
    const bad = await child.modern(27, 'tools/call', {
      name: 'convert_length',
      arguments: { value: 3, from: 'ft', to: 'parsec' },
    });
    assert.equal(bad.result?.isError, true);
  });

  test('stdin end: exit 0; the cancelled request never got a response; no server requests were written', async () => {
    await finish(child);
    assert.ok(!child.messages.some((m) => m.id === 'slow'));
    // MCP 2026-07-28 transports/stdio: "The server MUST NOT write JSON-RPC requests to stdout".
    assert.ok(!child.messages.some((m) => m.method !== undefined && 'id' in m));
  });
});

describe('legacy (initialize) session over stdio', () => {
  const child = start();

  test('initialize, notifications/initialized, tools/list, tools/call', async () => {
    const init = await child.request(1, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: { elicitation: {} },
      clientInfo: { name: 'stdio-test', version: '1.0.0' },
    });
    assert.equal(init.result?.protocolVersion, '2025-11-25');
    assert.equal(init.result?.serverInfo?.name, 'keyhole-demo');
    assert.ok(init.result?.capabilities?.tools);
    child.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const list = await child.request(2, 'tools/list');
    const names = (list.result?.tools ?? []).map((t) => t.name);
    for (const n of ['echo', 'convert_length', 'countdown', 'delete_note', 'whoami'])
      assert.ok(names.includes(n), n);
    const echo = await child.request(3, 'tools/call', { name: 'echo', arguments: { text: 'legacy hello' } });
    assert.deepEqual(echo.result?.content, [{ type: 'text', text: 'legacy hello' }]);
    // Legacy results carry no 2026-07-28 resultType.
    assert.equal(echo.result?.resultType, undefined);
  });

  test('structured output', async () => {
    const r = await child.request(4, 'tools/call', {
      name: 'convert_length',
      arguments: { value: 1, from: 'km', to: 'm' },
    });
    assert.deepEqual(r.result?.structuredContent, { value: 1000, unit: 'm' });
  });

  test('the server asks the client (elicitation/create on stdout) and gets its answer from stdin', async () => {
    const sub = await child.request(5, 'resources/subscribe', { uri: 'notes://ideas' });
    assert.deepEqual(sub.result, {});
    child.send({
      jsonrpc: '2.0',
      id: 6,
      method: 'tools/call',
      params: { name: 'delete_note', arguments: { id: 'ideas' } },
    });
    const ask = await child.next((m) => m.method === 'elicitation/create', 'elicitation request');
    assert.ok(ask.id !== undefined);
    assert.match(String(ask.params?.message), /Ideas/);
    child.send({ jsonrpc: '2.0', id: ask.id, result: { action: 'accept', content: { confirm: true } } });
    assert.equal(text(await child.response(6)), 'Deleted "Ideas".');
    // The session is attached: its subscription hears about the change on stdout.
    const updated = await child.next(
      (m) => m.method === 'notifications/resources/updated',
      'resources/updated',
    );
    assert.equal(updated.params?.uri, 'notes://ideas');
  });

  test('a declined elicitation keeps the note', async () => {
    child.send({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'delete_note', arguments: { id: 'welcome' } },
    });
    const ask = await child.next(
      (m) => m.method === 'elicitation/create' && /Welcome/.test(String(m.params?.message)),
    );
    child.send({ jsonrpc: '2.0', id: ask.id, result: { action: 'decline' } });
    assert.equal(text(await child.response(7)), 'Kept "Welcome".');
  });

  test('whoami without authorization; a second initialize is refused; batches are not 2025-11-25', async () => {
    assert.match(text(await child.request(8, 'tools/call', { name: 'whoami' })), /without authorization/);
    const again = await child.request(9, 'initialize', { protocolVersion: '2025-11-25', capabilities: {} });
    assert.equal(again.error?.code, -32600);
    child.send([{ jsonrpc: '2.0', id: 10, method: 'ping' }]);
    const batch = await child.next((m) => m.id === null && m.error?.code === -32600, 'batch error');
    assert.match(String(batch.error?.message), /batch/);
  });

  test('legacy cancellation', async () => {
    child.send({
      jsonrpc: '2.0',
      id: 'slow',
      method: 'tools/call',
      params: { name: 'countdown', arguments: { from: 60, intervalMs: 5000 }, _meta: { progressToken: 7 } },
    });
    await child.next((m) => m.method === 'notifications/progress' && m.params?.progressToken === 7);
    child.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow' } });
    assert.deepEqual((await child.request(11, 'ping')).result, {});
  });

  test('stdin end: exit 0, no response to the cancelled request', async () => {
    await finish(child);
    assert.ok(!child.messages.some((m) => m.id === 'slow'));
  });
});

describe('2025-03-26 JSON-RPC batches', () => {
  test('a batch gets one array with a response per request; an empty batch is invalid', async () => {
    const child = start();
    const init = await child.request(1, 'initialize', { protocolVersion: '2025-03-26', capabilities: {} });
    assert.equal(init.result?.protocolVersion, '2025-03-26');
    child.send([
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { text: 'A' } } },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'echo', arguments: { text: 'B' } } },
      { jsonrpc: '2.0', id: 'c' },
    ]);
    await child.next((m) => Array.isArray(m), 'batch response');
    const batch = child.messages.find((m) => Array.isArray(m)) as unknown as Message[];
    assert.equal(batch.length, 3);
    const byId = new Map(batch.map((m) => [m.id, m]));
    assert.equal(text(byId.get('a')!), 'A');
    assert.equal(text(byId.get('b')!), 'B');
    assert.equal(byId.get('c')!.error?.code, -32600);
    child.send('[]');
    await child.next((m) => m.id === null && m.error?.code === -32600, 'empty batch error');
    const { code } = await child.end();
    assert.equal(code, 0);
  });
});

describe('era selection', () => {
  test('a failed initialize selects nothing: modern requests are still served', async () => {
    const child = start();
    const bad = await child.request(1, 'initialize', { capabilities: {} });
    assert.equal(bad.error?.code, -32602);
    const echo = await child.modern(2, 'tools/call', { name: 'echo', arguments: { text: 'modern' } });
    assert.equal(text(echo), 'modern');
    assert.equal(echo.result?.resultType, 'complete');
    await finish(child);
  });
});

describe('framing limits and shutdown', () => {
  test('a line longer than maxBodyBytes is refused whole; the next line is served', async () => {
    const child = start([], { KEYHOLE_MAX_BODY_BYTES: '1024' });
    child.send({
      jsonrpc: '2.0',
      id: 'big',
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x'.repeat(2000) }, _meta: MODERN_META },
    });
    const refused = await child.next((m) => m.id === null && m.error?.code === -32600, 'size error');
    assert.match(String(refused.error?.message), /too large/);
    const echo = await child.modern(2, 'tools/call', { name: 'echo', arguments: { text: 'small' } });
    assert.equal(text(echo), 'small');
    await finish(child);
    assert.ok(!child.messages.some((m) => m.id === 'big'));
  });

  test('a request piped just before stdin closes is still answered, then the process exits 0', async () => {
    const child = start();
    child.proc.stdin.end(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'countdown', arguments: { from: 2, intervalMs: 50 }, _meta: MODERN_META } })}\n` +
        // The final line needs no newline.
        JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: 'last' }, _meta: MODERN_META },
        }),
    );
    const { code } = await child.exited;
    assert.equal(code, 0, child.stderr);
    assert.equal(text(child.messages.find((m) => m.id === 1)!), 'Lift-off!');
    assert.equal(text(child.messages.find((m) => m.id === 2)!), 'last');
  });

  test('SIGTERM stops the server like the end of stdin: exit 0', async () => {
    const child = start();
    assert.equal(
      text(await child.modern(1, 'tools/call', { name: 'echo', arguments: { text: 'up' } })),
      'up',
    );
    child.proc.kill('SIGTERM');
    const { code } = await child.exited;
    assert.equal(code, 0, child.stderr);
    assert.ok(child.logLines().some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
  });

  test('an app that cannot be loaded: one JSON log line on stderr, exit 1', async () => {
    const child = start(['--app', 'does/not/exist.ts']);
    const { code } = await child.exited;
    assert.equal(code, 1);
    const lines = child.logLines();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'error');
    assert.match(String(lines[0]!.msg), /cannot load the module/);
    assert.deepEqual(child.messages, []);
  });
});
