// The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6; OAuth 2.1; RFC 7636; RFC 8707; RFC 9700
// §4.14): every grant's positive path and each refusal, with its status, error code, and no storage
// change.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueAccessToken, verifyAccessToken } from '../../src/authserver/access-token.ts';
import { grantRevocationId } from '../../src/authserver/grants/revoke.ts';
import { s256Challenge } from '../../src/authserver/pkce.ts';
import { hashSecret } from '../../src/authserver/secrets.ts';
import {
  asClient,
  assertOAuthError,
  exchange,
  type Harness,
  REDIRECT,
  refresh,
  type SeededClient,
  startAuthServer,
} from './backchannel-fixture.ts';

async function verify(h: Harness, token: string) {
  const result = await verifyAccessToken(token, {
    keys: h.keys,
    issuer: h.issuer,
    audience: h.resource,
    clockSkewSec: 0,
    now: h.clock,
  });
  assert.ok(result.ok, `access token must verify: ${result.ok ? '' : result.reason}`);
  return result.claims;
}

describe('token endpoint RFC 6749 §3.2', () => {
  let h: Harness;
  let client: SeededClient;
  before(async () => {
    h = await startAuthServer();
    client = await h.client();
  });
  after(() => h.close());

  test('§3.2: form-encoded POST only; a JSON body is invalid_request', async () => {
    const reply = await h.unchanged(() =>
      h.request('/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId }),
      }),
    );
    assertOAuthError(reply, 400, 'invalid_request');
  });

  test('§5.2: missing grant_type is invalid_request', async () => {
    assertOAuthError(
      await h.unchanged(() => h.post('/token', { client_id: client.clientId })),
      400,
      'invalid_request',
    );
  });

  test('§5.2: an unknown grant_type is unsupported_grant_type', async () => {
    for (const grantType of ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code']) {
      const reply = await h.unchanged(() =>
        h.post('/token', { grant_type: grantType, client_id: client.clientId }),
      );
      assertOAuthError(reply, 400, 'unsupported_grant_type');
    }
  });

  test('§3.1: a repeated parameter is invalid_request', async () => {
    const user = await h.user();
    const code = await h.code(client, user);
    const reply = await h.unchanged(() => exchange(h, client, code, { code: [code.code, code.code] }));
    assertOAuthError(reply, 400, 'invalid_request');
    // Nothing was consumed: the code still works.
    assert.equal((await exchange(h, client, code)).status, 200);
  });

  test('§5.2: a grant type the client is not registered for is unauthorized_client', async () => {
    const noRefresh = await h.client({ grantTypes: ['authorization_code'] });
    const reply = await h.unchanged(() => refresh(h, noRefresh, 'whatever'));
    assertOAuthError(reply, 400, 'unauthorized_client');
  });

  test('§3.1.2 body limit: an oversized body is 413', async () => {
    const reply = await h.unchanged(() =>
      h.post('/token', {
        grant_type: 'authorization_code',
        code: 'x'.repeat(70_000),
        client_id: client.clientId,
      }),
    );
    assertOAuthError(reply, 413, 'invalid_request');
  });
});

