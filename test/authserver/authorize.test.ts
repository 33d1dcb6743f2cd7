// The authorization endpoint (OAuth 2.1 §4.1.1, RFC 6749 §4.1, RFC 7636, RFC 8707, RFC 9207), driven as
// a browser would: every refusal before the client and redirect URI are validated is a page (never a
// redirect), every later one a redirect carrying error, state and iss; nothing is stored on refusal.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RateLimiter } from '../../src/authserver/rate-limit.ts';
import type { ClientRecord } from '../../src/storage/types.ts';
import { Browser, isRedirect, type Page, visibleText } from './browser.ts';
import {
  assertSecurityHeaders,
  authorizeUrl,
  exchangeCode,
  type FrontChannelFixture,
  jwtClaims,
  PASSWORD,
  pkce,
  REDIRECT_URI,
  startFrontChannel,
  validParams,
} from './front-channel.ts';

/** A page shown instead of redirecting: the refusal RFC 6749 §4.1.2.1 requires for bad clients and redirect URIs. */
function assertErrorPage(page: Page, status: number, error: string): void {
  assert.equal(page.status, status, visibleText(page.body));
  assert.equal(page.location, undefined, 'never redirected');
  assert.equal(page.headers.get('location'), null);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(visibleText(page.body), new RegExp(`Error code: ${error}`));
  assertSecurityHeaders(page);
}

/** An error redirected to the client (RFC 6749 §4.1.2.1) with iss (RFC 9207 §2). */
function assertErrorRedirect(
  f: FrontChannelFixture,
  page: Page,
  error: string,
  options: { state?: string | null; redirectUri?: string } = {},
): URLSearchParams {
  assert.ok(isRedirect(page), `expected a redirect, got ${page.status}: ${visibleText(page.body)}`);
  const location = page.location!;
  assert.equal(`${location.origin}${location.pathname}`, options.redirectUri ?? REDIRECT_URI);
  const params = location.searchParams;
  assert.equal(params.get('error'), error);
  assert.equal(params.get('iss'), f.issuer, 'RFC 9207: iss in error responses too');
  assert.equal(params.get('state'), options.state === undefined ? 'st-123' : options.state);
  assert.equal(params.get('code'), null);
  assertSecurityHeaders(page);
  return params;
}

function assertNothingStored(f: FrontChannelFixture, before: { codes: number; consents: number }): void {
  assert.deepEqual(f.writes, before, 'no code or consent stored');
}

