// Issue #4 "Replicas": three `keyhole serve` processes sharing one PostgreSQL database and one Redis
// prefix, behind a round-robin balancer with no sticky sessions. Each step of a full OAuth flow lands
// on a different replica; a revocation, a key rotation or a user's removal or disabling on one process
// takes effect on every replica within a second; fifty parallel refreshes of one refresh token spread over the
// replicas produce exactly one success; a replica killed in the middle of a flow loses nothing.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../../src/authserver/users.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/types.ts';
import { Browser } from '../authserver/browser.ts';
import { jwtClaims } from '../authserver/front-channel.ts';
import { complete } from '../cli/helpers.ts';
import {
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  REDIS_URL,
  redisPrefix,
} from '../support/databases.ts';
import { ReplicaSet } from '../support/replicas.ts';
import { SseReader } from '../transport/http/helpers.ts';
import {
  authorizeInBrowser,
  callTool,
  challengeError,
  echoOn,
  everyReplicaWithin,
  obtainTokens,
  PASSWORD,
  pkce,
  REDIRECT_URI,
  registerClient,
} from './harness.ts';

const REPLICAS = 3;
/** Issue #4: a revocation, key rotation or user removal reaches every replica within one second. */
const PROPAGATION_MS = 1000;

let databaseUrl: string;
let prefix: string;
let set: ReplicaSet;
let storage: Storage;

before(async () => {
  databaseUrl = await createDatabase();
  prefix = redisPrefix();
  set = await ReplicaSet.start({ count: REPLICAS, databaseUrl, redisUrl: REDIS_URL, redisPrefix: prefix });
  // The test's own view of the shared storage, as an operator's tool would have.
  storage = await openStorage({
    kind: 'postgres',
    url: databaseUrl,
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
  });
  for (const name of ['alice', 'bob', 'carol', 'dave']) await createUser(storage, name, PASSWORD);
});

after(async () => {
  await set?.close();
  await storage?.close();
  if (prefix) await deleteRedisKeys(prefix);
  if (databaseUrl) await dropDatabase(databaseUrl);
});

/** `keyhole <args>` with the replicas' configuration (another process sharing the storage). */
function admin(args: string[]) {
  return complete(args, { env: set.env });
}

/** Polls every replica until each answers `status`; fails after the propagation bound. */
function everyReplicaAnswers(token: string, status: number, since: number): Promise<void> {
  return everyReplicaWithin(
    set,
    `answering ${status}`,
    since,
    async (i) => (await echoOn(set, i, token)) === status,
    PROPAGATION_MS,
  );
}