describe('authorization_code grant RFC 6749 §4.1.3', () => {
  let h: Harness;
  let client: SeededClient;
  before(async () => {
    h = await startAuthServer();
    client = await h.client();
  });
  after(() => h.close());

  test('§5.1: access token, refresh token, Bearer, expires_in, scope; no-store', async () => {
    const user = await h.user();
    const code = await h.code(client, user, { scopes: ['files:read'] });
    h.writes.length = 0;
    const reply = await exchange(h, client, code);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(reply.headers.get('pragma'), 'no-cache');
    assert.deepEqual(Object.keys(reply.json).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.equal(reply.json.token_type, 'Bearer');
    assert.equal(reply.json.expires_in, 3600);
    assert.equal(reply.json.scope, 'files:read');
    assert.match(reply.json.refresh_token, /^[A-Za-z0-9_-]{43}$/);

    const claims = await verify(h, reply.json.access_token);
    assert.equal(claims.sub, user.id);
    assert.equal(claims.client_id, client.clientId);
    assert.equal(claims.aud, h.resource);
    assert.equal(claims.iss, h.issuer);
    assert.equal(claims.scope, 'files:read');
    assert.equal(claims.exp - claims.iat, 3600);

    // The grant is stored, the refresh token only as its hash.
    assert.ok(claims.gid);
    const grant = await h.storage.grants.get(claims.gid);
    assert.equal(grant?.subject, user.id);
    assert.deepEqual(grant?.scopes, ['files:read']);
    assert.equal(grant?.resource, h.resource);
    const found = await h.storage.grants.findRefresh(hashSecret(reply.json.refresh_token));
    assert.equal(found?.grant.id, claims.gid);
    assert.deepEqual(h.writes, ['codes.consume', 'codes.markRedeemed', 'grants.create']);

    const [issued] = h.eventsOf('token.issued').slice(-1);
    assert.deepEqual(issued?.data, {
      grantType: 'authorization_code',
      clientId: client.clientId,
      subject: user.id,
      grantId: claims.gid,
      jti: claims.jti,
      scopes: ['files:read'],
      resource: h.resource,
    });
    // No event carries a secret.
    assert.doesNotMatch(JSON.stringify(h.events), new RegExp(`${code.code}|${reply.json.refresh_token}`));
  });

  test('no refresh token for a client not registered for the refresh_token grant', async () => {
    const plain = await h.client({ grantTypes: ['authorization_code'] });
    const code = await h.code(plain, await h.user());
    const reply = await exchange(h, plain, code);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.refresh_token, undefined);
  });

  test('missing code is invalid_request', async () => {
    const reply = await h.unchanged(() =>
      asClient(h, client, '/token', {
        grant_type: 'authorization_code',
        code_verifier: 'v'.repeat(43),
        redirect_uri: REDIRECT,
      }),
    );
    assertOAuthError(reply, 400, 'invalid_request');
  });

  test('unknown code is invalid_grant', async () => {
    const reply = await h.unchanged(() =>
      exchange(h, client, { code: 'not-a-code', verifier: 'v'.repeat(43), codeHash: '' }),
    );
    assertOAuthError(reply, 400, 'invalid_grant');
  });

  test('§4.1.2: an expired code is invalid_grant', async () => {
    const code = await h.code(client, await h.user(), { ttlSec: 60 });
    h.advance(61);
    assertOAuthError(await h.unchanged(() => exchange(h, client, code)), 400, 'invalid_grant');
  });

  test('§4.1.3: a code issued to another client is invalid_grant, and issues nothing', async () => {
    const other = await h.client();
    const code = await h.code(other, await h.user());
    h.writes.length = 0;
    const reply = await exchange(h, client, code);
    assertOAuthError(reply, 400, 'invalid_grant');
    // The attempt spends the code (single use) but creates no grant and no token.
    assert.deepEqual(h.writes, ['codes.consume']);
  });

  test('§4.1.3: redirect_uri must be identical to the authorization request', async () => {
    const code = await h.code(client, await h.user());
    h.writes.length = 0;
    const reply = await exchange(h, client, code, { redirect_uri: 'http://127.0.0.1:7777/callback/' });
    assertOAuthError(reply, 400, 'invalid_grant');
    assert.deepEqual(h.writes, ['codes.consume']);
  });

  test('§4.1.3: redirect_uri may be omitted only when the client has a single one', async () => {
    const code = await h.code(client, await h.user());
    const omitted = await exchange(h, client, code, { redirect_uri: undefined });
    assert.equal(omitted.status, 200, omitted.text);

    const two = await h.client({ redirectUris: [REDIRECT, 'http://127.0.0.1:7777/other'] });
    const code2 = await h.code(two, await h.user());
    const reply = await h.unchanged(() => exchange(h, two, code2, { redirect_uri: undefined }));
    assertOAuthError(reply, 400, 'invalid_request');
    assert.equal((await exchange(h, two, code2)).status, 200);
  });

  test('RFC 8707 §2.2: a resource other than the code’s is invalid_target, before the code is spent', async () => {
    const code = await h.code(client, await h.user());
    for (const resource of [
      'https://elsewhere.example/mcp',
      `${h.resource}/`,
      'not a uri',
      `${h.resource}#frag`,
    ]) {
      const reply = await h.unchanged(() => exchange(h, client, code, { resource }));
      assertOAuthError(reply, 400, 'invalid_target');
    }
    const mixed = await h.unchanged(() =>
      exchange(h, client, code, { resource: [h.resource, 'https://x.example'] }),
    );
    assertOAuthError(mixed, 400, 'invalid_target');
    // The same resource (even repeated, RFC 8707 §2) is accepted.
    const ok = await exchange(h, client, code, { resource: [h.resource, h.resource] });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await verify(h, ok.json.access_token)).aud, h.resource);
  });

  test('§4.1.2: a replayed code is refused and revokes the grant it produced', async () => {
    const user = await h.user();
    const code = await h.code(client, user);
    const first = await exchange(h, client, code);
    assert.equal(first.status, 200);
    const { gid } = await verify(h, first.json.access_token);
    assert.ok(gid);

    const replay = await exchange(h, client, code);
    assertOAuthError(replay, 400, 'invalid_grant');
    const grant = await h.storage.grants.get(gid);
    assert.ok(grant?.revokedAt, 'the grant is revoked');
    assert.equal(await h.storage.revocations.isRevoked(grantRevocationId(gid), h.clock), true);
    assert.deepEqual(h.eventsOf('code.replay_detected').at(-1)?.data, {
      clientId: client.clientId,
      subject: user.id,
      grantId: gid,
    });
    assert.deepEqual(h.eventsOf('token.revoked').at(-1)?.data, {
      clientId: client.clientId,
      what: 'grant',
      id: gid,
      reason: 'authorization code replayed',
    });
    // The refresh token of that grant is dead.
    assertOAuthError(await refresh(h, client, first.json.refresh_token), 400, 'invalid_grant');
  });

  test('a disabled user gets no tokens for a code issued before', async () => {
    const code = await h.code(client, await h.user({ disabled: true }));
    h.writes.length = 0;
    assertOAuthError(await exchange(h, client, code), 400, 'invalid_grant');
    assert.deepEqual(h.writes, ['codes.consume']);
  });

  test('public client: client_id in the body is the only credential (none)', async () => {
    const code = await h.code(client, await h.user());
    const reply = await h.post('/token', {
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: REDIRECT,
    });
    // Without client_id nobody is identified: RFC 6749 §5.2 invalid_client.
    assertOAuthError(reply, 401, 'invalid_client');
    assert.equal((await exchange(h, client, code)).status, 200);
  });
});

