// The resource-server guard on /mcp, black-box over HTTP: bearer tokens from the Authorization header
// only (RFC 6750 §2.1, MCP "Token Requirements"), RFC 9068 §4 validation with the algorithm pinned per
// key, the audience exactly this resource (RFC 8707), revocation, and the Bearer challenge (RFC 6750 §3,
// RFC 9728 §5.1).

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { exportSPKI, SignJWT } from 'jose';
import { issueAccessToken } from '../../src/authserver/access-token.ts';
import { KeyManager } from '../../src/authserver/keys.ts';
import { GuardRpcError } from '../../src/guard/challenge.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { EventBus } from '../../src/observability/events.ts';
import { openMemoryStorage } from '../../src/storage/memory/index.ts';
import type { GuardRejection } from '../../src/transport/http/app.ts';
import {
  call,
  callWhoami,
  claimsFor,
  type Harness,
  type Reply,
  startGuarded,
  strangerKey,
} from './harness.ts';

let h: Harness;
let metadataUrl: string;
before(async () => {
  h = await startGuarded();
  metadataUrl = `${h.issuer}/.well-known/oauth-protected-resource/mcp`;
});
after(() => h.close());

/** 401 with the challenge and a JSON-RPC error body; `error` absent means no error code (RFC 6750 §3.1). */
function assertUnauthorized(r: Reply, error?: string, description?: RegExp): void {
  assert.equal(r.status, 401, r.text);
  const challenge = r.headers.get('www-authenticate');
  if (error === undefined) {
    assert.equal(challenge, `Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`);
    assert.equal(r.json.error.data, undefined);
  } else {
    assert.match(
      challenge ?? '',
      new RegExp(
        `^Bearer resource_metadata="${metadataUrl}", scope="mcp:tools", error="${error}", error_description="[^"]+"$`,
      ),
    );
    assert.equal(r.json.error.data.error, error);
    if (description) assert.match(r.json.error.data.error_description, description);
  }
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.json.jsonrpc, '2.0');
  assert.equal(r.json.id, null);
  assert.equal(r.json.error.code, GuardRpcError.Unauthorized);
}

function assertBadRequest(r: Reply): void {
  assert.equal(r.status, 400, r.text);
  assert.match(
    r.headers.get('www-authenticate') ?? '',
    /^Bearer resource_metadata="[^"]+", scope="mcp:tools", error="invalid_request"/,
  );
  assert.equal(r.json.error.code, GuardRpcError.Unauthorized);
  assert.equal(r.json.error.data.error, 'invalid_request');
}

