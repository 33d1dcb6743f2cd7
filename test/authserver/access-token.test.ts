// Access tokens per RFC 9068: the exact header and claims issued, and what verification accepts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { issueAccessToken, scopesOf, verifyAccessToken } from '../../src/authserver/access-token.ts';
import { KeyManager } from '../../src/authserver/keys.ts';
import { openMemoryStorage } from '../../src/storage/memory/index.ts';

const ISSUER = 'https://as.example';
const RESOURCE = 'https://mcp.example/mcp';
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0, 123); // ms part: claims are whole seconds
const NOW_S = Math.floor(NOW / 1000);

let keys: KeyManager;
before(async () => {
  keys = await KeyManager.open(openMemoryStorage().keys, {
    alg: 'ES256',
    keySecret: 's'.repeat(32),
    overlapSec: 0,
    reloadIntervalSec: 0,
  });
});
after(() => keys.close());

const base = () => ({
  keys,
  issuer: ISSUER,
  subject: 'user-1',
  clientId: 'client-1',
  scopes: ['files:read', 'files:write'],
  resource: RESOURCE,
  grantId: 'grant-1',
  ttlSec: 3600,
  now: NOW,
});

describe('access tokens RFC 9068', () => {
  test('header: alg and kid of the signing key, typ at+jwt (§2.1)', async () => {
    const { token } = await issueAccessToken(base());
    assert.deepEqual(decodeProtectedHeader(token), {
      alg: 'ES256',
      kid: keys.signingKey().kid,
      typ: 'at+jwt',
    });
  });

  test('claims: exactly iss, sub, aud, client_id, scope, jti, iat, exp, gid, auth_time (§2.2)', async () => {
    const authTime = NOW - 90_500;
    const issued = await issueAccessToken({ ...base(), authTime });
    const claims = decodeJwt(issued.token);
    assert.deepEqual(claims, {
      iss: ISSUER,
      sub: 'user-1',
      aud: RESOURCE,
      client_id: 'client-1',
      scope: 'files:read files:write',
      jti: issued.jti,
      iat: NOW_S,
      exp: NOW_S + 3600,
      gid: 'grant-1',
      auth_time: Math.floor(authTime / 1000),
    });
    assert.equal(issued.expiresAt, (NOW_S + 3600) * 1000);
    assert.match(issued.jti, /^[A-Za-z0-9_-]{22}$/, '128 random bits');
  });

  test('no scope claim when no scope was granted; no auth_time when unknown', async () => {
    const { token } = await issueAccessToken({ ...base(), scopes: [] });
    const claims = decodeJwt(token);
    assert.equal('scope' in claims, false);
    assert.equal('auth_time' in claims, false);
  });

  test('every token gets its own jti', async () => {
    const a = await issueAccessToken(base());
    const b = await issueAccessToken(base());
    assert.notEqual(a.jti, b.jti);
    assert.notEqual(a.token, b.token);
  });

  test('verification returns the claims, the scopes and the kid', async () => {
    const { token, jti } = await issueAccessToken(base());
    const r = await verifyAccessToken(token, {
      keys,
      issuer: ISSUER,
      audience: RESOURCE,
      clockSkewSec: 0,
      now: NOW,
    });
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(r.scopes, ['files:read', 'files:write']);
    assert.equal(r.claims.jti, jti);
    assert.equal(r.kid, keys.signingKey().kid);
  });

  test('audience: exactly the resource; `null` (introspection) accepts any single audience', async () => {
    const { token } = await issueAccessToken({ ...base(), resource: 'https://other.example/mcp' });
    const opts = { keys, issuer: ISSUER, clockSkewSec: 0, now: NOW };
    assert.deepEqual(await verifyAccessToken(token, { ...opts, audience: RESOURCE }), {
      ok: false,
      reason: 'wrong_audience',
    });
    assert.equal((await verifyAccessToken(token, { ...opts, audience: null })).ok, true);
  });

  test('an audience list naming this resource and another is refused (no passthrough tokens)', async () => {
    const { kid, key } = keys.signingKey();
    const token = await new SignJWT({ client_id: 'c' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setSubject('u')
      .setAudience([RESOURCE, 'https://other.example/mcp'])
      .setJti('j')
      .setIssuedAt(NOW_S)
      .setExpirationTime(NOW_S + 60)
      .sign(key);
    const r = await verifyAccessToken(token, {
      keys,
      issuer: ISSUER,
      audience: RESOURCE,
      clockSkewSec: 0,
      now: NOW,
    });
    assert.deepEqual(r, { ok: false, reason: 'wrong_audience' });
  });

  test('a required claim missing (client_id) is refused', async () => {
    const { kid, key } = keys.signingKey();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setSubject('u')
      .setAudience(RESOURCE)
      .setJti('j')
      .setIssuedAt(NOW_S)
      .setExpirationTime(NOW_S + 60)
      .sign(key);
    const r = await verifyAccessToken(token, {
      keys,
      issuer: ISSUER,
      audience: RESOURCE,
      clockSkewSec: 0,
      now: NOW,
    });
    assert.deepEqual(r, { ok: false, reason: 'invalid_claims' });
  });

  test('an iat beyond the clock skew in the future is refused', async () => {
    const { token } = await issueAccessToken({ ...base(), now: NOW + 120_000 });
    const opts = { keys, issuer: ISSUER, audience: RESOURCE, now: NOW };
    assert.deepEqual(await verifyAccessToken(token, { ...opts, clockSkewSec: 30 }), {
      ok: false,
      reason: 'invalid_claims',
    });
    assert.equal((await verifyAccessToken(token, { ...opts, clockSkewSec: 120 })).ok, true);
  });

  test('scope parsing (RFC 6749 §3.3)', () => {
    assert.deepEqual(scopesOf(undefined), []);
    assert.deepEqual(scopesOf(''), []);
    assert.deepEqual(scopesOf('a b  c'), ['a', 'b', 'c']);
  });
});