describe('PKCE RFC 7636', () => {
  let h: Harness;
  let client: SeededClient;
  before(async () => {
    h = await startAuthServer();
    client = await h.client();
  });
  after(() => h.close());

  test('Appendix B: the S256 example verifier matches its challenge', async () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    assert.equal(s256Challenge(verifier), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    const code = await h.code(client, await h.user(), { verifier });
    assert.equal((await exchange(h, client, code)).status, 200);
  });

  test('OAuth 2.1 §4.1.3: code_verifier is required', async () => {
    const code = await h.code(client, await h.user());
    const reply = await h.unchanged(() => exchange(h, client, code, { code_verifier: undefined }));
    assertOAuthError(reply, 400, 'invalid_request');
    assert.equal((await exchange(h, client, code)).status, 200);
  });

  test('§4.1: a verifier of the wrong length or alphabet is invalid_request, and the code survives', async () => {
    const code = await h.code(client, await h.user());
    for (const bad of [
      'a'.repeat(42),
      'a'.repeat(129),
      `${'a'.repeat(42)}+`,
      `${'a'.repeat(42)} `,
      `${'a'.repeat(42)}/`,
    ]) {
      const reply = await h.unchanged(() => exchange(h, client, code, { code_verifier: bad }));
      assertOAuthError(reply, 400, 'invalid_request');
    }
    assert.equal((await exchange(h, client, code)).status, 200);
  });

  test('§4.1: 43 and 128 characters of the unreserved set are accepted', async () => {
    for (const verifier of ['A'.repeat(43), `${'a-._~'.repeat(25)}xyz`]) {
      assert.equal(verifier.length === 43 || verifier.length === 128, true);
      const code = await h.code(client, await h.user(), { verifier });
      const reply = await exchange(h, client, code);
      assert.equal(reply.status, 200, reply.text);
    }
  });

  test('§4.6: a wrong verifier is invalid_grant; the code is spent and nothing is issued', async () => {
    const code = await h.code(client, await h.user());
    h.writes.length = 0;
    const issued = h.eventsOf('token.issued').length;
    const reply = await exchange(h, client, code, { code_verifier: 'w'.repeat(43) });
    assertOAuthError(reply, 400, 'invalid_grant');
    assert.deepEqual(h.writes, ['codes.consume']);
    assert.equal(h.eventsOf('token.issued').length, issued);
    // Spent: even the right verifier cannot use it now.
    assertOAuthError(await exchange(h, client, code), 400, 'invalid_grant');
  });

  test('§4.6 plain: the verifier equals the challenge (when the code was issued with plain)', async () => {
    const verifier = 'p'.repeat(50);
    const code = await h.code(client, await h.user(), { method: 'plain', verifier });
    assertOAuthError(
      await exchange(h, client, code, { code_verifier: 'q'.repeat(50) }),
      400,
      'invalid_grant',
    );
    const again = await h.code(client, await h.user(), { method: 'plain', verifier });
    assert.equal((await exchange(h, client, again)).status, 200);
  });

  test('§7.2: an S256 challenge is not satisfied by sending the challenge itself as verifier', async () => {
    const code = await h.code(client, await h.user());
    const reply = await exchange(h, client, code, { code_verifier: s256Challenge(code.verifier) });
    assertOAuthError(reply, 400, 'invalid_grant');
  });
});

