// The sign-in page and POST /login: CSRF (RFC 6749 §10.12), constant answers for wrong passwords and
// unknown users, the browser-session cookie's attributes, rate limits per IP and per username, and the
// session's end (expiry, password change). Every refusal sets no session and stores nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RateLimiter } from '../../src/authserver/rate-limit.ts';
import { setUserPassword } from '../../src/authserver/users.ts';
import type { ClientRecord } from '../../src/storage/types.ts';
import { Browser, type Page, visibleText } from './browser.ts';
import {
  authorizeUrl,
  type FrontChannelFixture,
  PASSWORD,
  pkce,
  startFrontChannel,
  validParams,
} from './front-channel.ts';

const SESSION = 'keyhole-session';

function sessionCookie(page: Page): string | undefined {
  return page.setCookies.find((c) => c.startsWith(`${SESSION}=`) || c.startsWith(`__Host-${SESSION}=`));
}

describe('login', () => {
  let f: FrontChannelFixture;
  let client: ClientRecord;
  const { challenge } = pkce();

  before(async () => {
    f = await startFrontChannel();
    client = await f.addClient({ clientName: 'Acme Notes' });
    await f.addUser('alice');
    await f.addUser('bob');
  });
  after(() => f.close());

  /** A fresh browser on the sign-in page of a fresh client (so no consent is remembered). */
  async function loginPage(
    browser = new Browser(),
    c?: ClientRecord,
  ): Promise<{ browser: Browser; page: Page }> {
    const target = c ?? (await f.addClient());
    const page = await browser.get(authorizeUrl(f, validParams(f, target, challenge)));
    assert.equal(page.status, 200);
    assert.equal(page.forms[0]?.action.pathname, '/login');
    return { browser, page };
  }

  function snapshot() {
    return { writes: { ...f.writes }, events: f.events.length };
  }

  function assertUnchanged(before: ReturnType<typeof snapshot>, events: string[] = []) {
    assert.deepEqual(f.writes, before.writes, 'nothing stored');
    assert.deepEqual(
      f.events.slice(before.events).map((e) => e.type),
      events,
    );
  }

  test('correct password: session cookie set with HttpOnly, SameSite=Lax, Path=/, Max-Age; then consent', async () => {
    const { browser, page } = await loginPage();
    const before = snapshot();
    const next = await browser.submit(page, { fields: { username: 'alice', password: PASSWORD } });
    assert.equal(next.status, 200);
    assert.equal(next.forms[0]?.action.pathname, '/consent');
    const cookie = sessionCookie(next)!;
    assert.ok(cookie, 'session cookie set');
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
    assert.match(cookie, new RegExp(`; Max-Age=${f.ctx.config.loginSessionTtlSec}`));
    assert.doesNotMatch(cookie, /Secure/, 'plain http: no Secure');
    const succeeded = f.events.slice(before.events).find((e) => e.type === 'login.succeeded');
    assert.ok(succeeded);
    assert.equal((succeeded.data as { username: string }).username, 'alice');
    assert.equal((succeeded.data as { ip: string }).ip, '127.0.0.1');
    // Nothing secret in the event.
    assert.doesNotMatch(JSON.stringify(f.events), new RegExp(PASSWORD));
  });

  test('a signed-in browser skips the sign-in page on the next authorization', async () => {
    const { browser, page } = await loginPage();
    await browser.submit(page, { fields: { username: 'alice', password: PASSWORD } });
    const other = await f.addClient({ clientName: 'Second App' });
    const next = await browser.get(authorizeUrl(f, validParams(f, other, challenge)));
    assert.equal(next.status, 200);
    assert.equal(next.forms[0]?.action.pathname, '/consent');
    assert.match(visibleText(next.body), /Second App/);
  });

  for (const [why, username, password, reason] of [
    ['wrong password', 'alice', 'not the password', 'bad_password'],
    ['unknown user', 'mallory', PASSWORD, 'unknown_user'],
    ['username that is not a valid name', '<script>', PASSWORD, 'unknown_user'],
  ] as const) {
    test(`${why}: the same generic answer, no session, login.failed (${reason})`, async () => {
      const { browser, page } = await loginPage();
      const before = snapshot();
      const next = await browser.submit(page, { fields: { username, password } });
      assert.equal(next.status, 400);
      assert.equal(sessionCookie(next), undefined, 'no session');
      assert.match(visibleText(next.body), /Incorrect username or password\./);
      assert.match(next.body, /role="alert"/);
      // The page is the sign-in form again, username kept (escaped), password not echoed.
      assert.equal(next.forms[0]?.action.pathname, '/login');
      assert.equal(next.forms[0]?.fields.find(([n]) => n === 'username')?.[1], username);
      assert.equal(next.forms[0]?.fields.find(([n]) => n === 'password')?.[1], '');
      assert.doesNotMatch(next.body, /<script>/);
      assertUnchanged(before, ['login.failed']);
      const failed = f.events.at(-1)!;
      assert.deepEqual(failed.data, { username, ip: '127.0.0.1', reason });
      // The browser is still signed out.
      const again = await browser.get(authorizeUrl(f, validParams(f, client, challenge)));
      assert.equal(again.forms[0]?.action.pathname, '/login');
    });
  }

  test('a disabled account cannot sign in (reason disabled, same message)', async () => {
    const user = await f.addUser('carol');
    // Disable through the store the way an operator tool would (no API for it yet): replace the record.
    await f.storage.users.delete(user.id);
    await f.storage.users.create({ ...user, disabled: true });
    const { browser, page } = await loginPage();
    const before = snapshot();
    const next = await browser.submit(page, { fields: { username: 'carol', password: PASSWORD } });
    assert.equal(next.status, 400);
    assert.equal(sessionCookie(next), undefined);
    assert.match(visibleText(next.body), /Incorrect username or password\./);
    assertUnchanged(before, ['login.failed']);
    assert.equal((f.events.at(-1)!.data as { reason: string }).reason, 'disabled');
  });

  test('empty username or password: asked again, no event', async () => {
    const { browser, page } = await loginPage();
    const before = snapshot();
    const next = await browser.submit(page, { fields: { username: 'alice', password: '' } });
    assert.equal(next.status, 400);
    assert.equal(sessionCookie(next), undefined);
    assertUnchanged(before);
  });

  describe('CSRF (RFC 6749 §10.12): 403, no session, nothing stored, no event', () => {
    const cases: [string, (browser: Browser, page: Page) => Promise<Page>][] = [
      [
        'missing token',
        (b, p) => b.submit(p, { fields: { username: 'alice', password: PASSWORD, csrf: '' } }),
      ],
      [
        'wrong token',
        (b, p) => b.submit(p, { fields: { username: 'alice', password: PASSWORD, csrf: 'A'.repeat(43) } }),
      ],
      [
        'token from another browser',
        async (b, p) => {
          const other = await loginPage();
          const token = other.page.forms[0]!.fields.find(([n]) => n === 'csrf')![1];
          return b.submit(p, { fields: { username: 'alice', password: PASSWORD, csrf: token } });
        },
      ],
      [
        'no CSRF cookie (a cross-site form post)',
        (b, p) => {
          b.jar.clear();
          return b.submit(p, { fields: { username: 'alice', password: PASSWORD } });
        },
      ],
      [
        'Sec-Fetch-Site: cross-site',
        (b, p) =>
          b.submit(p, {
            fields: { username: 'alice', password: PASSWORD },
            headers: { 'sec-fetch-site': 'cross-site' },
          }),
      ],
    ];
    for (const [why, submit] of cases) {
      test(why, async () => {
        const { browser, page } = await loginPage();
        const before = snapshot();
        const next = await submit(browser, page);
        assert.equal(next.status, 403, visibleText(next.body));
        assert.equal(sessionCookie(next), undefined);
        assert.equal(next.location, undefined);
        assertUnchanged(before);
      });
    }
  });

  describe('the sealed authorization request', () => {
    test('altered: refused, nothing happens', async () => {
      const { browser, page } = await loginPage();
      const sealed = page.forms[0]!.fields.find(([n]) => n === 'request')![1];
      const [data, mac] = sealed.split('.');
      const decoded = JSON.parse(Buffer.from(data!, 'base64url').toString('utf8'));
      decoded.v.p.redirectUri = 'https://evil.example/cb';
      const forged = `${Buffer.from(JSON.stringify(decoded)).toString('base64url')}.${mac}`;
      const before = snapshot();
      const next = await browser.submit(page, {
        fields: { username: 'alice', password: PASSWORD, request: forged },
      });
      assert.equal(next.status, 400);
      assert.equal(next.location, undefined);
      assert.equal(sessionCookie(next), undefined);
      assertUnchanged(before);
    });

    test('expired (after 10 minutes): refused', async () => {
      const { browser, page } = await loginPage();
      f.clock.now += 10 * 60_000 + 1;
      const before = snapshot();
      const next = await browser.submit(page, { fields: { username: 'alice', password: PASSWORD } });
      assert.equal(next.status, 400);
      assert.match(visibleText(next.body), /expired/);
      assert.equal(sessionCookie(next), undefined);
      assertUnchanged(before);
    });
  });

  test('GET /login is not a page: 405', async () => {
    const res = await fetch(`${f.issuer}/login`);
    assert.equal(res.status, 405);
  });

  describe('the session ends', () => {
    test('after loginSessionTtlSec', async () => {
      const { browser, page } = await loginPage();
      await browser.submit(page, { fields: { username: 'bob', password: PASSWORD } });
      f.clock.now += f.ctx.config.loginSessionTtlSec * 1000 + 1;
      const next = await browser.get(authorizeUrl(f, validParams(f, await f.addClient(), challenge)));
      assert.equal(next.forms[0]?.action.pathname, '/login');
    });

    test('when the password changes', async () => {
      const { browser, page } = await loginPage();
      await browser.submit(page, { fields: { username: 'bob', password: PASSWORD } });
      const signedIn = await browser.get(authorizeUrl(f, validParams(f, await f.addClient(), challenge)));
      assert.equal(signedIn.forms[0]?.action.pathname, '/consent');
      await setUserPassword(f.storage, 'bob', 'a brand new password');
      const next = await browser.get(authorizeUrl(f, validParams(f, await f.addClient(), challenge)));
      assert.equal(next.forms[0]?.action.pathname, '/login');
      // And the old password no longer works, the new one does.
      const wrong = await browser.submit(next, { fields: { username: 'bob', password: PASSWORD } });
      assert.equal(wrong.status, 400);
      const right = await browser.submit(wrong, {
        fields: { username: 'bob', password: 'a brand new password' },
      });
      assert.equal(right.forms[0]?.action.pathname, '/consent');
    });

    test('a forged session cookie is ignored', async () => {
      const { browser, page } = await loginPage();
      await browser.submit(page, { fields: { username: 'alice', password: PASSWORD } });
      const cookie = browser.jar.get(new URL(f.issuer).origin, SESSION)!;
      const [data, mac] = cookie.value.split('.');
      const claims = JSON.parse(Buffer.from(data!, 'base64url').toString('utf8'));
      claims.e += 365 * 24 * 3600_000;
      browser.jar.store(new URL(f.issuer), [
        `${SESSION}=${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${mac}; Path=/`,
      ]);
      const next = await browser.get(authorizeUrl(f, validParams(f, await f.addClient(), challenge)));
      assert.equal(next.forms[0]?.action.pathname, '/login');
    });
  });
});

