// The consent page and POST /consent: what the person is shown (client name escaped, redirect host,
// client id, scopes, warnings), Approve and Deny, consent remembered per user, client and redirect URI
// (MCP security best practices "Confused Deputy"), CSRF, and the session it needs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientRecord } from '../../src/storage/types.ts';
import { Browser, type Page, visibleText } from './browser.ts';
import {
  assertSecurityHeaders,
  authorizeUrl,
  exchangeCode,
  type FrontChannelFixture,
  PASSWORD,
  pkce,
  REDIRECT_URI,
  startFrontChannel,
  validParams,
} from './front-channel.ts';

describe('consent', () => {
  let f: FrontChannelFixture;
  const { verifier, challenge } = pkce();

  before(async () => {
    f = await startFrontChannel({ toolScopes: ['notes:read', 'notes:write'] });
    await f.addUser('alice');
    await f.addUser('bob');
  });
  after(() => f.close());

  /** Signs `username` in through `client`'s authorization request and returns the page after login. */
  async function signIn(
    client: ClientRecord,
    extra: Record<string, string | undefined> = {},
    username = 'alice',
    browser = new Browser(),
  ): Promise<{ browser: Browser; page: Page }> {
    const login = await browser.get(authorizeUrl(f, validParams(f, client, challenge, extra)));
    assert.equal(login.forms[0]?.action.pathname, '/login', visibleText(login.body));
    const page = await browser.submit(login, { fields: { username, password: PASSWORD } });
    return { browser, page };
  }

  const snapshot = () => ({ writes: { ...f.writes }, events: f.events.length });

  test('the page shows the name, the redirect host, the client id and the scopes; Approve and Deny buttons', async () => {
    const client = await f.addClient({
      clientName: 'Acme Notes',
      redirectUris: ['https://notes.example.com/oauth/cb'],
    });
    const { page } = await signIn(client, { scope: 'notes:read' });
    assert.equal(page.status, 200);
    assertSecurityHeaders(page);
    const text = visibleText(page.body);
    assert.match(text, /Authorize Acme Notes \?/);
    assert.match(page.body, /<p class="host">notes\.example\.com<\/p>/, 'the redirect host, prominently');
    assert.match(text, new RegExp(client.clientId));
    assert.match(text, /notes:read/);
    assert.doesNotMatch(text, /notes:write/);
    assert.match(text, /alice/);
    assert.doesNotMatch(text, /program on your own computer/, 'no loopback warning for an https redirect');
    const form = page.forms[0]!;
    assert.deepEqual(
      form.buttons.map((b) => [b.name, b.value]),
      [
        ['decision', 'deny'],
        ['decision', 'approve'],
        ['decision', 'switch'],
      ],
    );
    // Enter in the form submits the first button: the safe one.
    assert.equal(form.buttons[0]!.value, 'deny');
    // CSP form-action lets the POST's redirect reach the client.
    assert.match(
      page.headers.get('content-security-policy')!,
      /form-action 'self' https:\/\/notes\.example\.com;/,
    );
  });

  test('a loopback redirect URI gets a warning (MCP security considerations "Localhost Redirect URI Risks")', async () => {
    const client = await f.addClient();
    const { page } = await signIn(client);
    assert.match(visibleText(page.body), /127\.0\.0\.1:9876/);
    assert.match(visibleText(page.body), /program on your own computer/);
  });

  test('a metadata-document client: its name is marked as not verified', async () => {
    const client = await f.addClient({
      clientId: 'https://app.example.com/oauth/client.json',
      source: 'cimd',
      clientName: 'Claimed Name',
      redirectUris: ['https://app.example.com/cb'],
    });
    const { page } = await signIn(client);
    const text = visibleText(page.body);
    assert.match(text, /Claimed Name/);
    assert.match(text, /https:\/\/app\.example\.com\/oauth\/client\.json/);
    assert.match(text, /not verified/);
    assert.match(page.body, /<p class="host">app\.example\.com<\/p>/);
  });

  test('a private-use scheme redirect: the app scheme is shown and allowed as form-action', async () => {
    const client = await f.addClient({ redirectUris: ['com.example.notes:/oauth'] });
    const { browser, page } = await signIn(client);
    assert.match(page.body, /<p class="host">com\.example\.notes:<\/p>/);
    assert.match(page.headers.get('content-security-policy')!, /form-action 'self' com\.example\.notes:;/);
    const done = await browser.submit(page, { button: 'approve' });
    assert.equal(done.status, 303);
    assert.ok(done.headers.get('location')!.startsWith('com.example.notes:/oauth?code='));
  });

  test('hostile client name and redirect URI are escaped on the consent and sign-in pages', async () => {
    const hostile = `<script>alert(1)</script><img src=x onerror="alert(2)">'&`;
    const client = await f.addClient({
      clientName: hostile,
      redirectUris: ['https://evil.example/cb?a="><script>alert(3)</script>'],
    });
    const browser = new Browser();
    const login = await browser.get(authorizeUrl(f, validParams(f, client, challenge)));
    const page = await browser.submit(login, { fields: { username: 'alice', password: PASSWORD } });
    for (const p of [login, page]) {
      assert.doesNotMatch(p.body, /<script>/);
      assert.doesNotMatch(p.body, /<img/);
      assert.match(
        p.body,
        /&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=&quot;alert\(2\)&quot;&gt;&#39;&amp;/,
      );
      // What a person reads is the name as registered.
      assert.ok(visibleText(p.body).includes(hostile));
    }
    assert.match(page.body, /a=&quot;&gt;&lt;script&gt;alert\(3\)/);
  });

  test('Approve: consent stored, consent.granted, code issued with state and iss', async () => {
    const client = await f.addClient();
    const { browser, page } = await signIn(client, { scope: 'notes:read' });
    const before = snapshot();
    const done = await browser.submit(page, { button: 'approve' });
    assert.equal(done.status, 303);
    assert.equal(done.location!.searchParams.get('state'), 'st-123');
    assert.equal(done.location!.searchParams.get('iss'), f.issuer);
    assert.deepEqual(f.writes, { codes: before.writes.codes + 1, consents: before.writes.consents + 1 });
    const alice = (await f.storage.users.getByUsername('alice'))!;
    const consent = await f.storage.consents.get(alice.id, client.clientId, REDIRECT_URI);
    assert.deepEqual(consent?.scopes, ['notes:read']);
    assert.deepEqual(
      f.events.slice(before.events).map((e) => [e.type, e.data]),
      [
        [
          'consent.granted',
          { userId: alice.id, clientId: client.clientId, redirectUri: REDIRECT_URI, scopes: ['notes:read'] },
        ],
      ],
    );
    const token = await exchangeCode(f, client, done.location!.searchParams.get('code')!, verifier);
    assert.equal(token.status, 200);
    assert.equal(token.body.scope, 'notes:read');
  });

  test('Deny: access_denied with state and iss, consent.denied, nothing stored', async () => {
    const client = await f.addClient();
    const { browser, page } = await signIn(client);
    const before = snapshot();
    const done = await browser.submit(page, { button: 'deny' });
    assert.equal(done.status, 303);
    assertSecurityHeaders(done);
    const location = done.location!;
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'st-123');
    assert.equal(location.searchParams.get('iss'), f.issuer);
    assert.equal(location.searchParams.get('code'), null);
    assert.deepEqual(f.writes, before.writes);
    const alice = (await f.storage.users.getByUsername('alice'))!;
    assert.equal(await f.storage.consents.get(alice.id, client.clientId, REDIRECT_URI), undefined);
    assert.deepEqual(
      f.events.slice(before.events).map((e) => e.type),
      ['consent.denied'],
    );
  });

  describe('remembered consent', () => {
    test('a second authorization for the same client, redirect URI and scopes skips the page', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client, { scope: 'notes:read notes:write' });
      await browser.submit(page, { button: 'approve' });
      const pair = pkce();
      const again = await browser.get(
        authorizeUrl(f, validParams(f, client, pair.challenge, { scope: 'notes:read', state: 'second' })),
      );
      assert.equal(again.status, 302, 'straight back to the client');
      assertSecurityHeaders(again);
      assert.equal(again.location!.searchParams.get('state'), 'second');
      assert.equal(again.location!.searchParams.get('iss'), f.issuer);
      const token = await exchangeCode(f, client, again.location!.searchParams.get('code')!, pair.verifier);
      assert.equal(token.status, 200);
      assert.equal(token.body.scope, 'notes:read');
    });

    test('more scopes than consented: asked again; approving keeps the earlier scopes too', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client, { scope: 'notes:read' });
      await browser.submit(page, { button: 'approve' });
      const more = await browser.get(
        authorizeUrl(f, validParams(f, client, challenge, { scope: 'notes:write' })),
      );
      assert.equal(more.status, 200);
      assert.equal(more.forms[0]?.action.pathname, '/consent');
      await browser.submit(more, { button: 'approve' });
      const alice = (await f.storage.users.getByUsername('alice'))!;
      const consent = await f.storage.consents.get(alice.id, client.clientId, REDIRECT_URI);
      assert.deepEqual(consent?.scopes.sort(), ['notes:read', 'notes:write']);
    });

    test('another redirect URI of the same client: asked again', async () => {
      const client = await f.addClient({ redirectUris: [REDIRECT_URI, 'https://app.example/cb'] });
      const { browser, page } = await signIn(client);
      await browser.submit(page, { button: 'approve' });
      const other = await browser.get(
        authorizeUrl(f, validParams(f, client, challenge, { redirect_uri: 'https://app.example/cb' })),
      );
      assert.equal(other.status, 200);
      assert.equal(other.forms[0]?.action.pathname, '/consent');
    });

    test("another user: asked again (consent is the user's)", async () => {
      const client = await f.addClient();
      const first = await signIn(client, {}, 'alice');
      await first.browser.submit(first.page, { button: 'approve' });
      const { page } = await signIn(client, {}, 'bob');
      assert.equal(page.forms[0]?.action.pathname, '/consent');
    });
  });

  describe('refusals: nothing stored, no event', () => {
    test('bad CSRF token: 403', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client);
      const before = snapshot();
      const done = await browser.submit(page, { button: 'approve', fields: { csrf: 'x'.repeat(43) } });
      assert.equal(done.status, 403);
      assert.equal(done.location, undefined);
      assert.deepEqual(f.writes, before.writes);
      assert.equal(f.events.length, before.events);
    });

    test('a cross-site post (no CSRF cookie sent, SameSite=Lax): 403', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client);
      const before = snapshot();
      // The attacker's page can copy the form but the browser does not send our cookies with it.
      const attacker = new Browser();
      const done = await attacker.submit(page, {
        button: 'approve',
        headers: { 'sec-fetch-site': 'cross-site' },
      });
      assert.equal(done.status, 403);
      assert.deepEqual(f.writes, before.writes);
      assert.equal(f.events.length, before.events);
      void browser;
    });

    test('no session any more: the sign-in page instead, nothing stored', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client);
      const origin = new URL(f.issuer).origin;
      const csrf = browser.jar.get(origin, 'keyhole-csrf')!;
      browser.jar.clear();
      browser.jar.store(new URL(f.issuer), [`keyhole-csrf=${csrf.value}; Path=/`]);
      const before = snapshot();
      const next = await browser.submit(page, { button: 'approve' });
      assert.equal(next.status, 200);
      assert.equal(next.forms[0]?.action.pathname, '/login');
      assert.match(visibleText(next.body), /session has ended/);
      assert.deepEqual(f.writes, before.writes);
    });

    test('a decision other than approve or deny: 400', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client);
      const before = snapshot();
      const next = await browser.submit(page, { fields: { decision: 'maybe' }, button: 'approve' });
      // The pressed button's value is appended after the field: the form then has two decisions.
      assert.equal(next.status, 400);
      assert.deepEqual(f.writes, before.writes);
      const bare = new URLSearchParams(page.forms[0]!.fields);
      bare.set('decision', 'maybe');
      const odd = await browser.request(page.forms[0]!.action, {
        method: 'POST',
        body: bare,
        headers: { 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(odd.status, 400);
      assert.deepEqual(f.writes, before.writes);
    });

    test('a consent form shown to one user cannot be approved by another signed in since', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client, {}, 'alice');
      // Same browser, another authorization: alice is signed in; "Sign in as someone else", then bob.
      const other = await browser.get(authorizeUrl(f, validParams(f, await f.addClient(), challenge)));
      assert.match(visibleText(other.body), /as alice/);
      const login = await browser.submit(other, { button: 'switch' });
      assert.equal(login.forms[0]?.action.pathname, '/login');
      assert.ok(
        login.setCookies.some((c) => /^keyhole-session=;.*Max-Age=0/.test(c)),
        'session cookie removed',
      );
      const asBob = await browser.submit(login, { fields: { username: 'bob', password: PASSWORD } });
      assert.match(visibleText(asBob.body), /as bob/);
      const before = snapshot();
      const next = await browser.submit(page, { button: 'approve' });
      assert.equal(next.status, 200, 'asked again, for bob');
      assert.match(visibleText(next.body), /as bob/);
      assert.deepEqual(f.writes, before.writes);
    });

    test('the client was removed meanwhile: error page, no redirect', async () => {
      const client = await f.addClient();
      const { browser, page } = await signIn(client);
      await f.storage.clients.delete(client.clientId);
      const before = snapshot();
      const next = await browser.submit(page, { button: 'approve' });
      assert.equal(next.status, 400);
      assert.equal(next.location, undefined);
      assert.deepEqual(f.writes, before.writes);
    });
  });
});