describe('refresh_token grant RFC 6749 §6 with rotation (RFC 9700 §4.14.2)', () => {
  let h: Harness;
  let client: SeededClient;
  before(async () => {
    h = await startAuthServer();
    client = await h.client();
  });
  after(() => h.close());

  async function tokens(scopes?: string[]) {
    const user = await h.user();
    const code = await h.code(client, user, scopes ? { scopes } : {});
    const reply = await exchange(h, client, code);
    assert.equal(reply.status, 200, reply.text);
    return { user, reply: reply.json, claims: await verify(h, reply.json.access_token) };
  }

  test('rotation: a new refresh token and access token in the same grant', async () => {
    const { reply: first, claims: firstClaims, user } = await tokens();
    h.writes.length = 0;
    const second = await refresh(h, client, first.refresh_token);
    assert.equal(second.status, 200, second.text);
    assert.equal(second.headers.get('cache-control'), 'no-store');
    assert.notEqual(second.json.refresh_token, first.refresh_token);
    assert.equal(second.json.token_type, 'Bearer');
    assert.equal(second.json.scope, 'files:read files:write');
    const claims = await verify(h, second.json.access_token);
    assert.equal(claims.gid, firstClaims.gid);
    assert.equal(claims.sub, user.id);
    assert.notEqual(claims.jti, firstClaims.jti);
    assert.deepEqual(h.writes, ['grants.rotate']);
    assert.deepEqual(h.eventsOf('token.refreshed').at(-1)?.data, {
      clientId: client.clientId,
      subject: user.id,
      grantId: claims.gid,
      jti: claims.jti,
    });
    // The new one rotates again.
    assert.equal((await refresh(h, client, second.json.refresh_token)).status, 200);
  });

  test('reuse of a rotated refresh token revokes the whole family', async () => {
    const { reply: first, claims } = await tokens();
    const second = await refresh(h, client, first.refresh_token);
    assert.equal(second.status, 200);

    const reuse = await refresh(h, client, first.refresh_token);
    assertOAuthError(reuse, 400, 'invalid_grant');
    assert.deepEqual(h.eventsOf('refresh.reuse_detected').at(-1)?.data, {
      clientId: client.clientId,
      subject: claims.sub,
      grantId: claims.gid,
    });
    // The current token of the family is dead too, and the access tokens with it.
    assertOAuthError(await refresh(h, client, second.json.refresh_token), 400, 'invalid_grant');
    assert.equal(await h.storage.revocations.isRevoked(grantRevocationId(claims.gid!), h.clock), true);
    assert.equal(h.eventsOf('token.revoked').at(-1)?.data.id, claims.gid);
  });

  test('§6: scope may be narrowed for the new access token; the grant keeps its scope', async () => {
    const { reply: first } = await tokens();
    const narrow = await refresh(h, client, first.refresh_token, { scope: 'files:read' });
    assert.equal(narrow.status, 200, narrow.text);
    assert.equal(narrow.json.scope, 'files:read');
    assert.equal((await verify(h, narrow.json.access_token)).scope, 'files:read');
    const full = await refresh(h, client, narrow.json.refresh_token);
    assert.equal(full.json.scope, 'files:read files:write');
  });

  test('RFC 6749 §3.1: an empty scope parameter counts as omitted', async () => {
    const { reply: first } = await tokens();
    const reply = await refresh(h, client, first.refresh_token, { scope: '' });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.scope, 'files:read files:write');
  });

  test('§6: a scope beyond the grant is invalid_scope, and the token still works', async () => {
    const { reply: first } = await tokens(['files:read']);
    for (const scope of ['files:read admin', 'files:write', 'bad"scope']) {
      const reply = await h.unchanged(() => refresh(h, client, first.refresh_token, { scope }));
      assertOAuthError(reply, 400, 'invalid_scope');
    }
    assert.equal((await refresh(h, client, first.refresh_token)).status, 200);
  });

  test('RFC 8707 §2.2: resource must be the grant’s', async () => {
    const { reply: first } = await tokens();
    const reply = await h.unchanged(() =>
      refresh(h, client, first.refresh_token, { resource: 'https://x.example/mcp' }),
    );
    assertOAuthError(reply, 400, 'invalid_target');
    const ok = await refresh(h, client, first.refresh_token, { resource: h.resource });
    assert.equal(ok.status, 200, ok.text);
  });

  test('§6: a refresh token of another client is invalid_grant and changes nothing', async () => {
    const { reply: first } = await tokens();
    const thief = await h.client();
    const reply = await h.unchanged(() => refresh(h, thief, first.refresh_token));
    assertOAuthError(reply, 400, 'invalid_grant');
    assert.equal((await refresh(h, client, first.refresh_token)).status, 200);
  });

  test('unknown and missing refresh tokens', async () => {
    assertOAuthError(await h.unchanged(() => refresh(h, client, 'no-such-token')), 400, 'invalid_grant');
    const missing = await h.unchanged(() => asClient(h, client, '/token', { grant_type: 'refresh_token' }));
    assertOAuthError(missing, 400, 'invalid_request');
  });

  test('an expired grant is invalid_grant', async () => {
    const { reply: first } = await tokens();
    const ttl = h.ctx.config.refreshTokenTtlSec;
    h.advance(ttl + 1);
    assertOAuthError(await h.unchanged(() => refresh(h, client, first.refresh_token)), 400, 'invalid_grant');
  });

  test('a deleted user can no longer refresh', async () => {
    const { reply: first, user } = await tokens();
    await h.storage.users.delete(user.id);
    assertOAuthError(await h.unchanged(() => refresh(h, client, first.refresh_token)), 400, 'invalid_grant');
  });
});