async function tokenRequest(params: Record<string, string>) {
  const res = await fetch(`${set.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('several replicas behind one URL, no sticky sessions', () => {
  test('every step of a full OAuth flow lands on a different replica', async () => {
    const from = set.balancer.log.length;
    // Discovery: 401 → protected-resource metadata (RFC 9728) → authorization-server metadata (RFC 8414).
    const unauth = await callTool(set, undefined, 'echo', { text: 'x' });
    assert.equal(unauth.status, 401);
    await unauth.body?.cancel();
    const prmUrl = /resource_metadata="([^"]+)"/.exec(unauth.headers.get('www-authenticate') ?? '')?.[1];
    assert.ok(prmUrl);
    const prm = (await (await fetch(prmUrl)).json()) as { resource: string; authorization_servers: string[] };
    assert.equal(prm.resource, set.mcpUrl.href);
    const asUrl = `${prm.authorization_servers[0]}/.well-known/oauth-authorization-server`;
    const meta = (await (await fetch(asUrl)).json()) as Record<string, string>;
    assert.equal(meta.issuer, set.issuer);
    // Registration, authorization (login + consent pages), code exchange, tools/call, refresh, revoke.
    const clientId = await registerClient(set);
    const { verifier, challenge } = pkce();
    const authorize = new URL(meta.authorization_endpoint!);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: set.mcpUrl.href,
      state: 'st-1',
    }).toString();
    const back = await authorizeInBrowser(authorize, { username: 'alice' });
    assert.equal(back.searchParams.get('state'), 'st-1');
    const code = back.searchParams.get('code')!;
    const tokens = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      resource: set.mcpUrl.href,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const call = await callTool(set, tokens.body.access_token, 'echo', { text: 'across replicas' });
    assert.equal(call.status, 200);
    assert.match(await call.text(), /across replicas/);
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token!,
      client_id: clientId,
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const revoke = await fetch(`${set.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshed.body.access_token!, client_id: clientId }),
    });
    assert.equal(revoke.status, 200);
    const since = performance.now();
    await everyReplicaAnswers(refreshed.body.access_token!, 401, since);

    // The balancer sent consecutive requests to different replicas, and every replica took part.
    const served = set.balancer.log.slice(from);
    assert.ok(served.length >= 10, `only ${served.length} requests`);
    const flow = served.slice(0, served.length - REPLICAS); // before the per-replica polling
    for (let i = 1; i < flow.length; i++) {
      assert.notEqual(flow[i]!.replica, flow[i - 1]!.replica, `${flow[i - 1]!.path} then ${flow[i]!.path}`);
    }
    assert.equal(new Set(flow.map((f) => f.replica)).size, REPLICAS);
    // A replayed code is refused by whichever replica receives it (single use across processes).
    const replay = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      resource: set.mcpUrl.href,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
  });

  test('a revocation on one replica is refused by the others within a second', async () => {
    const { access_token: token, clientId } = await obtainTokens(set, { username: 'bob' });
    // Every replica has verified and cached the token.
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, token), 200);
    set.balancer.pin(1);
    const res = await fetch(`${set.issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: clientId }),
    });
    set.balancer.pin(undefined);
    assert.equal(res.status, 200);
    await everyReplicaAnswers(token, 401, performance.now());
    const again = await callTool(set, token, 'echo', { text: 'x' });
    assert.equal(challengeError(again), 'invalid_token');
    await again.body?.cancel();
  });

  test('removing a user (keyhole users remove, another process) logs them out on every replica', async () => {
    const { access_token: token } = await obtainTokens(set, { username: 'carol' });
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, token), 200);
    const removed = await admin(['users', 'remove', 'carol']);
    assert.equal(removed.code, 0, removed.stderr);
    await everyReplicaAnswers(token, 401, performance.now());
    // And carol cannot sign in again on any of them.
    await assert.rejects(obtainTokens(set, { username: 'carol' }));
  });

  test('disabling a user (keyhole users disable, another process) refuses them on every replica; enable lets them back', async () => {
    await createUser(storage, 'erin', PASSWORD);
    const old = await obtainTokens(set, { username: 'erin' });
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, old.access_token), 200);
    const disabled = await admin(['users', 'disable', 'erin']);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.stdout, 'Disabled user erin and revoked 1 grant(s)\n');
    // The cached access token is refused everywhere within the second, the refresh token is dead,
    // and no replica lets erin sign in.
    await everyReplicaAnswers(old.access_token, 401, performance.now());
    const refresh = {
      grant_type: 'refresh_token',
      refresh_token: old.refresh_token!,
      client_id: old.clientId,
    };
    assert.equal((await tokenRequest(refresh)).body.error, 'invalid_grant');
    await assert.rejects(obtainTokens(set, { username: 'erin' }));

    const enabled = await admin(['users', 'enable', 'erin']);
    assert.equal(enabled.code, 0, enabled.stderr);
    for (let i = 0; i < REPLICAS; i++) {
      set.balancer.pin(i);
      const fresh = await obtainTokens(set, { username: 'erin' }).finally(() => set.balancer.pin(undefined));
      assert.equal(await echoOn(set, i, fresh.access_token), 200, `replica ${i} lets erin back`);
      assert.equal(await echoOn(set, i, old.access_token), 401, 'what disable revoked stays revoked');
    }
  });

  test('a key rotation (keyhole keys rotate, no overlap) takes effect on every replica', async () => {
    const { access_token: before } = await obtainTokens(set, { username: 'alice' });
    const oldKid = jwtHeader(before).kid;
    for (let i = 0; i < REPLICAS; i++) assert.equal(await echoOn(set, i, before), 200);
    const rotated = await complete(['keys', 'rotate'], {
      env: { ...set.env, KEYHOLE_KEY_ROTATION_OVERLAP_SEC: '0' },
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    const since = performance.now();
    // The retired key's tokens are refused everywhere, cached ones included…
    await everyReplicaAnswers(before, 401, since);
    // …every replica publishes only the new key and signs with it.
    for (let i = 0; i < REPLICAS; i++) {
      set.balancer.pin(i);
      const jwks = (await (await fetch(`${set.issuer}/jwks.json`)).json()) as { keys: { kid: string }[] };
      set.balancer.pin(undefined);
      assert.ok(!jwks.keys.some((k) => k.kid === oldKid), `replica ${i} still publishes ${oldKid}`);
    }
    for (let i = 0; i < REPLICAS; i++) {
      set.balancer.pin(i);
      const { access_token: fresh } = await obtainTokens(set, { username: 'alice' }).finally(() =>
        set.balancer.pin(undefined),
      );
      assert.notEqual(jwtHeader(fresh).kid, oldKid, `replica ${i} signed with the retired key`);
      for (let j = 0; j < REPLICAS; j++) assert.equal(await echoOn(set, j, fresh), 200);
    }
  });

  test('fifty parallel refreshes of one refresh token across replicas: exactly one succeeds', async () => {
    const first = await obtainTokens(set, { username: 'dave' });
    const grantId = jwtClaims(first.access_token).gid as string;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        tokenRequest({
          grant_type: 'refresh_token',
          refresh_token: first.refresh_token!,
          client_id: first.clientId,
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant');
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.equal(refused.length, 49);
    const served = new Set(set.balancer.log.slice(-50).map((f) => f.replica));
    assert.equal(served.size, REPLICAS, 'the refreshes were spread over every replica');
    // Documented (README, RFC 9700 §4.14.2): presenting a rotated refresh token again is reuse and
    // revokes the whole grant — so the one successor is dead too, and so are its access tokens.
    const grant = await storage.grants.get(grantId);
    assert.ok(grant?.revokedAt !== undefined, 'the grant is revoked');
    const successor = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: ok[0]!.body.refresh_token!,
      client_id: first.clientId,
    });
    assert.equal(successor.status, 400);
    assert.equal(successor.body.error, 'invalid_grant');
    await everyReplicaAnswers(ok[0]!.body.access_token!, 401, performance.now());
  });

  test('a replica killed in the middle of a flow: the others finish it, and it comes back', async () => {
    const clientId = await registerClient(set);
    const { verifier, challenge } = pkce();
    const authorize = new URL(`${set.issuer}/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: set.mcpUrl.href,
      state: 'st-kill',
    }).toString();
    const browser = new Browser();
    // The login page comes from replica 0, which then dies before the form is submitted.
    set.balancer.pin(0);
    const login = await browser.navigate(authorize);
    set.balancer.pin(undefined);
    assert.equal(login.status, 200);
    await set.kill(0);
    const back = await authorizeInBrowser(authorize, { username: 'alice' }, browser);
    const tokens = await tokenRequest({
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      resource: set.mcpUrl.href,
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(await echoOn(set, 1, tokens.body.access_token!), 200);
    assert.equal(await echoOn(set, 2, tokens.body.access_token!), 200);
    // Restarted, it serves the tokens the others issued while it was down.
    await set.startReplica(0);
    assert.equal(await echoOn(set, 0, tokens.body.access_token!), 200);
  });
});

