// Disabling a user (issue "user disable API"): against a real Keyhole (createKeyhole: SQLite, the
// demo app, the real guard), a disabled user's access tokens are refused by the guard, refresh answers
// invalid_grant (RFC 6749 §5.2), the browser session no longer counts and the sign-in page answers as
// for a wrong password (no more is revealed than before); enabled again, the user signs in and gets
// new tokens, while what disable revoked stays revoked. Also: idempotence, unknown users, a disable
// cut short by a storage failure that a second run completes, and the audit rows the commands write.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  createUser,
  type DisableOptions,
  disableUser,
  enableUser,
  UserError,
} from '../../src/authserver/users.ts';
import type { CliIo } from '../../src/cli/run.ts';
import { run } from '../../src/cli/users.ts';
import type { SecurityEvent } from '../../src/observability/events.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/types.ts';
import {
  addUser,
  assertNotLogged,
  callTool,
  challengeError,
  obtainTokens,
  PASSWORD,
  pkce,
  REDIRECT_URI,
  type RunningKeyhole,
  registerClient,
  startKeyhole,
} from '../e2e/harness.ts';
import { Browser, type Page, visibleText } from './browser.ts';

/** The access-token lifetime (default) plus the guard's leeway, as `keyhole users disable` uses. */
const REVOCATION_TTL_SEC = 3600 + 120;