describe('refresh grace window (auth.refreshGraceSec)', () => {
  let h: Harness;
  let client: SeededClient;
  before(async () => {
    h = await startAuthServer({ auth: { refreshGraceSec: 30 } });
    client = await h.client();
  });
  after(() => h.close());

  test('within the window a duplicate is refused without revoking and without a second token', async () => {
    const code = await h.code(client, await h.user());
    const first = (await exchange(h, client, code)).json;
    const second = await refresh(h, client, first.refresh_token);
    assert.equal(second.status, 200);
    h.advance(10);
    const duplicate = await h.unchanged(() => refresh(h, client, first.refresh_token));
    assertOAuthError(duplicate, 400, 'invalid_grant');
    assert.equal(duplicate.json.access_token, undefined);
    // The family survives: the token the race winner got still rotates.
    const third = await refresh(h, client, second.json.refresh_token);
    assert.equal(third.status, 200, third.text);
  });

  test('after the window the same presentation is reuse and revokes the family', async () => {
    const code = await h.code(client, await h.user());
    const first = (await exchange(h, client, code)).json;
    const second = await refresh(h, client, first.refresh_token);
    h.advance(31);
    assertOAuthError(await refresh(h, client, first.refresh_token), 400, 'invalid_grant');
    assert.equal(h.eventsOf('refresh.reuse_detected').length, 1);
    assertOAuthError(await refresh(h, client, second.json.refresh_token), 400, 'invalid_grant');
  });
});