describe('authorization endpoint', () => {
  let f: FrontChannelFixture;
  let client: ClientRecord;
  const { verifier, challenge } = pkce();

  before(async () => {
    f = await startFrontChannel({
      toolScopes: ['files:read', 'files:write'],
      auth: { scopes: ['offline_access'] },
    });
    client = await f.addClient({ clientName: 'Acme Notes' });
    await f.addUser();
  });
  after(() => f.close());

  const go = (params: Record<string, string | undefined>, browser = new Browser()) =>
    browser.get(authorizeUrl(f, params));

  test('code flow: login, consent, then a code bound to PKCE, redirect URI and resource redeems at /token', async () => {
    const browser = new Browser();
    const login = await go(validParams(f, client, challenge), browser);
    assert.equal(login.status, 200);
    assertSecurityHeaders(login);
    const form = login.forms[0]!;
    assert.equal(form.method, 'POST');
    assert.equal(form.action.pathname, '/login');
    const names = form.fields.map(([n]) => n);
    for (const n of ['csrf', 'request', 'username', 'password']) assert.ok(names.includes(n), `field ${n}`);
    assert.match(login.body, /<input id="password" name="password" type="password"/);
    assert.match(login.body, /<html lang="en">/);
    assert.match(login.body, /<meta name="viewport"/);
    assert.match(login.body, /<label for="username">/);

    const consent = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
    assert.equal(consent.status, 200, visibleText(consent.body));
    assertSecurityHeaders(consent);
    const text = visibleText(consent.body);
    assert.match(text, /Acme Notes/);
    assert.match(text, /127\.0\.0\.1:9876/);
    assert.match(text, /client-1/);
    assert.match(text, /files:read/);
    assert.match(text, /files:write/);
    // The default scope (no scope parameter) leaves offline_access out: a client has to ask for it.
    assert.doesNotMatch(text, /offline_access/);

    const done = await browser.submit(consent, { button: 'approve' });
    assert.equal(done.status, 303);
    assertSecurityHeaders(done);
    const location = done.location!;
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
    assert.equal(location.searchParams.get('state'), 'st-123');
    assert.equal(location.searchParams.get('iss'), f.issuer);
    const code = location.searchParams.get('code')!;
    assert.match(code, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');

    const token = await exchangeCode(f, client, code, verifier);
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const claims = jwtClaims(token.body.access_token as string);
    assert.equal(claims.aud, f.resource);
    assert.equal(claims.client_id, client.clientId);
    assert.equal(claims.scope, 'files:read files:write');
    const alice = await f.storage.users.getByUsername('alice');
    assert.equal(claims.sub, alice!.id);
  });

  test('the code is stored only as a hash and expires after codeTtlSec', async () => {
    const browser = new Browser();
    const pair = pkce();
    const fresh = await f.addClient();
    const login = await go(validParams(f, fresh, pair.challenge, { scope: 'files:read' }), browser);
    const consent = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
    const done = await browser.submit(consent, { button: 'approve' });
    const code = done.location!.searchParams.get('code')!;
    // The raw code is not a key of the store: consuming it as a hash finds nothing.
    assert.equal((await f.storage.codes.consume(code, f.clock.now)).status, 'missing');
    // Time only moves forward (the rate limiter, like real clocks, relies on it).
    f.clock.now += f.ctx.config.codeTtlSec * 1000 + 1;
    const token = await exchangeCode(f, fresh, code, pair.verifier);
    assert.equal(token.status, 400);
    assert.equal(token.body.error, 'invalid_grant');
  });

  describe('refused without redirect (RFC 6749 §4.1.2.1)', () => {
    test('unknown client_id', async () => {
      const before = { ...f.writes };
      assertErrorPage(
        await go(validParams(f, client, challenge, { client_id: 'no-such-client' })),
        400,
        'invalid_client',
      );
      assertNothingStored(f, before);
    });

    test('missing client_id', async () => {
      assertErrorPage(
        await go(validParams(f, client, challenge, { client_id: undefined })),
        400,
        'invalid_request',
      );
    });

    test('repeated client_id', async () => {
      const url = authorizeUrl(f, validParams(f, client, challenge));
      url.searchParams.append('client_id', 'client-2');
      assertErrorPage(await new Browser().get(url), 400, 'invalid_request');
    });

    for (const [why, uri] of [
      ['another host', 'https://evil.example/callback'],
      ['another path', 'http://127.0.0.1:9876/callback/x'],
      ['an added query', 'http://127.0.0.1:9876/callback?x=1'],
      ['another scheme', 'https://127.0.0.1:9876/callback'],
      ['a trailing slash', 'http://127.0.0.1:9876/callback/'],
      ['localhost for a 127.0.0.1 registration', 'http://localhost:9876/callback'],
    ]) {
      test(`unregistered redirect_uri: ${why}`, async () => {
        const before = { ...f.writes };
        const page = await go(validParams(f, client, challenge, { redirect_uri: uri }));
        assertErrorPage(page, 400, 'invalid_request');
        assert.doesNotMatch(page.headers.get('location') ?? '', /evil/);
        assertNothingStored(f, before);
      });
    }

    test('repeated redirect_uri', async () => {
      const url = authorizeUrl(f, validParams(f, client, challenge));
      url.searchParams.append('redirect_uri', REDIRECT_URI);
      assertErrorPage(await new Browser().get(url), 400, 'invalid_request');
    });

    test('redirect_uri omitted while several are registered', async () => {
      const two = await f.addClient({ redirectUris: [REDIRECT_URI, 'https://app.example/cb'] });
      assertErrorPage(
        await go(validParams(f, two, challenge, { redirect_uri: undefined })),
        400,
        'invalid_request',
      );
    });

    test('a JSON caller gets the OAuth error body instead of the page', async () => {
      const page = await new Browser({ headers: { accept: 'application/json' } }).get(
        authorizeUrl(f, validParams(f, client, challenge, { client_id: 'nope' })),
      );
      assert.equal(page.status, 400);
      assert.equal(page.location, undefined);
      assert.equal(JSON.parse(page.body).error, 'invalid_client');
    });
  });

  describe('redirect URI rules that allow', () => {
    test('redirect_uri may be omitted when exactly one is registered (OAuth 2.1 §4.1.1)', async () => {
      const page = await go(validParams(f, client, challenge, { redirect_uri: undefined }));
      assert.equal(page.status, 200);
      assert.equal(page.forms[0]!.action.pathname, '/login');
    });

    test('a loopback IP redirect may use another port (RFC 8252 §7.3), and the code goes there', async () => {
      const browser = new Browser();
      const pair = pkce();
      const other = 'http://127.0.0.1:50123/callback';
      const fresh = await f.addClient();
      const login = await go(validParams(f, fresh, pair.challenge, { redirect_uri: other }), browser);
      assert.equal(login.status, 200);
      const consent = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
      const done = await browser.submit(consent, { button: 'approve' });
      assert.equal(done.location!.origin, 'http://127.0.0.1:50123');
      const token = await exchangeCode(
        f,
        fresh,
        done.location!.searchParams.get('code')!,
        pair.verifier,
        other,
      );
      assert.equal(token.status, 200, JSON.stringify(token.body));
    });

    test('the query of a registered redirect URI is kept (RFC 6749 §3.1.2)', async () => {
      const withQuery = await f.addClient({ redirectUris: ['https://app.example/cb?tenant=a%20b&x=1'] });
      const page = await go(validParams(f, withQuery, challenge, { response_type: 'token' }));
      assert.ok(
        page.location!.href.startsWith('https://app.example/cb?tenant=a%20b&x=1&'),
        page.location!.href,
      );
      assert.equal(page.location!.searchParams.get('error'), 'unsupported_response_type');
    });
  });

  describe('refused by redirect, with error, state and iss', () => {
    const cases: [string, Record<string, string | undefined>, string][] = [
      ['missing response_type', { response_type: undefined }, 'invalid_request'],
      [
        'response_type=token (implicit is gone in OAuth 2.1)',
        { response_type: 'token' },
        'unsupported_response_type',
      ],
      ['missing code_challenge (PKCE required)', { code_challenge: undefined }, 'invalid_request'],
      [
        'missing code_challenge_method means plain, refused (RFC 7636 §4.3)',
        { code_challenge_method: undefined },
        'invalid_request',
      ],
      [
        'code_challenge_method=plain refused by default',
        { code_challenge_method: 'plain' },
        'invalid_request',
      ],
      ['unknown code_challenge_method', { code_challenge_method: 'S512' }, 'invalid_request'],
      ['code_challenge too short', { code_challenge: 'abc' }, 'invalid_request'],
      ['code_challenge with illegal characters', { code_challenge: `${'a'.repeat(42)}=` }, 'invalid_request'],
      ['missing resource (RFC 8707)', { resource: undefined }, 'invalid_target'],
      ['another resource', { resource: 'https://other.example/mcp' }, 'invalid_target'],
      ['resource with another path', { resource: 'RESOURCE/other' }, 'invalid_target'],
      ['resource with a fragment', { resource: 'RESOURCE#x' }, 'invalid_target'],
      ['relative resource', { resource: '/mcp' }, 'invalid_target'],
      ['unsupported scope', { scope: 'files:read admin' }, 'invalid_scope'],
      ['malformed scope', { scope: 'files:read "x"' }, 'invalid_scope'],
    ];
    for (const [why, override, error] of cases) {
      test(why, async () => {
        const before = { ...f.writes };
        const params = validParams(f, client, challenge, override);
        if (params.resource?.startsWith('RESOURCE'))
          params.resource = params.resource.replace('RESOURCE', f.resource);
        const page = await go(params);
        assert.equal(page.status, 302);
        const result = assertErrorRedirect(f, page, error);
        assert.ok((result.get('error_description') ?? '').length > 0);
        assertNothingStored(f, before);
      });
    }

    test('two different resources', async () => {
      const url = authorizeUrl(f, validParams(f, client, challenge));
      url.searchParams.append('resource', 'https://other.example/mcp');
      assertErrorRedirect(f, await new Browser().get(url), 'invalid_target');
    });

    test('a repeated parameter (RFC 6749 §3.1)', async () => {
      const url = authorizeUrl(f, validParams(f, client, challenge));
      url.searchParams.append('code_challenge', challenge);
      assertErrorRedirect(f, await new Browser().get(url), 'invalid_request');
    });

    test('a repeated state is not echoed', async () => {
      const url = authorizeUrl(f, validParams(f, client, challenge));
      url.searchParams.append('state', 'other');
      assertErrorRedirect(f, await new Browser().get(url), 'invalid_request', { state: null });
    });

    test('no state in the request, none in the response', async () => {
      assertErrorRedirect(
        f,
        await go(validParams(f, client, challenge, { state: undefined, resource: undefined })),
        'invalid_target',
        {
          state: null,
        },
      );
    });

    test('state is echoed exactly, whatever it contains', async () => {
      const state = 'a b&c=d/é?#"<>';
      assertErrorRedirect(
        f,
        await go(validParams(f, client, challenge, { state, resource: undefined })),
        'invalid_target',
        {
          state,
        },
      );
    });

    test('a scope outside the client registration (RFC 6749 §3.3)', async () => {
      const narrow = await f.addClient({ scope: 'files:read' });
      assertErrorRedirect(
        f,
        await go(validParams(f, narrow, challenge, { scope: 'files:write' })),
        'invalid_scope',
      );
    });

    test('a client not registered for the code flow', async () => {
      const machine = await f.addClient({ grantTypes: ['client_credentials'], responseTypes: [] });
      assertErrorRedirect(f, await go(validParams(f, machine, challenge)), 'unauthorized_client');
    });
  });

  describe('accepted variants', () => {
    test('resource with upper-case scheme and host (MCP: SHOULD accept)', async () => {
      const url = new URL(f.resource);
      const upper = `HTTP://${url.host.toUpperCase()}${url.pathname}`;
      const page = await go(validParams(f, client, challenge, { resource: upper }));
      assert.equal(page.status, 200, visibleText(page.body));
    });

    test('POST to the authorization endpoint works like GET (RFC 6749 §3.1)', async () => {
      const browser = new Browser();
      const body = new URLSearchParams(validParams(f, client, challenge) as Record<string, string>);
      const page = await browser.request(`${f.issuer}/authorize`, { method: 'POST', body });
      assert.equal(page.status, 200);
      assert.equal(page.forms[0]!.action.pathname, '/login');
      const refused = await browser.request(`${f.issuer}/authorize`, {
        method: 'POST',
        body: new URLSearchParams({
          ...(validParams(f, client, challenge) as Record<string, string>),
          resource: 'x:y',
        }),
      });
      assert.equal(refused.status, 303);
      assert.equal(refused.location!.searchParams.get('error'), 'invalid_target');
    });

    test('a scope inside the registration, and offline_access when asked for', async () => {
      const browser = new Browser();
      const fresh = await f.addClient();
      const login = await go(
        validParams(f, fresh, challenge, { scope: 'files:read offline_access' }),
        browser,
      );
      const consent = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
      const text = visibleText(consent.body);
      assert.match(text, /offline_access/);
      assert.doesNotMatch(text, /files:write/);
    });

    test('plain PKCE when the operator allows it', async () => {
      const g = await startFrontChannel({ auth: { allowPlainPkce: true } });
      try {
        const c = await g.addClient();
        await g.addUser();
        const browser = new Browser();
        const verifierPlain = 'p'.repeat(50);
        const login = await browser.get(
          authorizeUrl(g, validParams(g, c, verifierPlain, { code_challenge_method: undefined })),
        );
        assert.equal(login.status, 200, visibleText(login.body));
        const consent = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
        const done = await browser.submit(consent, { button: 'approve' });
        const token = await exchangeCode(g, c, done.location!.searchParams.get('code')!, verifierPlain);
        assert.equal(token.status, 200, JSON.stringify(token.body));
      } finally {
        await g.close();
      }
    });
  });

  test('an issuer with a path: forms post to the public path, iss is the full issuer', async () => {
    const g = await startFrontChannel({ publicPath: '/tenant' });
    try {
      const c = await g.addClient();
      await g.addUser();
      assert.ok(g.issuer.endsWith('/tenant'));
      const browser = new Browser();
      const pair = pkce();
      const login = await browser.get(authorizeUrl(g, validParams(g, c, pair.challenge)));
      assert.equal(login.forms[0]!.action.pathname, '/tenant/login');
      const consent = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
      assert.equal(consent.forms[0]!.action.pathname, '/tenant/consent');
      const done = await browser.submit(consent, { button: 'approve' });
      assert.equal(done.location!.searchParams.get('iss'), g.issuer);
    } finally {
      await g.close();
    }
  });

  test('rate limited per IP: 429 with Retry-After, nothing else happens', async () => {
    const refuseAll: RateLimiter = { hit: () => ({ ok: false, retryAfterSec: 17 }) };
    const g = await startFrontChannel({ rateLimit: refuseAll });
    try {
      const c = await g.addClient();
      const page = await new Browser().get(authorizeUrl(g, validParams(g, c, challenge)));
      assert.equal(page.status, 429);
      assert.equal(page.headers.get('retry-after'), '17');
      assert.equal(page.location, undefined);
      assertSecurityHeaders(page);
      assert.deepEqual(
        g.events.map((e) => e.type),
        ['rate_limit.hit'],
      );
      const json = await new Browser({ headers: { accept: 'application/json' } }).get(
        authorizeUrl(g, validParams(g, c, challenge)),
      );
      assert.equal(json.status, 429);
      assert.equal(JSON.parse(json.body).error, 'slow_down');
    } finally {
      await g.close();
    }
  });

  test('other methods get 405 with Allow', async () => {
    const res = await fetch(`${f.issuer}/authorize`, { method: 'PUT' });
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow') ?? '', /GET/);
    assert.match(res.headers.get('allow') ?? '', /POST/);
  });
});
