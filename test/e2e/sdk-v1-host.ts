// The host side of the official v1 SDK client (@modelcontextprotocol/sdk 1.x) in end-to-end tests: an
// OAuth client provider keeping one server's OAuth state in memory, and the first connection's dance —
// 401 → discovery → dynamic registration → PKCE authorization through Keyhole's login and consent
// pages → finishAuth(code). v1 does not check the RFC 9207 `iss`, so the helper does, with `state`.
// Works against one Keyhole or replicas behind a balancer (Endpoints).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { authorizeInBrowser, type Endpoints, REDIRECT_URI } from './harness.ts';

export const INFO = { name: 'keyhole-e2e-v1', version: '1.0.0' };

export class HostProvider implements OAuthClientProvider {
  readonly stateValue = randomBytes(16).toString('base64url');
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  /** What the SDK asked the host to forget, in order (it does after invalid_grant / invalid_client). */
  readonly invalidated: string[] = [];

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
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.info = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = '';
  }
}

/**
 * Connect → 401 → the SDK registers and redirects → sign in and approve → finishAuth(code). Returns
 * the authorization code (so a test can show it never reached a log).
 */
export async function authorize(k: Endpoints, provider: HostProvider, username: string): Promise<string> {
  const first = new StreamableHTTPClientTransport(k.mcpUrl, { authProvider: provider });
  const refused = new Client(INFO);
  await assert.rejects(refused.connect(first), (e) => e instanceof UnauthorizedError);
  await refused.close();

  assert.ok(provider.info?.client_id, 'the SDK registered dynamically');
  const authorizationUrl = provider.authorizationUrl;
  assert.ok(authorizationUrl);
  assert.equal(authorizationUrl.searchParams.get('resource'), k.mcpUrl.href);
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');

  const callback = await authorizeInBrowser(authorizationUrl, { username });
  assert.equal(callback.searchParams.get('state'), provider.stateValue);
  assert.equal(callback.searchParams.get('iss'), k.issuer);
  const code = callback.searchParams.get('code');
  assert.ok(code);
  await first.finishAuth(code);
  assert.ok(provider.saved?.access_token);
  return code;
}