describe('a legacy (2025-11-25) session spread over the replicas', () => {
  test('each request on another replica; the GET stream on one receives what a POST on another caused', async () => {
    const { access_token: token } = await obtainTokens(set, { username: 'alice' });
    let sessionId = '';
    const send = async (replica: number, body: unknown, accept = 'application/json, text/event-stream') => {
      set.balancer.pin(replica);
      try {
        return await fetch(set.mcpUrl, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept,
            ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' } : {}),
          },
          body: JSON.stringify(body),
        });
      } finally {
        set.balancer.pin(undefined);
      }
    };
    const init = await send(0, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: { elicitation: {} },
        clientInfo: { name: 'replica-test', version: '1.0.0' },
      },
    });
    assert.equal(init.status, 200);
    sessionId = init.headers.get('mcp-session-id') ?? '';
    assert.ok(sessionId);
    await init.body?.cancel();
    assert.equal((await send(1, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);

    // The standalone GET stream, held by replica 0.
    set.balancer.pin(0);
    const get = await fetch(set.mcpUrl, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-11-25',
      },
    });
    set.balancer.pin(undefined);
    assert.equal(get.status, 200);
    const standalone = new SseReader(get);

    const subscribed = await send(2, {
      jsonrpc: '2.0',
      id: 2,
      method: 'resources/subscribe',
      params: { uri: 'notes://shopping' },
    });
    assert.equal(subscribed.status, 200);
    await subscribed.body?.cancel();

    // tools/call on replica 1: its elicitation request arrives on that POST's stream…
    const call = await send(1, {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'delete_note', arguments: { id: 'shopping' } },
    });
    assert.equal(call.status, 200);
    const stream = new SseReader(call);
    const ask = await stream.nextMessage();
    assert.equal(ask?.message.method, 'elicitation/create');
    // …and the answer is POSTed to replica 2, which routes it to the request waiting on replica 1.
    const answered = await send(2, {
      jsonrpc: '2.0',
      id: ask!.message.id,
      result: { action: 'accept', content: { confirm: true } },
    });
    assert.equal(answered.status, 202);
    const result = await stream.nextMessage();
    assert.equal(result?.message.id, 3);
    assert.match(JSON.stringify(result?.message.result), /Deleted/);
    // The resource update caused on replica 1 reaches the GET stream on replica 0.
    const update = await standalone.nextMessage();
    assert.equal(update?.message.method, 'notifications/resources/updated');
    assert.equal(update?.message.params.uri, 'notes://shopping');

    // DELETE on replica 2 ends the session everywhere, the GET stream on replica 0 included.
    set.balancer.pin(2);
    const del = await fetch(set.mcpUrl, {
      method: 'DELETE',
      headers: {
        authorization: `Bearer ${token}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-11-25',
      },
    });
    set.balancer.pin(undefined);
    assert.equal(del.status, 204);
    assert.deepEqual(await standalone.rest(), []);
    for (let i = 0; i < REPLICAS; i++) {
      const gone = await send(i, { jsonrpc: '2.0', id: 9, method: 'ping' });
      assert.equal(gone.status, 404, `replica ${i}`);
      await gone.body?.cancel();
    }
  });
});

function jwtHeader(token: string): { kid: string; alg: string } {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as {
    kid: string;
    alg: string;
  };
}