describe('a disabled user', () => {
  let k: RunningKeyhole;
  const events: SecurityEvent[] = [];
  let options: DisableOptions;

  before(async () => {
    k = await startKeyhole();
    k.keyhole.auth!.events.on((e) => events.push(e));
    // What an embedding application would pass: the server's own bus, so its guard learns at once.
    options = { revocationTtlSec: REVOCATION_TTL_SEC, events: k.keyhole.auth!.events };
    await addUser(k, 'erin');
    await addUser(k, 'frank');
  });
  after(() => k.stop({ remove: true }));

  async function echo(token: string): Promise<Response> {
    const res = await callTool(k, token, 'echo', { text: 'hi' });
    await res.body?.cancel();
    return res;
  }

  async function refresh(refreshToken: string, clientId: string) {
    const res = await fetch(`${k.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: clientId,
      }),
    });
    return { status: res.status, cacheControl: res.headers.get('cache-control'), body: await res.json() };
  }

  /** The sign-in page of a new authorization request, in `browser`. */
  async function authorizePage(browser: Browser): Promise<Page> {
    const url = new URL(`${k.issuer}/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: await registerClient(k),
      redirect_uri: REDIRECT_URI,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      resource: k.mcpUrl.href,
      state: randomBytes(8).toString('hex'),
    }).toString();
    return browser.navigate(url);
  }

  const isLoginForm = (page: Page) => page.forms[0]?.fields.some(([n]) => n === 'password') === true;
  const since = (n: number) => events.slice(n).map((e) => [e.type, e.data]);

  test('is refused everywhere at once; enabled, signs in again and gets new tokens', async () => {
    const browser = new Browser();
    const first = await obtainTokens(k, { username: 'erin', browser });
    // Signed in: a second client is authorized from the browser session, without the sign-in page.
    const second = await obtainTokens(k, { username: 'erin', browser });
    const bystander = await obtainTokens(k, { username: 'frank' });
    for (const t of [first, second, bystander]) assert.equal((await echo(t.access_token)).status, 200);

    const mark = events.length;
    const result = await disableUser(k.storage, 'erin', options);
    assert.equal(result.changed, true);
    assert.equal(result.grantsRevoked, 2);
    const erin = await k.storage.users.getByUsername('erin');
    assert.equal(erin?.disabled, true);
    const grantEvents = events.slice(mark + 1);
    assert.deepEqual(since(mark)[0], ['user.disabled', { userId: erin!.id, username: 'erin' }]);
    assert.deepEqual(
      grantEvents.map((e) => [
        e.type,
        (e.data as { what: string; reason: string }).what,
        (e.data as { reason: string }).reason,
      ]),
      [
        ['token.revoked', 'grant', 'user_disabled'],
        ['token.revoked', 'grant', 'user_disabled'],
      ],
    );

    // The guard refuses the access tokens it had verified and cached (RFC 6750 §3.1 invalid_token)…
    for (const t of [first, second]) {
      const res = await echo(t.access_token);
      assert.equal(res.status, 401);
      assert.equal(challengeError(res), 'invalid_token');
    }
    assert.equal((await echo(bystander.access_token)).status, 200, 'other users are untouched');
    // …the refresh tokens are dead (RFC 6749 §5.2 invalid_grant)…
    for (const t of [first, second]) {
      const r = await refresh(t.refresh_token!, t.clientId);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_grant');
      assert.equal(r.cacheControl, 'no-store');
    }
    // …the browser session no longer counts: a new authorization asks to sign in…
    const page = await authorizePage(browser);
    assert.ok(isLoginForm(page), `expected the sign-in page, got: ${visibleText(page.body)}`);
    // …and signing in with the right password gets exactly the answer a wrong password gets.
    const refused = await browser.submit(page, { fields: { username: 'erin', password: PASSWORD } });
    const other = new Browser();
    const wrong = await other.submit(await authorizePage(other), {
      fields: { username: 'erin', password: 'not the password' },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.status, wrong.status);
    assert.equal(visibleText(refused.body), visibleText(wrong.body));
    assert.match(visibleText(refused.body), /Incorrect username or password\./);
    assert.doesNotMatch(visibleText(refused.body), /disabled/i);
    assert.ok(isLoginForm(refused));
    const failed = events.filter((e) => e.type === 'login.failed').map((e) => e.data);
    assert.deepEqual(failed.slice(-2), [
      { username: 'erin', ip: '127.0.0.1', reason: 'disabled' },
      { username: 'erin', ip: '127.0.0.1', reason: 'bad_password' },
    ]);

    // Disabling again changes nothing and says so.
    const before = events.length;
    assert.deepEqual(await disableUser(k.storage, 'erin', options), {
      user: erin,
      changed: false,
      grantsRevoked: 0,
    });
    assert.equal(events.length, before, 'no event for a repeat');

    // Enabled: the old tokens stay dead, a new sign-in gets working tokens.
    const enabled = await enableUser(k.storage, 'erin', { events: k.keyhole.auth!.events });
    assert.equal(enabled.changed, true);
    assert.deepEqual(since(before), [['user.enabled', { userId: erin!.id, username: 'erin' }]]);
    assert.equal((await enableUser(k.storage, 'erin')).changed, false, 'enabling again is a no-op');
    assert.equal((await echo(first.access_token)).status, 401, 'revoked grants are not resurrected');
    assert.equal((await refresh(first.refresh_token!, first.clientId)).body.error, 'invalid_grant');
    const fresh = await obtainTokens(k, { username: 'erin', browser: new Browser() });
    assert.equal((await echo(fresh.access_token)).status, 200);
    const renewed = await refresh(fresh.refresh_token!, fresh.clientId);
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal((await echo(renewed.body.access_token)).status, 200);

    // The audit trail has it all (the server's subscriber wrote those rows many requests ago), and no
    // secret reached the log.
    const types = (await k.storage.audit.tail(100)).map((r) => r.type);
    for (const t of ['user.disabled', 'user.enabled', 'token.revoked']) assert.ok(types.includes(t), t);
    assertNotLogged(k, [
      PASSWORD,
      first.access_token,
      first.refresh_token,
      second.access_token,
      second.refresh_token,
      fresh.access_token,
      fresh.refresh_token,
    ]);
  });

  test('an unknown user: not_found, nothing stored, nothing emitted', async () => {
    const users = await k.storage.users.list();
    const mark = events.length;
    for (const action of [
      disableUser(k.storage, 'nobody', options),
      enableUser(k.storage, 'nobody', options),
    ]) {
      await assert.rejects(action, (e: unknown) => e instanceof UserError && e.code === 'not_found');
    }
    assert.deepEqual(await k.storage.users.list(), users);
    assert.equal(events.length, mark);
  });
});

