// Token revocation RFC 7009: refresh tokens take their grant (and its access tokens) with them, access
// tokens are revoked by jti until they expire; unknown, foreign and expired tokens are a quiet 200.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { issueAccessToken, verifyAccessToken } from '../../src/authserver/access-token.ts';
import { grantRevocationId } from '../../src/authserver/grants/revoke.ts';
import {
  asClient,
  assertOAuthError,
  exchange,
  type Harness,
  refresh,
  type SeededClient,
  startAuthServer,
} from './backchannel-fixture.ts';

describe('token revocation RFC 7009', () => {
  let h: Harness;
  let client: SeededClient;
  before(async () => {
    h = await startAuthServer();
    client = await h.client({ confidential: true });
  });
  after(() => h.close());

  async function tokens(owner = client) {
    const code = await h.code(owner, await h.user());
    const reply = await exchange(h, owner, code);
    assert.equal(reply.status, 200, reply.text);
    const verified = await verifyAccessToken(reply.json.access_token, {
      keys: h.keys,
      issuer: h.issuer,
      audience: h.resource,
      clockSkewSec: 0,
      now: h.clock,
    });
    assert.ok(verified.ok);
    return {
      access: reply.json.access_token as string,
      refresh: reply.json.refresh_token as string,
      claims: verified.claims,
    };
  }

  const introspect = async (token: string) =>
    (await asClient(h, client, '/introspect', { token })).json as { active: boolean };

  test('§2.1: a refresh token revokes its grant, its access tokens with it', async () => {
    const t = await tokens();
    h.writes.length = 0;
    const reply = await asClient(h, client, '/revoke', {
      token: t.refresh,
      token_type_hint: 'refresh_token',
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, '');
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    // The guard's entry first: a failure between the two leaves the grant live, so a retry redoes both.
    assert.deepEqual(h.writes, ['revocations.revoke', 'grants.revoke']);
    assertOAuthError(await refresh(h, client, t.refresh), 400, 'invalid_grant');
    assert.equal(await h.storage.revocations.isRevoked(grantRevocationId(t.claims.gid!), h.clock), true);
    assert.equal((await introspect(t.access)).active, false);
    assert.deepEqual(h.eventsOf('token.revoked').at(-1)?.data, {
      clientId: client.clientId,
      what: 'grant',
      id: t.claims.gid,
      reason: 'revoked by the client',
    });
  });

  test('§2.1: an access token is revoked by jti until it expires; the grant lives on', async () => {
    const t = await tokens();
    h.writes.length = 0;
    const reply = await asClient(h, client, '/revoke', { token: t.access, token_type_hint: 'access_token' });
    assert.equal(reply.status, 200);
    assert.deepEqual(h.writes, ['revocations.revoke']);
    const active = await h.storage.revocations.listActive(h.clock);
    const entry = active.find((r) => r.id === t.claims.jti);
    assert.ok(entry, 'the jti is revoked');
    assert.ok(entry.expiresAt >= t.claims.exp * 1000, 'kept at least until the token expires');
    assert.deepEqual(h.eventsOf('token.revoked').at(-1)?.data, {
      clientId: client.clientId,
      what: 'access_token',
      id: t.claims.jti,
      reason: 'revoked by the client',
    });
    assert.equal((await introspect(t.access)).active, false);
    assert.equal((await refresh(h, client, t.refresh)).status, 200);
    // Revoking it again changes nothing and says nothing.
    await h.unchanged(() => asClient(h, client, '/revoke', { token: t.access }));
  });

  test('§2.1: hints are hints — a wrong or unknown hint still finds the token', async () => {
    const a = await tokens();
    assert.equal(
      (await asClient(h, client, '/revoke', { token: a.access, token_type_hint: 'refresh_token' })).status,
      200,
    );
    assert.equal((await introspect(a.access)).active, false);
    const b = await tokens();
    const reply = await asClient(h, client, '/revoke', { token: b.refresh, token_type_hint: 'id_token' });
    assert.equal(reply.status, 200);
    assertOAuthError(await refresh(h, client, b.refresh), 400, 'invalid_grant');
  });

  test('§2.2: an unknown token is 200 and changes nothing', async () => {
    for (const token of ['unknown-token', 'a.b.c', 'x'.repeat(300)]) {
      const reply = await h.unchanged(() => asClient(h, client, '/revoke', { token }));
      assert.equal(reply.status, 200);
    }
  });

  test('§2.1: another client’s tokens are not revoked, and the answer is still 200', async () => {
    const other = await h.client({ confidential: true });
    const t = await tokens(other);
    for (const token of [t.refresh, t.access]) {
      const reply = await h.unchanged(() => asClient(h, client, '/revoke', { token }));
      assert.equal(reply.status, 200);
    }
    assert.equal((await refresh(h, other, t.refresh)).status, 200);
  });

  test('an expired access token is 200 with nothing to do', async () => {
    const { token } = await issueAccessToken({
      keys: h.keys,
      issuer: h.issuer,
      subject: 'u',
      clientId: client.clientId,
      scopes: [],
      resource: h.resource,
      grantId: 'g',
      ttlSec: 60,
      now: h.clock - 120_000,
    });
    assert.equal((await h.unchanged(() => asClient(h, client, '/revoke', { token }))).status, 200);
  });

  test('a JWT not signed by this server is not revoked', async () => {
    const forged = await new SignJWT({ client_id: client.clientId, gid: 'g' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: h.keys.signingKey().kid })
      .setIssuer(h.issuer)
      .setSubject('u')
      .setAudience(h.resource)
      .setJti('forged-jti')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('x'.repeat(32)));
    assert.equal((await h.unchanged(() => asClient(h, client, '/revoke', { token: forged }))).status, 200);
  });

  test('public clients revoke their own tokens with client_id (RFC 6749 §2.1)', async () => {
    const pub = await h.client();
    const t = await tokens(pub);
    assert.equal((await asClient(h, pub, '/revoke', { token: t.refresh })).status, 200);
    assertOAuthError(await refresh(h, pub, t.refresh), 400, 'invalid_grant');
  });

  test('§2.1: token is required (invalid_request)', async () => {
    assertOAuthError(await h.unchanged(() => asClient(h, client, '/revoke', {})), 400, 'invalid_request');
  });

  test('§2.1: the client must authenticate (401 invalid_client)', async () => {
    const t = await tokens();
    assertOAuthError(await h.unchanged(() => h.post('/revoke', { token: t.refresh })), 401, 'invalid_client');
    const wrong = await h.unchanged(() =>
      h.post('/revoke', { token: t.refresh, client_id: client.clientId, client_secret: 'wrong' }),
    );
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.equal((await refresh(h, client, t.refresh)).status, 200);
  });

  test('§2.1: POST with a form body only', async () => {
    const reply = await h.unchanged(() =>
      h.request('/revoke', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    );
    assertOAuthError(reply, 400, 'invalid_request');
    assert.equal((await h.request('/revoke')).status, 405);
  });
});
