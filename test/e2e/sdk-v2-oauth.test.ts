// The official v2 SDK client (@modelcontextprotocol/client) authorizing itself against Keyhole with its
// own OAuth support, as an MCP host would: the 401 starts discovery (RFC 9728 → RFC 8414), the client
// gets an identity — by dynamic registration (RFC 7591) or as a Client ID Metadata Document URL —, a
// person signs in and approves on Keyhole's pages, the host hands the callback's parameters to
// finishAuth (RFC 9207 `iss` checked by the SDK, `state` by the test), and the reconnected client
// lists and calls tools in the 2026-07-28 era and on a legacy session.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Client,
  IssuerMismatchError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import {
  addUser,
  assertNotLogged,
  authorizeInBrowser,
  PASSWORD,
  REDIRECT_URI,
  type RunningKeyhole,
  startHttpsServer,
  startKeyhole,
  type TestHttpsServer,
} from './harness.ts';
import { authorize, connected, HostProvider, INFO, MODERN } from './sdk-v2-host.ts';

interface WhoAmI {
  subject: string;
  clientId: string;
  scopes: string[];
}

async function checkTools(client: Client, expected: { subject: string; clientId: string }): Promise<void> {
  const { tools } = await client.listTools();
  assert.ok(
    tools.some((t) => t.name === 'whoami'),
    'whoami is listed: the token holds profile:read',
  );
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'through OAuth' } });
  assert.deepEqual(echo.content, [{ type: 'text', text: 'through OAuth' }]);
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  assert.equal(who.isError, undefined);
  const principal = who.structuredContent as unknown as WhoAmI;
  assert.equal(principal.subject, expected.subject);
  assert.equal(principal.clientId, expected.clientId);
  assert.deepEqual(principal.scopes, ['profile:read']);
}

describe('v2 SDK client with OAuth, dynamic registration', () => {
  let k: RunningKeyhole;
  let aliceId: string;
  before(async () => {
    k = await startKeyhole();
    aliceId = (await addUser(k, 'alice')).id;
  });
  after(() => k.stop({ remove: true }));

  test('registers, signs in through the pages, and calls tools in both eras', async () => {
    const provider = new HostProvider();
    const callback = await authorize(k, provider, 'alice');
    const clientId = provider.info?.client_id;
    assert.ok(clientId, 'the SDK registered dynamically');
    const stored = await k.storage.clients.get(clientId);
    assert.equal(stored?.source, 'dynamic');
    assert.equal(stored?.clientName, 'Keyhole E2E host (v2)');

    const modern = await connected(k, provider, MODERN);
    try {
      assert.equal(modern.getProtocolEra(), 'modern');
      await checkTools(modern, { subject: aliceId, clientId });
    } finally {
      await modern.close();
    }
    // The SDK's default: a plain 2025 initialize handshake and a session bound to alice.
    const legacy = await connected(k, provider);
    try {
      assert.equal(legacy.getProtocolEra(), 'legacy');
      await checkTools(legacy, { subject: aliceId, clientId });
    } finally {
      await legacy.close();
    }
    assertNotLogged(k, [
      PASSWORD,
      callback.searchParams.get('code') ?? undefined,
      provider.saved?.access_token,
      provider.saved?.refresh_token,
      provider.verifier,
    ]);
  });

  test('finishAuth refuses a callback whose iss is not the issuer (RFC 9207); nothing is redeemed', async () => {
    const provider = new HostProvider();
    const transport = new StreamableHTTPClientTransport(k.mcpUrl, { authProvider: provider });
    const client = new Client(INFO, MODERN);
    await assert.rejects(client.connect(transport), (e) => e instanceof UnauthorizedError);
    await client.close();
    const callback = await authorizeInBrowser(provider.authorizationUrl!, { username: 'alice' });
    const forged = new URLSearchParams(callback.searchParams);
    forged.set('iss', 'https://attacker.example');
    await assert.rejects(transport.finishAuth(forged), (e) => e instanceof IssuerMismatchError);
    assert.equal(provider.saved, undefined, 'no token was obtained');
    // The code is still unused: the genuine callback completes.
    await transport.finishAuth(callback.searchParams);
    assert.ok(provider.tokens()?.access_token);
  });
});

describe('v2 SDK client with OAuth, Client ID Metadata Document', () => {
  let k: RunningKeyhole;
  let https: TestHttpsServer;
  let aliceId: string;
  let documentUrl: string;

  before(async () => {
    https = await startHttpsServer();
    documentUrl = `${https.origin}/oauth/client.json`;
    https.documents.set('/oauth/client.json', {
      client_id: documentUrl,
      client_name: 'Keyhole E2E host (CIMD)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    // Test-only: the CIMD fetcher may reach this loopback https server and trusts its certificate.
    k = await startKeyhole({ auth: { cimd: { allowHosts: [https.host], ca: https.ca } } });
    aliceId = (await addUser(k, 'alice')).id;
  });
  after(async () => {
    await k.stop({ remove: true });
    await https.close();
  });

  test('the client id is the document URL: no registration; tools work in both eras', async () => {
    const provider = new HostProvider(documentUrl);
    await authorize(k, provider, 'alice');
    assert.equal(provider.authorizationUrl?.searchParams.get('client_id'), documentUrl);
    const modern = await connected(k, provider, MODERN);
    try {
      await checkTools(modern, { subject: aliceId, clientId: documentUrl });
    } finally {
      await modern.close();
    }
    const legacy = await connected(k, provider);
    try {
      await checkTools(legacy, { subject: aliceId, clientId: documentUrl });
    } finally {
      await legacy.close();
    }
    // Nothing was registered: the client lives in the document.
    assert.deepEqual(
      (await k.storage.clients.list()).filter((c) => c.source === 'dynamic'),
      [],
    );
  });
});