describe('guard: a valid bearer token', () => {
  test('is accepted, and its principal reaches the tool handler', async () => {
    const { token, jti } = await h.token({ authTime: Date.now() - 5000 });
    const r = await callWhoami(h, `Bearer ${token}`);
    assert.equal(r.status, 200, r.text);
    const principal = JSON.parse(r.json.result.content[0].text);
    assert.equal(principal.subject, 'user-1');
    assert.equal(principal.clientId, 'client-1');
    assert.deepEqual(principal.scopes, ['mcp:tools']);
    assert.equal(principal.tokenId, jti);
    assert.equal(typeof principal.expiresAt, 'number');
    assert.equal(principal.claims.gid, 'grant-1');
    assert.equal(principal.claims.aud, h.resource);
  });

  test('the scheme is case-insensitive (RFC 9110 §11.1)', async () => {
    const { token } = await h.token();
    assert.equal((await callWhoami(h, `bearer ${token}`)).status, 200);
    assert.equal((await callWhoami(h, `BEARER ${token}`)).status, 200);
  });

  test('a repeat request is served from the cache: no second signature check', async () => {
    const { token } = await h.token();
    const before = h.keyLookups();
    assert.equal((await callWhoami(h, `Bearer ${token}`)).status, 200);
    assert.equal(h.keyLookups(), before + 1);
    assert.equal((await callWhoami(h, `Bearer ${token}`)).status, 200);
    assert.equal((await callWhoami(h, `Bearer ${token}`)).status, 200);
    assert.equal(h.keyLookups(), before + 1, 'verified once, then a cache hit');
  });

  test('guards the 2024-11-05 endpoints too', async () => {
    const sse = await call(`${h.issuer}/sse`, { headers: { accept: 'text/event-stream' } });
    assertUnauthorized(sse);
    const messages = await call(`${h.issuer}/messages?sessionId=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assertUnauthorized(messages);
  });
});

describe('guard: legacy sessions are bound to their principal', () => {
  test("another user's token with a 2025-11-25 session id gets no access; a fresh token of the same user does", async () => {
    const alice = await h.token({ subject: 'alice' });
    const headers = (token: string, extra: Record<string, string> = {}) => ({
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      ...extra,
    });
    const init = await call(h.resource, {
      method: 'POST',
      headers: headers(alice.token),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    assert.equal(init.status, 200, init.text);
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid);
    const list = (token: string) =>
      call(h.resource, {
        method: 'POST',
        headers: headers(token, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }),
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
    const mallory = await h.token({ subject: 'mallory' });
    assert.equal((await list(mallory.token)).status, 404, "another principal's session is not found");
    const aliceAgain = await h.token({ subject: 'alice' });
    assert.equal(
      (await list(aliceAgain.token)).status,
      200,
      'a refreshed token of the same user keeps the session',
    );
  });
});

describe('guard: missing or malformed credentials', () => {
  test('no Authorization header: 401 with a challenge and no error code (RFC 6750 §3.1)', async () => {
    assertUnauthorized(await callWhoami(h));
  });

  test('another scheme (Basic): treated as no token, 401 without an error code', async () => {
    assertUnauthorized(await callWhoami(h, 'Basic dXNlcjpwYXNz'));
  });

  test('malformed Bearer credentials: 400 invalid_request', async () => {
    const { token } = await h.token();
    // 'Bearer ' arrives as 'Bearer' (Node trims header values): no token after the scheme.
    for (const header of [
      'Bearer',
      'Bearer ',
      'Bearer   ',
      `Bearer ${token} extra`,
      'Bearer a"b',
      'Bearer =abc',
    ]) {
      assertBadRequest(await callWhoami(h, header));
    }
    // RFC 6750 §2.1 separates the scheme with SP: with a tab it is no Bearer credential at all.
    assertUnauthorized(await callWhoami(h, `Bearer\t${token}`));
  });

  test('a non-JWT bearer token: 401 invalid_token', async () => {
    assertUnauthorized(await callWhoami(h, 'Bearer not-a-jwt'), 'invalid_token', /malformed/);
  });

  test('a token in the query string is refused, never accepted (MCP "Token Requirements" 2)', async () => {
    const { token } = await h.token();
    const alone = await callWhoami(h, undefined, `${h.resource}?access_token=${token}`);
    assertBadRequest(alone);
    assert.match(alone.json.error.data.error_description, /Authorization header/);
    // Even alongside a valid header: two methods is invalid_request (RFC 6750 §3.1).
    assertBadRequest(await callWhoami(h, `Bearer ${token}`, `${h.resource}?access_token=${token}`));
    // Percent-encoded parameter name: the same parameter.
    assertBadRequest(await callWhoami(h, undefined, `${h.resource}?access%5Ftoken=${token}`));
  });

  test('a token in a form body is not a credential (RFC 6750 §2.2 is not supported)', async () => {
    const { token } = await h.token();
    const r = await call(h.resource, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: `access_token=${token}`,
    });
    assertUnauthorized(r);
  });
});

describe('guard: invalid tokens get 401 invalid_token', () => {
  test('bad signature', async () => {
    const { token } = await h.token();
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(JSON.stringify(claimsFor(h, { sub: 'admin' }))).toString('base64url');
    assertUnauthorized(
      await callWhoami(h, `Bearer ${header}.${payload}.${signature}`),
      'invalid_token',
      /signature/,
    );
  });

  test('unknown kid, and no kid', async () => {
    const { privateKey } = await strangerKey();
    const unknown = await new SignJWT(claimsFor(h))
      .setProtectedHeader({ alg: 'ES256', kid: 'not-ours', typ: 'at+jwt' })
      .sign(privateKey);
    assertUnauthorized(await callWhoami(h, `Bearer ${unknown}`), 'invalid_token', /known key/);
    const noKid = await h.forge({ alg: 'ES256', typ: 'at+jwt' }, claimsFor(h));
    assertUnauthorized(await callWhoami(h, `Bearer ${noKid}`), 'invalid_token', /known key/);
    // A stranger's key using our kid: the signature does not verify.
    const kid = h.keys.signingKey().kid;
    const impostor = await new SignJWT(claimsFor(h))
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .sign(privateKey);
    assertUnauthorized(await callWhoami(h, `Bearer ${impostor}`), 'invalid_token', /signature/);
  });

  test('alg none is refused', async () => {
    const kid = h.keys.signingKey().kid;
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const none = `${enc({ alg: 'none', kid, typ: 'at+jwt' })}.${enc(claimsFor(h))}.`;
    assertUnauthorized(await callWhoami(h, `Bearer ${none}`), 'invalid_token', /algorithm/);
  });

  test('alg confusion: HS256 keyed with our public key is refused (RFC 8725 §2.1)', async () => {
    const { kid } = h.keys.signingKey();
    const pub = await h.keys.verificationKey(kid);
    assert.ok(pub);
    const pem = await exportSPKI(pub.key);
    const jwk = JSON.stringify(h.keys.jwks().keys[0]);
    for (const secret of [pem, jwk]) {
      const forged = await new SignJWT(claimsFor(h))
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode(secret));
      assertUnauthorized(await callWhoami(h, `Bearer ${forged}`), 'invalid_token', /algorithm/);
    }
  });

  test('wrong issuer', async () => {
    const { token } = await h.token({ issuer: 'https://evil.example' });
    assertUnauthorized(
      await callWhoami(h, `Bearer ${token}`),
      'invalid_token',
      /another authorization server/,
    );
  });

  test('wrong audience: a token for another resource (RFC 8707, no passthrough)', async () => {
    for (const resource of [`${h.issuer}/other`, `${h.resource}/`, 'https://mcp.example/mcp']) {
      const { token } = await h.token({ resource });
      const r = await callWhoami(h, `Bearer ${token}`);
      assertUnauthorized(r, 'invalid_token');
      assert.match(r.json.error.data.error_description, /not issued for this resource/);
    }
    const multi = await h.forge(
      { alg: 'ES256', kid: h.keys.signingKey().kid, typ: 'at+jwt' },
      claimsFor(h, { aud: [h.resource, 'https://other.example/mcp'] }),
    );
    assertUnauthorized(
      await callWhoami(h, `Bearer ${multi}`),
      'invalid_token',
      /not issued for this resource/,
    );
  });

  test('expired (beyond the 30 s skew), and accepted within it', async () => {
    const { token } = await h.token({ now: Date.now() - 3600_000 - 31_000 });
    const r = await callWhoami(h, `Bearer ${token}`);
    assertUnauthorized(r, 'invalid_token');
    assert.match(r.json.error.data.error_description, /expired/);
    const { token: edge } = await h.token({ now: Date.now() - 3600_000 + 20_000 });
    assert.equal((await callWhoami(h, `Bearer ${edge}`)).status, 200);
  });

  test('nbf in the future (beyond the skew)', async () => {
    const kid = h.keys.signingKey().kid;
    const future = await h.forge(
      { alg: 'ES256', kid, typ: 'at+jwt' },
      claimsFor(h, { nbf: Math.floor(Date.now() / 1000) + 300 }),
    );
    assertUnauthorized(await callWhoami(h, `Bearer ${future}`), 'invalid_token', /not valid yet/);
  });

  test('wrong or missing typ (RFC 9068 §4: only at+jwt)', async () => {
    const kid = h.keys.signingKey().kid;
    for (const typ of ['JWT', 'id_token+jwt', undefined]) {
      const header = typ === undefined ? { alg: 'ES256', kid } : { alg: 'ES256', kid, typ };
      const t = await h.forge(header, claimsFor(h));
      assertUnauthorized(await callWhoami(h, `Bearer ${t}`), 'invalid_token', /typ at\+jwt/);
    }
    const full = await h.forge({ alg: 'ES256', kid, typ: 'application/at+jwt' }, claimsFor(h));
    assert.equal((await callWhoami(h, `Bearer ${full}`)).status, 200, 'application/at+jwt is the same type');
  });

  test('a required claim missing (sub, client_id, jti, exp, iat)', async () => {
    const kid = h.keys.signingKey().kid;
    for (const claim of ['sub', 'client_id', 'jti', 'exp', 'iat']) {
      const c = claimsFor(h);
      delete c[claim];
      const t = await h.forge({ alg: 'ES256', kid, typ: 'at+jwt' }, c);
      assertUnauthorized(await callWhoami(h, `Bearer ${t}`), 'invalid_token', /claims are invalid/);
    }
  });
});

describe('guard: revocation', () => {
  test('a revoked jti is refused, even when the token is cached', async () => {
    const { token, jti } = await h.token();
    assert.equal((await callWhoami(h, `Bearer ${token}`)).status, 200, 'verified and cached');
    h.events.emit('token.revoked', { clientId: 'client-1', what: 'access_token', id: jti, reason: 'test' });
    const r = await callWhoami(h, `Bearer ${token}`);
    assertUnauthorized(r, 'invalid_token');
    assert.match(r.json.error.data.error_description, /revoked/);
  });

  test('a revoked grant takes its access tokens with it (cached or not)', async () => {
    const cached = await h.token({ grantId: 'grant-r' });
    const fresh = await h.token({ grantId: 'grant-r' });
    const other = await h.token({ grantId: 'grant-other' });
    assert.equal((await callWhoami(h, `Bearer ${cached.token}`)).status, 200);
    h.events.emit('token.revoked', { clientId: 'client-1', what: 'grant', id: 'grant-r', reason: 'test' });
    assertUnauthorized(await callWhoami(h, `Bearer ${cached.token}`), 'invalid_token');
    assertUnauthorized(await callWhoami(h, `Bearer ${fresh.token}`), 'invalid_token');
    assert.equal((await callWhoami(h, `Bearer ${other.token}`)).status, 200, 'other grants are untouched');
  });

  test('revocations in storage are loaded when the guard starts (jti and grant:<gid>)', async () => {
    const byJti = await h.token({ grantId: 'g-a' });
    const byGrant = await h.token({ grantId: 'g-b' });
    const live = await h.token({ grantId: 'g-c' });
    const until = Date.now() + 3600_000;
    await h.storage.revocations.revoke(byJti.jti, until);
    await h.storage.revocations.revoke('grant:g-b', until);
    const g = createGuard({
      keys: h.keys,
      issuer: h.issuer,
      resource: h.resource,
      revocations: h.storage.revocations,
      events: new EventBus(),
      revocationSyncSec: 0,
    });
    after(() => g.close());
    const check = async (token: string) =>
      g.guard({ headers: { authorization: `Bearer ${token}` } } as IncomingMessage, { query: '' });
    assert.equal(((await check(byJti.token)) as GuardRejection).status, 401);
    assert.equal(((await check(byGrant.token)) as GuardRejection).status, 401);
    assert.equal(
      ((await check(live.token)) as { principal: { subject: string } }).principal.subject,
      'user-1',
    );
  });
});

describe('guard: keys', () => {
  test('a token of a key retired early is refused even when cached', async () => {
    const storage = openMemoryStorage();
    const keys = await KeyManager.open(storage.keys, {
      alg: 'ES256',
      keySecret: 'x'.repeat(32),
      overlapSec: 0,
      reloadIntervalSec: 0,
    });
    after(() => keys.close());
    const resource = 'https://mcp.example/mcp';
    const g = createGuard({
      keys,
      issuer: 'https://mcp.example',
      resource,
      revocations: storage.revocations,
      events: new EventBus(),
      revocationSyncSec: 0,
    });
    after(() => g.close());
    const { token } = await issueAccessToken({
      keys,
      issuer: 'https://mcp.example',
      subject: 'u',
      clientId: 'c',
      scopes: [],
      resource,
      grantId: 'g',
      ttlSec: 600,
    });
    const req = { headers: { authorization: `Bearer ${token}` } } as IncomingMessage;
    assert.ok('principal' in (await g.guard(req, { query: '' })));
    await keys.rotate(); // overlap 0: the old key stops verifying at once
    const r = (await g.guard(req, { query: '' })) as GuardRejection;
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'] ?? '', /error="invalid_token"/);
  });
});

describe('guard: the Bearer challenge (RFC 6750 §3, RFC 9728 §5.1)', () => {
  test('default: resource_metadata and the configured scopes, without offline_access', () => {
    assert.equal(h.guard.challenge(), `Bearer resource_metadata="${metadataUrl}", scope="mcp:tools"`);
  });

  test('with an error and a description; unsafe characters are dropped from the description', () => {
    assert.equal(
      h.guard.challenge({
        scopes: ['a', 'b', 'offline_access', 'a'],
        error: 'invalid_token',
        description: 'say "hi"\r\nX: y\\',
      }),
      `Bearer resource_metadata="${metadataUrl}", scope="a b", error="invalid_token", error_description="say hiX: y"`,
    );
  });

  test('no scope parameter when there are no scopes to name', () => {
    assert.equal(
      h.guard.challenge({ scopes: ['offline_access'] }),
      `Bearer resource_metadata="${metadataUrl}"`,
    );
  });

  test('insufficientScope: 403 naming every scope the operation needs', () => {
    const r = h.guard.insufficientScope(['files:read', 'files:write']);
    assert.equal(r.status, 403);
    assert.equal(
      r.headers['www-authenticate'],
      `Bearer resource_metadata="${metadataUrl}", scope="files:read files:write", error="insufficient_scope", ` +
        'error_description="The access token lacks a scope this operation requires"',
    );
    const body = JSON.parse(r.body);
    assert.equal(body.error.code, GuardRpcError.InsufficientScope);
    assert.equal(body.error.data.error, 'insufficient_scope');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
  });
});
