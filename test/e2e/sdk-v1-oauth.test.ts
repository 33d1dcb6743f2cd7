// The official v1 SDK client (@modelcontextprotocol/sdk 1.x) authorizing itself against Keyhole with its
// own OAuth support: 401 → discovery → dynamic registration → PKCE authorization through Keyhole's
// login and consent pages → finishAuth(code) → a legacy session (2025-11-25) that lists and calls tools
// as the signed-in user. v1 does not check the RFC 9207 `iss`; sdk-v1-host.ts does, with `state`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { addUser, assertNotLogged, PASSWORD, type RunningKeyhole, startKeyhole } from './harness.ts';
import { authorize, HostProvider, INFO } from './sdk-v1-host.ts';

describe('v1 SDK client with OAuth, dynamic registration', () => {
  let k: RunningKeyhole;
  let bobId: string;
  before(async () => {
    k = await startKeyhole();
    bobId = (await addUser(k, 'bob')).id;
  });
  after(() => k.stop({ remove: true }));

  test('registers, signs in through the pages, finishes with the code, then calls tools', async () => {
    const provider = new HostProvider();
    const code = await authorize(k, provider, 'bob');
    const clientId = provider.info?.client_id;
    assert.ok(clientId);
    assert.equal((await k.storage.clients.get(clientId))?.source, 'dynamic');

    const client = new Client(INFO);
    await client.connect(new StreamableHTTPClientTransport(k.mcpUrl, { authProvider: provider }));
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'whoami'));
      const echo = await client.callTool({ name: 'echo', arguments: { text: 'v1 with a token' } });
      assert.deepEqual(echo.content, [{ type: 'text', text: 'v1 with a token' }]);
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      assert.deepEqual(who.structuredContent, { subject: bobId, clientId, scopes: ['profile:read'] });
    } finally {
      await client.close();
    }
    assertNotLogged(k, [PASSWORD, code, provider.saved?.access_token, provider.saved?.refresh_token]);
  });
});
