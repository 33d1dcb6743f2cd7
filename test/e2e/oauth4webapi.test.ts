// oauth4webapi (an independent, strict OAuth 2.x / OpenID client library) against Keyhole: discovery
// from the 401 (WWW-Authenticate resource_metadata → RFC 9728 → RFC 8414, issuer checked), dynamic
// registration, PKCE S256, the authorization through the login and consent pages, the code exchange
// (RFC 9207 iss validated), the RFC 9068 access token validated as a resource server would, a tool
// call with it; then the attacks and lifecycle: code replay (RFC 6749 §4.1.2 — the tokens it issued
// are revoked), refresh rotation and reuse of a rotated refresh token (RFC 9700 §4.14.2 — the whole
// grant is revoked), revocation (RFC 7009) and introspection (RFC 7662).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { Browser } from '../authserver/browser.ts';
import {
  addUser,
  assertNotLogged,
  authorizeInBrowser,
  callTool,
  challengeError,
  PASSWORD,
  REDIRECT_URI,
  type RunningKeyhole,
  startKeyhole,
} from './harness.ts';

// Keyhole runs on http://127.0.0.1 in tests; oauth4webapi insists on https unless told otherwise.
const HTTP = { [oauth.allowInsecureRequests]: true } as const;

describe('oauth4webapi against Keyhole', () => {
  let k: RunningKeyhole;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let resourceServer: { client: oauth.Client; auth: oauth.ClientAuth };
  /** Keeps alice's sign-in session across authorizations, as her browser would. */
  const browser = new Browser();
  const secrets: string[] = [PASSWORD];

  before(async () => {
    k = await startKeyhole();
    await addUser(k, 'alice');
  });
  after(async () => {
    assertNotLogged(k, secrets);
    await k.stop({ remove: true });
  });

  /** An authorization as alice through the pages, then the code exchange; returns the tokens and the callback. */
  async function authorizeAndExchange(): Promise<{
    tokens: oauth.TokenEndpointResponse;
    callback: URLSearchParams;
    verifier: string;
  }> {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: REDIRECT_URI,
      scope: 'profile:read',
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      resource: k.mcpUrl.href,
    }).toString();
    const back = await authorizeInBrowser(url, { username: 'alice' }, browser);
    // Checks state, iss (the metadata advertises authorization_response_iss_parameter_supported) and errors.
    const callback = oauth.validateAuthResponse(as, client, back, state);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      callback,
      REDIRECT_URI,
      verifier,
      {
        ...HTTP,
        additionalParameters: { resource: k.mcpUrl.href },
      },
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    secrets.push(tokens.access_token, tokens.refresh_token ?? '', callback.get('code') ?? '', verifier);
    return { tokens, callback, verifier };
  }

  function refresh(refreshToken: string): Promise<oauth.TokenEndpointResponse> {
    return oauth
      .refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, HTTP)
      .then((response) => oauth.processRefreshTokenResponse(as, client, response));
  }

  async function introspect(token: string): Promise<oauth.IntrospectionResponse> {
    const response = await oauth.introspectionRequest(
      as,
      resourceServer.client,
      resourceServer.auth,
      token,
      HTTP,
    );
    return oauth.processIntrospectionResponse(as, resourceServer.client, response);
  }

  /** The OAuth error a rejected token-endpoint call carried. */
  async function rejected(promise: Promise<unknown>): Promise<{ status: number; error: string }> {
    try {
      await promise;
    } catch (err) {
      assert.ok(
        err instanceof oauth.ResponseBodyError,
        `expected an OAuth error response, got ${String(err)}`,
      );
      return { status: err.status, error: err.error };
    }
    assert.fail('the request succeeded');
  }

  async function toolStatus(token: string): Promise<{ status: number; error: string | undefined }> {
    const res = await callTool(k, token, 'echo', { text: 'hi' });
    await res.arrayBuffer();
    return { status: res.status, error: challengeError(res) };
  }

  test('discovery from the 401: resource metadata, then the authorization server metadata', async () => {
    // Without a token: a bare challenge naming the protected-resource metadata (RFC 9728 §5.1).
    const bare = await callTool(k, undefined, 'echo', { text: 'x' });
    await bare.arrayBuffer();
    assert.equal(bare.status, 401);
    // oauth4webapi parses the challenge of a refused request.
    const challenges = await oauth
      .protectedResourceRequest(
        'not-a-token',
        'POST',
        k.mcpUrl,
        new Headers({ 'content-type': 'application/json' }),
        '{}',
        HTTP,
      )
      .then(
        () => assert.fail('a bogus token was accepted'),
        (err: unknown) => {
          assert.ok(err instanceof oauth.WWWAuthenticateChallengeError);
          assert.equal(err.status, 401);
          return err.cause;
        },
      );
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    assert.equal(bearer?.parameters.error, 'invalid_token');
    const metadataUrl = bearer?.parameters.resource_metadata;
    assert.ok(metadataUrl);

    // RFC 9728 §3.1: the well-known URL built from the resource identifier is the one the challenge named.
    const prmResponse = await oauth.resourceDiscoveryRequest(k.mcpUrl, HTTP);
    assert.equal(prmResponse.url, metadataUrl);
    const prm = await oauth.processResourceDiscoveryResponse(k.mcpUrl, prmResponse);
    assert.deepEqual(prm.authorization_servers, [k.issuer]);
    assert.deepEqual(prm.bearer_methods_supported, ['header']);

    const issuer = new URL(prm.authorization_servers![0]!);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...HTTP, algorithm: 'oauth2' }),
    );
    assert.equal(as.issuer, k.issuer);
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
    assert.equal(as.authorization_response_iss_parameter_supported, true);
    assert.ok(as.registration_endpoint && as.revocation_endpoint && as.introspection_endpoint && as.jwks_uri);
  });

  test('dynamic registration of the public client and of a confidential resource server', async () => {
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: 'oauth4webapi e2e',
          redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
        HTTP,
      ),
    );
    assert.equal(typeof registered.client_id, 'string');
    assert.equal(registered.client_secret, undefined, 'a public client gets no secret');
    client = { client_id: registered.client_id, token_endpoint_auth_method: 'none' };

    const rs = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: 'resource server (introspection)',
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        HTTP,
      ),
    );
    assert.equal(typeof rs.client_secret, 'string');
    secrets.push(rs.client_secret as string);
    resourceServer = {
      client: { client_id: rs.client_id, token_endpoint_auth_method: 'client_secret_basic' },
      auth: oauth.ClientSecretBasic(rs.client_secret as string),
    };
  });

  test('authorization code + PKCE through the pages; an RFC 9068 token that calls a tool', async () => {
    const { tokens } = await authorizeAndExchange();
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'profile:read');
    assert.equal(typeof tokens.refresh_token, 'string');

    // Validated as a resource server would (RFC 9068 §4): JWKS signature, typ at+jwt, iss, aud, exp.
    const claims = await oauth.validateJwtAccessToken(
      as,
      new Request(k.mcpUrl, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
      k.mcpUrl.href,
      HTTP,
    );
    assert.equal(claims.iss, k.issuer);
    assert.equal(claims.aud, k.mcpUrl.href);
    assert.equal(claims.client_id, client.client_id);
    assert.equal(claims.sub, (await k.storage.users.getByUsername('alice'))?.id);

    const res = await callTool(k, tokens.access_token, 'echo', { text: 'oauth4webapi' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: { content: unknown[] } };
    assert.deepEqual(body.result.content, [{ type: 'text', text: 'oauth4webapi' }]);
  });

  test('code replay: invalid_grant, and the tokens the code issued are revoked', async () => {
    const { tokens, callback, verifier } = await authorizeAndExchange();
    assert.deepEqual(await toolStatus(tokens.access_token), { status: 200, error: undefined });
    assert.equal((await introspect(tokens.access_token)).active, true);

    const replay = oauth
      .authorizationCodeGrantRequest(as, client, oauth.None(), callback, REDIRECT_URI, verifier, {
        ...HTTP,
        additionalParameters: { resource: k.mcpUrl.href },
      })
      .then((response) => oauth.processAuthorizationCodeResponse(as, client, response));
    assert.deepEqual(await rejected(replay), { status: 400, error: 'invalid_grant' });

    assert.deepEqual(await toolStatus(tokens.access_token), { status: 401, error: 'invalid_token' });
    assert.equal((await introspect(tokens.access_token)).active, false);
    assert.deepEqual(await rejected(refresh(tokens.refresh_token!)), { status: 400, error: 'invalid_grant' });
  });

  test('refresh rotation; reusing the rotated refresh token revokes the whole grant', async () => {
    const { tokens: first } = await authorizeAndExchange();
    const second = await refresh(first.refresh_token!);
    secrets.push(second.access_token, second.refresh_token ?? '');
    assert.ok(second.refresh_token, 'a new refresh token');
    assert.notEqual(second.refresh_token, first.refresh_token, 'rotated');
    assert.notEqual(second.access_token, first.access_token);
    assert.equal(second.scope, 'profile:read');
    assert.deepEqual(await toolStatus(second.access_token), { status: 200, error: undefined });

    // RFC 9700 §4.14.2: the old token again is a theft signal.
    assert.deepEqual(await rejected(refresh(first.refresh_token!)), { status: 400, error: 'invalid_grant' });
    // The whole family is gone: the current refresh token and every access token of the grant.
    assert.deepEqual(await rejected(refresh(second.refresh_token)), { status: 400, error: 'invalid_grant' });
    assert.deepEqual(await toolStatus(second.access_token), { status: 401, error: 'invalid_token' });
    assert.deepEqual(await toolStatus(first.access_token), { status: 401, error: 'invalid_token' });
    assert.equal((await introspect(second.access_token)).active, false);
  });

  test('revocation (RFC 7009) of the access token, then of the refresh token', async () => {
    const { tokens } = await authorizeAndExchange();
    assert.deepEqual(await toolStatus(tokens.access_token), { status: 200, error: undefined });
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), tokens.access_token, HTTP),
    );
    assert.deepEqual(await toolStatus(tokens.access_token), { status: 401, error: 'invalid_token' });
    assert.equal((await introspect(tokens.access_token)).active, false);

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), tokens.refresh_token!, {
        ...HTTP,
        additionalParameters: { token_type_hint: 'refresh_token' },
      }),
    );
    assert.deepEqual(await rejected(refresh(tokens.refresh_token!)), { status: 400, error: 'invalid_grant' });
    // RFC 7009 §2.2: revoking an unknown token is not an error.
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), 'no-such-token', HTTP),
    );
  });

  test('introspection (RFC 7662): active with the claims; inactive for junk; public clients refused', async () => {
    const { tokens } = await authorizeAndExchange();
    const active = await introspect(tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, client.client_id);
    assert.equal(active.scope, 'profile:read');
    assert.equal(active.aud, k.mcpUrl.href);
    assert.equal(active.iss, k.issuer);
    assert.equal((await introspect('not-a-token')).active, false);

    // RFC 7662 §2.1: the endpoint requires client authentication; a public client has none.
    const response = await oauth.introspectionRequest(as, client, oauth.None(), tokens.access_token, HTTP);
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
  });
});
