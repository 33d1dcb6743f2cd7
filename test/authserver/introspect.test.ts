// Token introspection RFC 7662: authenticated callers only; `active: true` with the token's claims for
// valid access and refresh tokens, `{"active": false}` and nothing else for everything else.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueAccessToken } from '../../src/authserver/access-token.ts';
import {
  asClient,
  assertOAuthError,
  basic,
  exchange,
  type Harness,
  refresh,
  type SeededClient,
  startAuthServer,
} from './backchannel-fixture.ts';

describe('token introspection RFC 7662', () => {
  let h: Harness;
  let rs: SeededClient;
  let app: SeededClient;
  before(async () => {
    h = await startAuthServer();
    // A resource server with credentials, and the client the user authorized.
    rs = await h.client({ confidential: true, grantTypes: ['client_credentials'], redirectUris: [] });
    app = await h.client({ tokenEndpointAuthMethod: 'client_secret_post', confidential: true });
  });
  after(() => h.close());

  async function tokens() {
    const user = await h.user();
    const reply = await exchange(h, app, await h.code(app, user, { scopes: ['files:read'] }));
    assert.equal(reply.status, 200, reply.text);
    return { user, access: reply.json.access_token as string, refresh: reply.json.refresh_token as string };
  }

  const inspect = (token: string, by = rs, extra = {}) => asClient(h, by, '/introspect', { token, ...extra });

  test('§2.2: an active access token with its claims', async () => {
    const t = await tokens();
    const reply = await h.unchanged(() => inspect(t.access));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    const body = reply.json;
    assert.deepEqual(Object.keys(body).sort(), [
      'active',
      'aud',
      'client_id',
      'exp',
      'iat',
      'iss',
      'jti',
      'scope',
      'sub',
      'token_type',
    ]);
    assert.equal(body.active, true);
    assert.equal(body.scope, 'files:read');
    assert.equal(body.client_id, app.clientId);
    assert.equal(body.sub, t.user.id);
    assert.equal(body.aud, h.resource);
    assert.equal(body.iss, h.issuer);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.exp - body.iat, 3600);
    assert.equal(typeof body.jti, 'string');
  });

  test('§2.2: an active refresh token, to the client that holds it', async () => {
    const t = await tokens();
    const reply = await inspect(t.refresh, app, { token_type_hint: 'refresh_token' });
    assert.deepEqual(reply.json, {
      active: true,
      scope: 'files:read',
      client_id: app.clientId,
      sub: t.user.id,
      aud: h.resource,
      iss: h.issuer,
      exp: Math.floor((h.clock + h.ctx.config.refreshTokenTtlSec * 1000) / 1000),
      iat: Math.floor(h.clock / 1000),
      token_type: 'refresh_token',
    });
    // Another caller learns nothing about it.
    assert.deepEqual((await inspect(t.refresh, rs)).json, { active: false });
  });

  test('a rotated refresh token is inactive', async () => {
    const t = await tokens();
    assert.equal((await refresh(h, app, t.refresh)).status, 200);
    assert.deepEqual((await inspect(t.refresh, app)).json, { active: false });
  });

  test('an expired access token is inactive', async () => {
    const t = await tokens();
    h.advance(3601);
    assert.deepEqual((await h.unchanged(() => inspect(t.access))).json, { active: false });
  });

  test('a revoked access token, and one of a revoked grant, are inactive', async () => {
    const a = await tokens();
    assert.equal((await asClient(h, app, '/revoke', { token: a.access })).status, 200);
    assert.deepEqual((await inspect(a.access)).json, { active: false });
    const b = await tokens();
    assert.equal((await asClient(h, app, '/revoke', { token: b.refresh })).status, 200);
    assert.deepEqual((await inspect(b.access)).json, { active: false });
    assert.deepEqual((await inspect(b.refresh, app)).json, { active: false });
  });

  test('RFC 7662 §4: a token for another audience is inactive', async () => {
    const { token } = await issueAccessToken({
      keys: h.keys,
      issuer: h.issuer,
      subject: 'u',
      clientId: app.clientId,
      scopes: ['files:read'],
      resource: 'https://other.example/mcp',
      grantId: 'g',
      ttlSec: 600,
      now: h.clock,
    });
    assert.deepEqual((await inspect(token)).json, { active: false });
  });

  test('a token of another issuer is inactive', async () => {
    const { token } = await issueAccessToken({
      keys: h.keys,
      issuer: 'https://evil.example',
      subject: 'u',
      clientId: app.clientId,
      scopes: [],
      resource: h.resource,
      grantId: 'g',
      ttlSec: 600,
      now: h.clock,
    });
    assert.deepEqual((await inspect(token)).json, { active: false });
  });

  test('garbage is inactive', async () => {
    for (const token of ['nope', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const reply = await h.unchanged(() => inspect(token));
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.json, { active: false });
    }
  });

  test('§2.1: token is required (invalid_request)', async () => {
    assertOAuthError(await h.unchanged(() => asClient(h, rs, '/introspect', {})), 400, 'invalid_request');
  });

  test('§2.1/§2.3: the caller must authenticate; public clients cannot (401 invalid_client)', async () => {
    const t = await tokens();
    assertOAuthError(
      await h.unchanged(() => h.post('/introspect', { token: t.access })),
      401,
      'invalid_client',
    );
    const pub = await h.client();
    assertOAuthError(await h.unchanged(() => inspect(t.access, pub)), 401, 'invalid_client');
    const wrong = await h.unchanged(() =>
      h.post('/introspect', { token: t.access }, basic(rs.clientId, 'wrong')),
    );
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
  });
});
