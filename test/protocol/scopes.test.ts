// Per-tool scopes (MCP 2026-07-28 basic/authorization "Scope Challenge Handling"): a caller whose token
// lacks a scope gets HTTP 403 with a challenge naming every scope the tool needs, in both eras.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Principal } from '../../src/protocol/contract.ts';
import { Engine } from '../../src/protocol/engine.ts';
import { scopeSatisfies } from '../../src/protocol/scopes.ts';
import { McpServer } from '../../src/server/server.ts';
import { createHttpApp, type HttpApp } from '../../src/transport/http/app.ts';

describe('scope hierarchy', () => {
  test('a broader scope grants narrower ones, by ":" segments only', () => {
    assert.ok(scopeSatisfies(['notes'], 'notes'));
    assert.ok(scopeSatisfies(['notes'], 'notes:read'));
    assert.ok(scopeSatisfies(['notes:read'], 'notes:read:own'));
    assert.ok(!scopeSatisfies(['notes:read'], 'notes'));
    assert.ok(!scopeSatisfies(['note'], 'notes:read'), 'a prefix that is not a segment grants nothing');
    assert.ok(!scopeSatisfies([], 'notes'));
  });
});

describe('tools/call with missing scopes over HTTP', () => {
  let app: HttpApp;
  let scopes: string[] = [];
  const ran: string[] = [];

  before(async () => {
    const server = new McpServer({ name: 's', version: '1' });
    server.tool({
      name: 'write',
      scopes: ['notes:write', 'profile'],
      handler: () => {
        ran.push('write');
        return 'written';
      },
    });
    app = createHttpApp(new Engine(server), {
      port: 0,
      guard: async () => ({ principal: { subject: 'u1', clientId: 'c1', scopes } satisfies Principal }),
      challenge: (needed) => `Bearer error="insufficient_scope", scope="${needed.join(' ')}"`,
    });
    await app.listen();
  });
  after(() => app.close());

  const modern = (body: object) =>
    fetch(app.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'write',
      },
      body: JSON.stringify(body),
    });
  const call = {
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: {
      name: 'write',
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  };

  test('modern: 403, every needed scope in the challenge, handler not run', async () => {
    scopes = ['notes:read'];
    const res = await modern(call);
    assert.equal(res.status, 403);
    assert.equal(
      res.headers.get('www-authenticate'),
      'Bearer error="insufficient_scope", scope="notes:write profile"',
    );
    const body = (await res.json()) as { error: { code: number; data: { requiredScopes: string[] } } };
    assert.equal(body.error.code, -32011);
    assert.deepEqual(body.error.data.requiredScopes, ['notes:write', 'profile']);
    assert.deepEqual(ran, []);
  });

  test('modern: a broader scope satisfies the tool', async () => {
    scopes = ['notes', 'profile'];
    const res = await modern(call);
    assert.equal(res.status, 200);
    assert.deepEqual(ran, ['write']);
  });

  test('legacy session: 403 with the challenge as well', async () => {
    scopes = ['profile'];
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(app.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    assert.equal(init.status, 200);
    const session = init.headers.get('mcp-session-id')!;
    await init.text();
    const res = await fetch(app.url, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write' } }),
    });
    assert.equal(res.status, 403);
    assert.match(res.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    assert.deepEqual(ran, ['write'], 'the handler did not run again');
  });
});
