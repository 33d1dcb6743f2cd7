// The official v1 SDK client (@modelcontextprotocol/sdk 1.x) authorizing itself against Keyhole with its
// own OAuth support: 401 → discovery → dynamic registration → PKCE authorization through Keyhole's
// login and consent pages → finishAuth(code) → a legacy session (2025-11-25) that lists and calls tools
// as the signed-in user. v1 does not check the RFC 9207 `iss`, so the test does, with `state`.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import {
  addUser,
  assertNotLogged,
  authorizeInBrowser,
  PASSWORD,
  REDIRECT_URI,
  type RunningKeyhole,
  startKeyhole,
} from './harness.ts';

const INFO = { name: 'keyhole-e2e-v1', version: '1.0.0' };

class HostProvider implements OAuthClientProvider {
  readonly stateValue = randomBytes(16).toString('base64url');
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;

  get redirectUrl(): string {
    return REDIRECT_URI;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Keyhole E2E host (v1)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state(): string {
    return this.stateValue;
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
}

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
    const first = new StreamableHTTPClientTransport(k.mcpUrl, { authProvider: provider });
    const refused = new Client(INFO);
    await assert.rejects(refused.connect(first), (e) => e instanceof UnauthorizedError);
    await refused.close();

    const clientId = provider.info?.client_id;
    assert.ok(clientId, 'the SDK registered dynamically');
    assert.equal((await k.storage.clients.get(clientId))?.source, 'dynamic');
    const authorizationUrl = provider.authorizationUrl;
    assert.ok(authorizationUrl);
    assert.equal(authorizationUrl.searchParams.get('resource'), k.mcpUrl.href);
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');

    const callback = await authorizeInBrowser(authorizationUrl, { username: 'bob' });
    assert.equal(callback.searchParams.get('state'), provider.stateValue);
    assert.equal(callback.searchParams.get('iss'), k.issuer);
    const code = callback.searchParams.get('code');
    assert.ok(code);
    await first.finishAuth(code);
    assert.ok(provider.saved?.access_token);

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
    assertNotLogged(k, [PASSWORD, code, provider.saved.access_token, provider.saved.refresh_token]);
  });
});