describe('a disable cut short by a storage failure', () => {
  test('leaves the account disabled; running it again revokes the grants left live', async () => {
    const memory = await openStorage({ kind: 'memory' });
    const t = 1_700_000_000_000;
    await memory.users.create({ id: 'u1', username: 'erin', passwordHash: 'scrypt$x', createdAt: t });
    for (const id of ['g1', 'g2', 'g3']) {
      await memory.grants.create({
        id,
        clientId: 'c1',
        subject: 'u1',
        scopes: [],
        resource: 'https://mcp.example/mcp',
        authTime: t,
        createdAt: t,
        expiresAt: t + 86_400_000,
      });
    }
    // The revocation store (Redis, say) becomes unreachable after the first write.
    let writes = 0;
    const failing: Storage = {
      ...memory,
      users: memory.users,
      grants: memory.grants,
      revocations: {
        revoke: (id, expiresAt) => {
          if (++writes > 1) return Promise.reject(new Error('revocation store unreachable'));
          return memory.revocations.revoke(id, expiresAt);
        },
        isRevoked: (id, now) => memory.revocations.isRevoked(id, now),
        listActive: (now) => memory.revocations.listActive(now),
      },
    };
    const options = { revocationTtlSec: 60, now: () => t };
    await assert.rejects(disableUser(failing, 'erin', options), /unreachable/);
    assert.equal((await memory.users.get('u1'))?.disabled, true, 'no sign-in, no new tokens meanwhile');
    // Entry first, record second: the grant whose entry failed still lists as live.
    assert.deepEqual(
      (await memory.grants.listBySubject('u1', t)).map((g) => [g.id, g.revokedReason]),
      [
        ['g1', 'user_disabled'],
        ['g2', undefined],
        ['g3', undefined],
      ],
    );

    const again = await disableUser(memory, 'erin', options);
    assert.equal(again.changed, false);
    assert.equal(again.grantsRevoked, 2);
    for (const id of ['g1', 'g2', 'g3']) {
      assert.equal((await memory.grants.get(id, t))?.revokedReason, 'user_disabled');
      assert.equal(await memory.revocations.isRevoked(`grant:${id}`, t + 59_000), true);
    }
    await memory.close();
  });
});

describe('keyhole users disable|enable|remove (in process): output and audit rows', () => {
  const t = 1_700_000_000_000;

  function io() {
    const out: string[] = [];
    const err: string[] = [];
    const value: CliIo = {
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
      env: {},
      cwd: process.cwd(),
    };
    return { io: value, out: () => out.join(''), err: () => err.join('') };
  }

  async function withGrant(storage: Storage, grantId: string): Promise<string> {
    const user = await createUser(storage, 'erin', PASSWORD);
    await storage.grants.create({
      id: grantId,
      clientId: 'c1',
      subject: user.id,
      scopes: [],
      resource: 'https://mcp.example/mcp',
      authTime: t,
      createdAt: t,
      expiresAt: t + 86_400_000,
    });
    return user.id;
  }

  const rows = async (storage: Storage) =>
    (await storage.audit.tail(20)).map((r) => [r.type, r.data, r.time]);

  test('disable revokes and audits the account and each grant; a repeat says so and audits nothing', async () => {
    const storage = await openStorage({ kind: 'memory', now: () => t });
    const userId = await withGrant(storage, 'g1');
    const first = io();
    assert.equal(await run(['disable', 'erin'], first.io, { storage, now: () => t }), 0, first.err());
    assert.equal(first.out(), 'Disabled user erin and revoked 1 grant(s)\n');
    // The revocation outlives every access token minted before it: default lifetime + leeway.
    assert.equal(await storage.revocations.isRevoked('grant:g1', t + (3600 + 119) * 1000), true);
    const audited = [
      ['user.disabled', { userId, username: 'erin' }, t],
      ['token.revoked', { clientId: 'c1', what: 'grant', id: 'g1', reason: 'user_disabled' }, t],
    ];
    assert.deepEqual(await rows(storage), audited);

    const again = io();
    assert.equal(await run(['disable', 'erin'], again.io, { storage, now: () => t }), 0, again.err());
    assert.equal(again.out(), 'User erin was already disabled\n');
    assert.deepEqual(await rows(storage), audited);

    const enable = io();
    assert.equal(await run(['enable', 'erin'], enable.io, { storage, now: () => t }), 0, enable.err());
    assert.deepEqual((await rows(storage)).at(-1), ['user.enabled', { userId, username: 'erin' }, t]);
    assert.equal((await storage.grants.get('g1', t))?.revokedReason, 'user_disabled', 'still revoked');
  });

  test('remove audits each grant it revokes, then the deletion', async () => {
    const storage = await openStorage({ kind: 'memory', now: () => t });
    const userId = await withGrant(storage, 'g2');
    const removed = io();
    assert.equal(await run(['remove', 'erin'], removed.io, { storage, now: () => t }), 0, removed.err());
    assert.equal(removed.out(), 'Removed user erin and revoked 1 grant(s)\n');
    assert.deepEqual(await rows(storage), [
      ['token.revoked', { clientId: 'c1', what: 'grant', id: 'g2', reason: 'user_deleted' }, t],
      ['user.deleted', { userId }, t],
    ]);
  });
});