describe('login rate limits (RFC 6749 §10.10)', () => {
  test('per username: 429 with Retry-After, the password is not even checked', async () => {
    // Refuses only the per-username key of alice, so the per-IP limit is out of the way.
    const limiter: RateLimiter = {
      hit: (key) => (key === 'login|user|alice' ? { ok: false, retryAfterSec: 42 } : { ok: true }),
    };
    const f = await startFrontChannel({ rateLimit: limiter });
    try {
      const client = await f.addClient();
      await f.addUser('alice');
      await f.addUser('bob');
      const browser = new Browser();
      const page = await browser.get(authorizeUrl(f, validParams(f, client, pkce().challenge)));
      const limited = await browser.submit(page, { fields: { username: 'alice', password: PASSWORD } });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('retry-after'), '42');
      assert.equal(sessionCookie(limited), undefined);
      assert.deepEqual(
        f.events.map((e) => [e.type, e.data]),
        [['rate_limit.hit', { endpoint: 'login', key: 'user', ip: '127.0.0.1', username: 'alice' }]],
      );
      // Another account from the same address is not affected.
      const ok = await browser.submit(limited, { fields: { username: 'bob', password: PASSWORD } });
      assert.equal(ok.status, 200);
      assert.equal(ok.forms[0]?.action.pathname, '/consent');
    } finally {
      await f.close();
    }
  });

  test('per IP, with the configured limit', async () => {
    const f = await startFrontChannel({ auth: { rateLimitPerMinute: 2 } });
    try {
      const client = await f.addClient();
      await f.addUser('alice');
      const browser = new Browser();
      // The authorization request itself counts against /authorize, not login.
      const page = await browser.get(authorizeUrl(f, validParams(f, client, pkce().challenge)));
      const first = await browser.submit(page, {
        fields: { username: 'alice', password: 'wrong password 1' },
      });
      const second = await browser.submit(first, {
        fields: { username: 'alice', password: 'wrong password 2' },
      });
      assert.equal(first.status, 400);
      assert.equal(second.status, 400);
      const third = await browser.submit(second, { fields: { username: 'alice', password: PASSWORD } });
      assert.equal(third.status, 429);
      assert.equal(sessionCookie(third), undefined);
      assert.ok(Number(third.headers.get('retry-after')) >= 1);
      assert.equal(f.events.at(-1)!.type, 'rate_limit.hit');
    } finally {
      await f.close();
    }
  });
});

describe('Secure cookies', () => {
  test('secureCookies: Secure and the __Host- prefix on the session and CSRF cookies', async () => {
    const f = await startFrontChannel({ auth: { secureCookies: true } });
    try {
      const client = await f.addClient();
      const page = await new Browser().get(authorizeUrl(f, validParams(f, client, pkce().challenge)));
      const csrf = page.setCookies.find((c) => c.startsWith('__Host-keyhole-csrf='));
      assert.ok(csrf, page.setCookies.join('\n'));
      assert.match(csrf, /; Secure/);
      assert.match(csrf, /; Path=\//);
      assert.match(csrf, /; HttpOnly/);
      assert.doesNotMatch(csrf, /Domain=/i);
    } finally {
      await f.close();
    }
  });
});