describe('client_credentials grant RFC 6749 §4.4', () => {
  let h: Harness;
  let machine: SeededClient;
  before(async () => {
    h = await startAuthServer();
    machine = await h.client({
      confidential: true,
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'files:read admin',
    });
  });
  after(() => h.close());

  test('§4.4.3: a token for the client itself, its registered scope by default, no refresh token', async () => {
    const reply = await asClient(h, machine, '/token', { grant_type: 'client_credentials' });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.refresh_token, undefined);
    assert.equal(reply.json.scope, 'files:read admin');
    const claims = await verify(h, reply.json.access_token);
    assert.equal(claims.sub, machine.clientId);
    assert.equal(claims.client_id, machine.clientId);
    assert.equal(claims.aud, h.resource);
    assert.equal(h.eventsOf('token.issued').at(-1)?.data.grantType, 'client_credentials');
  });

  test('a narrower scope is granted as asked', async () => {
    const reply = await asClient(h, machine, '/token', { grant_type: 'client_credentials', scope: 'admin' });
    assert.equal(reply.json.scope, 'admin');
  });

  test('a scope beyond the client’s is invalid_scope', async () => {
    const reply = await h.unchanged(() =>
      asClient(h, machine, '/token', { grant_type: 'client_credentials', scope: 'files:write' }),
    );
    assertOAuthError(reply, 400, 'invalid_scope');
  });

  test('RFC 8707: another resource is invalid_target', async () => {
    const reply = await h.unchanged(() =>
      asClient(h, machine, '/token', { grant_type: 'client_credentials', resource: 'https://x.example/mcp' }),
    );
    assertOAuthError(reply, 400, 'invalid_target');
  });

  test('§4.4: public clients may not use it (unauthorized_client)', async () => {
    const publicMachine = await h.client({ grantTypes: ['client_credentials'] });
    const reply = await h.unchanged(() =>
      asClient(h, publicMachine, '/token', { grant_type: 'client_credentials' }),
    );
    assertOAuthError(reply, 400, 'unauthorized_client');
  });

  test('a client not registered for it gets unauthorized_client', async () => {
    const web = await h.client({ confidential: true });
    const reply = await h.unchanged(() => asClient(h, web, '/token', { grant_type: 'client_credentials' }));
    assertOAuthError(reply, 400, 'unauthorized_client');
  });
});

describe('rate limit on /token (RFC 6585 §4)', () => {
  test('beyond the per-minute budget: 429, Retry-After, OAuth-shaped body, rate_limit.hit', async () => {
    const h = await startAuthServer({ auth: { rateLimitPerMinute: 3 } });
    try {
      const client = await h.client();
      for (let i = 0; i < 3; i++) {
        assertOAuthError(await refresh(h, client, 'nope'), 400, 'invalid_grant');
      }
      const limited = await h.unchanged(() => refresh(h, client, 'nope'), ['rate_limit.hit']);
      assertOAuthError(limited, 429, 'slow_down');
      assert.match(limited.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
      const hit = h.eventsOf('rate_limit.hit').at(-1);
      assert.equal(hit?.data.endpoint, 'token');
      assert.equal(hit?.data.key, 'ip');
      // The window slides: a minute later requests are served again.
      h.advance(60);
      assertOAuthError(await refresh(h, client, 'nope'), 400, 'invalid_grant');
    } finally {
      await h.close();
    }
  });
});

describe('access tokens from other issuers or audiences are not refresh tokens', () => {
  test('an access token presented as refresh_token is invalid_grant', async () => {
    const h = await startAuthServer();
    try {
      const client = await h.client();
      const { token } = await issueAccessToken({
        keys: h.keys,
        issuer: h.issuer,
        subject: 'u',
        clientId: client.clientId,
        scopes: [],
        resource: h.resource,
        grantId: 'g',
        ttlSec: 60,
        now: h.clock,
      });
      assertOAuthError(await h.unchanged(() => refresh(h, client, token)), 400, 'invalid_grant');
    } finally {
      await h.close();
    }
  });
});
