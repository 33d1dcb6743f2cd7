// Authorization inside MCP, end to end with tokens from the real flow: a tool that declares a scope
// (the demo's whoami needs profile:read) is refused with 403 insufficient_scope and a challenge naming
// the scope to a token without it, and sees the principal with it (RFC 6750 §3.1; MCP 2026-07-28
// authorization "Scope Challenge Handling"); a legacy session belongs to the user and client whose token
// created it, so another user's token with its id gets 404 and no access (MCP security best practices
// "Session Hijacking"), on Streamable HTTP and on the 2024-11-05 HTTP+SSE transport.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../authserver/browser.ts';
import {
  addUser,
  callTool,
  challengeError,
  obtainTokens,
  type RunningKeyhole,
  registerClient,
  startKeyhole,
} from './harness.ts';

const INIT = {
  protocolVersion: '2025-11-25',
  capabilities: {},
  clientInfo: { name: 'keyhole-e2e-legacy', version: '1.0.0' },
};

/** A JSON-RPC message from a JSON or SSE response body. */
async function rpc(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return JSON.parse(text);
  const data = text
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim())
    .filter((d) => d !== '');
  return JSON.parse(data.at(-1)!);
}

function legacyPost(
  k: RunningKeyhole,
  token: string | undefined,
  body: Record<string, unknown>,
  sessionId?: string,
): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (sessionId !== undefined) {
    headers['mcp-session-id'] = sessionId;
    headers['mcp-protocol-version'] = '2025-11-25';
  }
  return fetch(k.mcpUrl, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
}

describe('tool scopes with real tokens', () => {
  let k: RunningKeyhole;
  let aliceId: string;
  let clientId: string;
  let narrow: string;
  let full: string;

  before(async () => {
    // A second supported scope, so a token can be issued without profile:read.
    k = await startKeyhole({ env: { KEYHOLE_SCOPES: 'notes:read' } });
    aliceId = (await addUser(k, 'alice')).id;
    clientId = await registerClient(k);
    const browser = new Browser();
    narrow = (await obtainTokens(k, { clientId, username: 'alice', scope: 'notes:read', browser }))
      .access_token;
    full = (await obtainTokens(k, { clientId, username: 'alice', scope: 'profile:read notes:read', browser }))
      .access_token;
  });
  after(() => k.stop({ remove: true }));

  test('without profile:read: 403 insufficient_scope naming the scope; other tools still work', async () => {
    const res = await callTool(k, narrow, 'whoami');
    assert.equal(res.status, 403);
    assert.equal(challengeError(res), 'insufficient_scope');
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer /);
    assert.match(challenge, /scope="profile:read"/);
    assert.match(challenge, /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(typeof body.error.code, 'number', 'a JSON-RPC error body');

    // Tools the token may call still work.
    const echo = await callTool(k, narrow, 'echo', { text: 'narrow' });
    assert.equal(echo.status, 200);
    await echo.arrayBuffer();
  });

  test('with profile:read: the tool sees the principal (user, client, scopes)', async () => {
    const res = await callTool(k, full, 'whoami');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: { structuredContent: unknown } };
    assert.deepEqual(body.result.structuredContent, {
      subject: aliceId,
      clientId,
      scopes: ['profile:read', 'notes:read'],
    });
  });

  test('on a legacy session too: 403 insufficient_scope without the scope', async () => {
    const init = await legacyPost(k, narrow, { id: 1, method: 'initialize', params: INIT });
    assert.equal(init.status, 200);
    const sessionId = init.headers.get('mcp-session-id');
    assert.ok(sessionId);
    await init.arrayBuffer();
    const call = await legacyPost(
      k,
      narrow,
      { id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
      sessionId,
    );
    assert.equal(call.status, 403);
    assert.equal(challengeError(call), 'insufficient_scope');
    assert.match(call.headers.get('www-authenticate') ?? '', /scope="profile:read"/);
    await call.arrayBuffer();
  });
});

describe('legacy sessions are bound to the principal that created them', () => {
  let k: RunningKeyhole;
  let alice: string;
  let bob: string;
  let aliceOtherClient: string;

  before(async () => {
    k = await startKeyhole();
    await addUser(k, 'alice');
    await addUser(k, 'bob');
    const clientId = await registerClient(k);
    alice = (await obtainTokens(k, { clientId, username: 'alice' })).access_token;
    bob = (await obtainTokens(k, { clientId, username: 'bob' })).access_token;
    // The same user through another client is another principal too.
    aliceOtherClient = (await obtainTokens(k, { username: 'alice' })).access_token;
  });
  after(() => k.stop({ remove: true }));

  test("Streamable HTTP: another user's token with the session id gets 404; the owner keeps the session", async () => {
    const init = await legacyPost(k, alice, { id: 1, method: 'initialize', params: INIT });
    assert.equal(init.status, 200);
    const sessionId = init.headers.get('mcp-session-id');
    assert.ok(sessionId);
    await init.arrayBuffer();
    const initialized = await legacyPost(k, alice, { method: 'notifications/initialized' }, sessionId);
    assert.equal(initialized.status, 202);
    await initialized.arrayBuffer();

    const echo = { id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'mine' } } };
    for (const [who, token] of [
      ['bob', bob],
      ['alice via another client', aliceOtherClient],
    ] as const) {
      const stolen = await legacyPost(k, token, echo, sessionId);
      assert.equal(stolen.status, 404, who);
      const body = (await stolen.json()) as { error?: { code: number }; result?: unknown };
      assert.equal(body.result, undefined, who);
      assert.equal(typeof body.error?.code, 'number', `${who}: a JSON-RPC error body`);
      for (const method of ['GET', 'DELETE']) {
        const res: Response = await fetch(k.mcpUrl, {
          method,
          headers: {
            accept: 'text/event-stream',
            authorization: `Bearer ${token}`,
            'mcp-session-id': sessionId,
            'mcp-protocol-version': '2025-11-25',
          },
        });
        assert.equal(res.status, 404, `${who} ${method}`);
        await res.arrayBuffer();
      }
    }
    // No token at all: 401 before the session is even looked up.
    const anonymous = await legacyPost(k, undefined, echo, sessionId);
    assert.equal(anonymous.status, 401);
    await anonymous.arrayBuffer();

    // The session survived the attempts, DELETE included.
    const mine = await legacyPost(k, alice, echo, sessionId);
    assert.equal(mine.status, 200);
    const body = await rpc(mine);
    assert.deepEqual((body.result as { content: unknown }).content, [{ type: 'text', text: 'mine' }]);
  });

  test("2024-11-05 HTTP+SSE: another user's token cannot post into the stream's session", async () => {
    const controller = new AbortController();
    const stream = await fetch(new URL('/sse', k.mcpUrl), {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${alice}` },
      signal: controller.signal,
    });
    try {
      assert.equal(stream.status, 200);
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!/event: endpoint\r?\ndata: (\S+)/.test(text)) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the stream ended before the endpoint event');
        text += value;
      }
      const endpoint = new URL(/event: endpoint\r?\ndata: (\S+)/.exec(text)![1]!, k.mcpUrl);
      const post = (token: string) =>
        fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { ...INIT, protocolVersion: '2024-11-05' },
          }),
        });
      const stolen = await post(bob);
      assert.equal(stolen.status, 404);
      await stolen.arrayBuffer();
      const mine = await post(alice);
      assert.equal(mine.status, 202);
      await mine.arrayBuffer();
    } finally {
      controller.abort();
    }
  });
});
