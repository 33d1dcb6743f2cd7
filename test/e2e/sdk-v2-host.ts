// The host side of the official v2 SDK client (@modelcontextprotocol/client) in end-to-end tests: an
// OAuth client provider keeping one server's OAuth state in memory, as an MCP host does, and the first
// connection's dance — 401 → the SDK's discovery and registration → a person signs in and approves on
// Keyhole's pages → finishAuth. Works against one Keyhole or replicas behind a balancer (Endpoints).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  Client,
  type ClientOptions,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
  StreamableHTTPClientTransport,
  type StreamableHTTPClientTransportOptions,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { authorizeInBrowser, type Endpoints, REDIRECT_URI } from './harness.ts';

export const INFO = { name: 'keyhole-e2e-v2', version: '1.0.0' };
export const MODERN: ClientOptions = { versionNegotiation: { mode: { pin: '2026-07-28' } } };

/** An MCP host's OAuth state for one server, kept in memory. */
export class HostProvider implements OAuthClientProvider {
  readonly clientMetadataUrl?: string;
  readonly stateValue = randomBytes(16).toString('base64url');
  info: StoredOAuthClientInformation | undefined;
  saved: StoredOAuthTokens | undefined;
  verifier = '';
  discovery: OAuthDiscoveryState | undefined;
  authorizationUrl: URL | undefined;
  /** What the SDK asked the host to forget, in order (it does after invalid_grant / invalid_client). */
  readonly invalidated: string[] = [];

  constructor(clientMetadataUrl?: string) {
    if (clientMetadataUrl !== undefined) this.clientMetadataUrl = clientMetadataUrl;
  }
  get redirectUrl(): string {
    return REDIRECT_URI;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Keyhole E2E host (v2)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state(): string {
    return this.stateValue;
  }
  clientInformation(): StoredOAuthClientInformation | undefined {
    return this.info;
  }
  saveClientInformation(info: StoredOAuthClientInformation): void {
    this.info = info;
  }
  tokens(): StoredOAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens): void {
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
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }
  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'client') this.info = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = '';
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }
}

/** Connect → 401 → redirect to Keyhole's pages → sign in and approve → finishAuth. Returns the callback URL. */
export async function authorize(k: Endpoints, provider: HostProvider, username: string): Promise<URL> {
  const transport = new StreamableHTTPClientTransport(k.mcpUrl, { authProvider: provider });
  const client = new Client(INFO, MODERN);
  await assert.rejects(client.connect(transport), (e) => e instanceof UnauthorizedError);
  await client.close();
  const authorizationUrl = provider.authorizationUrl;
  assert.ok(authorizationUrl, 'the SDK sent the person to the authorization endpoint');
  assert.equal(authorizationUrl.origin + authorizationUrl.pathname, `${k.issuer}/authorize`);
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authorizationUrl.searchParams.get('resource'), k.mcpUrl.href);
  // The scope comes from the 401 challenge: what the app's tools declare.
  assert.equal(authorizationUrl.searchParams.get('scope'), 'profile:read');

  const callback = await authorizeInBrowser(authorizationUrl, { username });
  assert.equal(callback.origin + callback.pathname, REDIRECT_URI);
  // RFC 6749 §10.12: the host checks state; the SDK checks iss (RFC 9207) in finishAuth.
  assert.equal(callback.searchParams.get('state'), provider.stateValue);
  assert.equal(callback.searchParams.get('iss'), k.issuer);
  await transport.finishAuth(callback.searchParams);
  assert.ok(provider.saved?.access_token, 'tokens were saved');
  assert.ok(provider.saved.refresh_token, 'a refresh token was issued');
  return callback;
}

/** A client connected with the host's tokens (the SDK refreshes them on a 401 by itself). */
export async function connected(
  k: Endpoints,
  provider: HostProvider,
  options?: ClientOptions,
  transport?: Omit<StreamableHTTPClientTransportOptions, 'authProvider'>,
): Promise<Client> {
  const client = new Client(INFO, options);
  await client.connect(new StreamableHTTPClientTransport(k.mcpUrl, { ...transport, authProvider: provider }));
  return client;
}
