// Persistence across a restart: Keyhole is stopped and started again on the same data directory (and
// port, so the issuer and resource stay the same), and what the first run created still holds — the
// registered client, refresh tokens (a refresh works), revocations (a revoked token is still refused),
// the signing keys (an access token issued before the restart is still accepted, the JWKS is the same)
// and the audit trail.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../authserver/browser.ts';
import {
  addUser,
  callTool,
  challengeError,
  obtainTokens,
  pkce,
  REDIRECT_URI,
  type RunningKeyhole,
  startKeyhole,
  type Tokens,
} from './harness.ts';

async function status(
  k: RunningKeyhole,
  token: string,
): Promise<{ status: number; error: string | undefined }> {
  const res = await callTool(k, token, 'echo', { text: 'still here?' });
  await res.arrayBuffer();
  return { status: res.status, error: challengeError(res) };
}

async function jwks(k: RunningKeyhole): Promise<unknown> {
  return (await fetch(`${k.issuer}/jwks.json`)).json();
}

describe('restart on the same data directory', () => {
  let first: RunningKeyhole;
  let second: RunningKeyhole;
  let clientId: string;
  let kept: Tokens;
  let revoked: Tokens;
  let keysBefore: unknown;
  /** alice's browser: signed in, consent given, before the restart. */
  const browser = new Browser();

  before(async () => {
    first = await startKeyhole();
    await addUser(first, 'alice');
    ({ clientId, ...kept } = await obtainTokens(first, { username: 'alice', browser }));
    revoked = await obtainTokens(first, { clientId, username: 'alice' });
    const res = await fetch(`${first.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: revoked.access_token, client_id: clientId }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await status(first, revoked.access_token), { status: 401, error: 'invalid_token' });
    assert.deepEqual(await status(first, kept.access_token), { status: 200, error: undefined });
    keysBefore = await jwks(first);
    await first.stop();
    // Same data directory and port: the same issuer and resource identifier.
    second = await startKeyhole({ dataDir: first.dataDir, flags: { port: first.mcpUrl.port } });
    assert.equal(second.issuer, first.issuer);
    assert.equal(second.mcpUrl.href, first.mcpUrl.href);
  });
  after(() => second?.stop({ remove: true }));

  test('the signing keys survive: a token from before the restart is accepted; the JWKS is unchanged', async () => {
    assert.deepEqual(await jwks(second), keysBefore);
    assert.deepEqual(await status(second, kept.access_token), { status: 200, error: undefined });
  });

  test('revocations survive: the revoked token is still refused', async () => {
    assert.deepEqual(await status(second, revoked.access_token), { status: 401, error: 'invalid_token' });
  });

  test('the client and its refresh token survive: the refresh works and the new token calls tools', async () => {
    assert.equal((await second.storage.clients.get(clientId))?.source, 'dynamic');
    const res = await fetch(`${second.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: kept.refresh_token!,
        client_id: clientId,
      }),
    });
    const body = (await res.json()) as Tokens;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.notEqual(body.refresh_token, kept.refresh_token);
    assert.deepEqual(await status(second, body.access_token), { status: 200, error: undefined });
  });

  test("the browser's sign-in and the remembered consent survive: the authorization comes straight back", async () => {
    const url = new URL(`${second.issuer}/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
      resource: second.mcpUrl.href,
      state: 'after-restart',
    }).toString();
    const page = await browser.navigate(url);
    assert.ok(page.status >= 300 && page.status < 400, `no page shown, got ${page.status}`);
    assert.equal(`${page.location?.origin}${page.location?.pathname}`, REDIRECT_URI);
    assert.ok(page.location?.searchParams.get('code'));
    assert.equal(page.location?.searchParams.get('state'), 'after-restart');
  });

  test('the user and the audit trail survive', async () => {
    assert.ok(await second.storage.users.getByUsername('alice'));
    const rows = await second.storage.audit.tail(1000);
    const types = new Set(rows.map((r) => r.type));
    for (const t of [
      'client.registered',
      'login.succeeded',
      'consent.granted',
      'token.issued',
      'token.revoked',
    ]) {
      assert.ok(types.has(t), `audit has ${t}: ${[...types].join(', ')}`);
    }
  });
});
