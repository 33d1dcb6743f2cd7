// Client authentication at the token endpoint (RFC 6749 §2.3, §5.2; RFC 7591 §2
// token_endpoint_auth_method): none, client_secret_basic (with form-urlencoded credentials),
// client_secret_post; one method per request; 401 invalid_client with a Basic challenge after a
// failed Basic attempt.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashSecret } from '../../src/authserver/secrets.ts';
import { assertOAuthError, basic, type Harness, startAuthServer } from './backchannel-fixture.ts';

const CC = { grant_type: 'client_credentials' };

describe('client authentication RFC 6749 §2.3', () => {
  let h: Harness;
  before(async () => {
    h = await startAuthServer();
  });
  after(() => h.close());

  const machine = (method: 'client_secret_basic' | 'client_secret_post', extra = {}) =>
    h.client({
      tokenEndpointAuthMethod: method,
      grantTypes: ['client_credentials'],
      redirectUris: [],
      ...extra,
    });

  test('client_secret_basic (§2.3.1)', async () => {
    const c = await machine('client_secret_basic');
    const reply = await h.post('/token', CC, basic(c.clientId, c.secret!));
    assert.equal(reply.status, 200, reply.text);
  });

  test('client_secret_basic: the scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
    const c = await machine('client_secret_basic');
    const value = basic(c.clientId, c.secret!).authorization!.replace('Basic', 'bAsIc');
    assert.equal((await h.post('/token', CC, { authorization: value })).status, 200);
  });

  test('client_secret_basic: id and secret are form-urlencoded before base64 (§2.3.1, Appendix B)', async () => {
    const clientId = 'tool:ci/runner 1+ü';
    const secret = 'p@ss:word%+ &=é';
    const c = await h.client({
      clientId,
      tokenEndpointAuthMethod: 'client_secret_basic',
      secretHash: hashSecret(secret),
      grantTypes: ['client_credentials'],
      redirectUris: [],
    });
    assert.equal(c.clientId, clientId);
    const reply = await h.post('/token', CC, basic(clientId, secret));
    assert.equal(reply.status, 200, reply.text);
    // Sent without the encoding, '+' and '%' decode to something else: the secret no longer matches.
    const raw = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${secret}`).toString('base64')}`;
    const wrong = await h.unchanged(() => h.post('/token', CC, { authorization: raw }));
    assertOAuthError(wrong, 401, 'invalid_client');
  });

  test('client_secret_post (§2.3.1)', async () => {
    const c = await machine('client_secret_post');
    const reply = await h.post('/token', { ...CC, client_id: c.clientId, client_secret: c.secret! });
    assert.equal(reply.status, 200, reply.text);
  });

  test('§5.2: a wrong secret with Basic is 401 invalid_client with WWW-Authenticate: Basic', async () => {
    const c = await machine('client_secret_basic');
    const reply = await h.unchanged(() => h.post('/token', CC, basic(c.clientId, `${c.secret}x`)));
    assertOAuthError(reply, 401, 'invalid_client');
    assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]+"/);
  });

  test('§5.2: an unknown client with Basic is 401 invalid_client with the challenge', async () => {
    const reply = await h.unchanged(() => h.post('/token', CC, basic('nobody', 'secret')));
    assertOAuthError(reply, 401, 'invalid_client');
    assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic /);
  });

  test('§5.2: a wrong secret in the body is 401 invalid_client without a Basic challenge', async () => {
    const c = await machine('client_secret_post');
    const reply = await h.unchanged(() =>
      h.post('/token', { ...CC, client_id: c.clientId, client_secret: 'wrong-secret' }),
    );
    assertOAuthError(reply, 401, 'invalid_client');
    assert.equal(reply.headers.get('www-authenticate'), null);
  });

  test('every failure reads the same on the wire', async () => {
    const c = await machine('client_secret_post');
    const wrong = await h.post('/token', { ...CC, client_id: c.clientId, client_secret: 'wrong' });
    const unknown = await h.post('/token', { ...CC, client_id: 'nobody', client_secret: 'wrong' });
    assert.deepEqual(wrong.json, unknown.json);
  });

  test('§2.3: two methods in one request are invalid_request', async () => {
    const c = await machine('client_secret_basic');
    const reply = await h.unchanged(() =>
      h.post(
        '/token',
        { ...CC, client_id: c.clientId, client_secret: c.secret! },
        basic(c.clientId, c.secret!),
      ),
    );
    assertOAuthError(reply, 400, 'invalid_request');
  });

  test('a client_id beside Basic must name the same client', async () => {
    const c = await machine('client_secret_basic');
    const same = await h.post('/token', { ...CC, client_id: c.clientId }, basic(c.clientId, c.secret!));
    assert.equal(same.status, 200, same.text);
    const other = await h.unchanged(() =>
      h.post('/token', { ...CC, client_id: 'someone-else' }, basic(c.clientId, c.secret!)),
    );
    assertOAuthError(other, 400, 'invalid_request');
  });

  test('RFC 7591 §2: the method must be the one the client registered', async () => {
    const basicClient = await machine('client_secret_basic');
    const postClient = await machine('client_secret_post');
    const viaPost = await h.unchanged(() =>
      h.post('/token', { ...CC, client_id: basicClient.clientId, client_secret: basicClient.secret! }),
    );
    assertOAuthError(viaPost, 401, 'invalid_client');
    const viaBasic = await h.unchanged(() =>
      h.post('/token', CC, basic(postClient.clientId, postClient.secret!)),
    );
    assertOAuthError(viaBasic, 401, 'invalid_client');
    assert.match(viaBasic.headers.get('www-authenticate') ?? '', /^Basic /);
    // A confidential client cannot drop to `none` by leaving out its secret.
    const bare = await h.unchanged(() => h.post('/token', { ...CC, client_id: basicClient.clientId }));
    assertOAuthError(bare, 401, 'invalid_client');
  });

  test('a public client cannot authenticate with a secret', async () => {
    const pub = await h.client();
    const reply = await h.unchanged(() =>
      h.post('/token', {
        grant_type: 'refresh_token',
        refresh_token: 'x',
        client_id: pub.clientId,
        client_secret: 'x',
      }),
    );
    assertOAuthError(reply, 401, 'invalid_client');
  });

  test('§5.2: no client authentication at all is 401 invalid_client', async () => {
    assertOAuthError(await h.unchanged(() => h.post('/token', CC)), 401, 'invalid_client');
    const secretOnly = await h.unchanged(() => h.post('/token', { ...CC, client_secret: 'x' }));
    assertOAuthError(secretOnly, 401, 'invalid_client');
  });

  test('RFC 7591 §3.2.1: an expired client secret is refused', async () => {
    const c = await machine('client_secret_basic', { secretExpiresAt: h.clock - 1 });
    const reply = await h.unchanged(() => h.post('/token', CC, basic(c.clientId, c.secret!)));
    assertOAuthError(reply, 401, 'invalid_client');
    const later = await machine('client_secret_basic', { secretExpiresAt: h.clock + 60_000 });
    assert.equal((await h.post('/token', CC, basic(later.clientId, later.secret!))).status, 200);
  });

  test('malformed Basic credentials and other schemes are invalid_client', async () => {
    for (const authorization of [
      'Basic',
      'Basic !!!not-base64!!!',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
      `Basic ${Buffer.from(':secret').toString('base64')}`,
      `Basic ${Buffer.from('id:%zz').toString('base64')}`,
      'Bearer some.jwt.value',
    ]) {
      const reply = await h.unchanged(() => h.post('/token', CC, { authorization }));
      assertOAuthError(reply, 401, 'invalid_client');
      assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic /, authorization);
    }
  });

  test('RFC 7523 client assertions are not offered: invalid_client', async () => {
    const c = await machine('client_secret_post');
    const reply = await h.unchanged(() =>
      h.post('/token', {
        ...CC,
        client_id: c.clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: 'a.b.c',
      }),
    );
    assertOAuthError(reply, 401, 'invalid_client');
  });

  test('secrets are stored only as SHA-256 hashes', async () => {
    const c = await machine('client_secret_basic');
    const stored = await h.storage.clients.get(c.clientId);
    assert.equal(stored?.secretHash, hashSecret(c.secret!));
    assert.doesNotMatch(JSON.stringify(stored), new RegExp(c.secret!));
  });
});
