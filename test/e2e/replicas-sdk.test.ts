// Issue #4 with the official MCP SDK clients, run as hosts run them (Claude, VS Code and the Inspector
// are built on these SDKs): three `keyhole serve` processes on one PostgreSQL database and one Redis
// prefix, behind a round-robin balancer with no sticky sessions, serving the demo app. The SDKs' own
// OAuth support authorizes through the balancer's URL (RFC 9728 → RFC 8414 discovery, RFC 7591
// registration, authorization code + PKCE + RFC 8707 resource, refresh), whatever replica each step
// lands on. The v2 client works in the 2026-07-28 era and on a legacy 2025-11-25 session whose GET
// stream outlives the replica holding it (the SDK resumes it elsewhere with Last-Event-ID, and gets
// what was caused while it was being reopened); the v1 client on a legacy
// session; and a revocation at the authorization server turns the next call into a 401 wherever it
// lands, after which the SDK asks the host to send the person to sign in again.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type CallToolResult,
  Client,
  type FetchLike,
  type OAuthTokens,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { UnauthorizedError as V1UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createUser } from '../../src/authserver/users.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage, UserRecord } from '../../src/storage/types.ts';
import { complete } from '../cli/helpers.ts';
import type { Forwarded } from '../support/balancer.ts';
import {
  createDatabase,
  deleteRedisKeys,
  dropDatabase,
  REDIS_URL,
  redisPrefix,
} from '../support/databases.ts';
import { ReplicaSet } from '../support/replicas.ts';
import { waitFor } from '../support/services.ts';
import { authorizeInBrowser, PASSWORD, refusedByEveryReplica } from './harness.ts';
import { authorize as authorizeV1, INFO as V1_INFO, HostProvider as V1HostProvider } from './sdk-v1-host.ts';
import { authorize, connected, HostProvider, INFO, MODERN } from './sdk-v2-host.ts';

const REPLICAS = 3;
/** A hang guard for what the servers should cause (a stream reopening, a notification), not a timing bound. */
const HANG_MS = 10_000;

let databaseUrl: string;
let prefix: string;
let set: ReplicaSet;
let storage: Storage;
const users = new Map<string, UserRecord>();

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
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
    users.set(name, await createUser(storage, name, PASSWORD));
  }
});

after(async () => {
  await set?.close();
  await storage?.close();
  if (prefix) await deleteRedisKeys(prefix);
  if (databaseUrl) await dropDatabase(databaseUrl);
});

/** What the balancer forwarded since log position `from`. */
function served(from: number): Forwarded[] {
  return set.balancer.log.slice(from);
}

/** `METHOD /path STATUS` of each forwarded request (query strings dropped). */
function steps(entries: Forwarded[]): string[] {
  return entries.map((f) => `${f.method} ${f.path.split('?')[0]} ${f.status}`);
}

function replicasOf(entries: Forwarded[]): Set<number> {
  return new Set(entries.map((f) => f.replica));
}

/** The MCP requests among `entries`. */
function mcp(entries: Forwarded[]): Forwarded[] {
  return entries.filter((f) => f.path === '/mcp');
}

/** The requests of the SDK's OAuth dance: the 401, discovery, registration, the pages, the code exchange. */
function assertOAuthFlow(entries: Forwarded[]): void {
  const seen = steps(entries);
  for (const step of [
    'POST /mcp 401',
    'GET /.well-known/oauth-protected-resource/mcp 200', // RFC 9728 §3.1, from the 401's resource_metadata
    'GET /.well-known/oauth-authorization-server 200', // RFC 8414 §3.1
    'POST /register 201', // RFC 7591 §3.2.1
    'GET /authorize 200', // the login page
    'POST /token 200', // RFC 6749 §4.1.3 with the PKCE verifier and the resource
  ]) {
    assert.ok(seen.includes(step), `${step} is not among ${seen.join(', ')}`);
  }
  // No stickiness: each step on another replica than the one before, and every replica took part.
  for (let i = 1; i < entries.length; i++) assert.notEqual(entries[i]!.replica, entries[i - 1]!.replica);
  assert.equal(replicasOf(entries).size, REPLICAS, 'the steps of the flow landed on every replica');
}

/** A signature the issuer never made: every replica answers 401 invalid_token, as for an expired token. */
function spoiled(jwt: string): string {
  const at = jwt.lastIndexOf('.') + 10;
  return jwt.slice(0, at) + (jwt[at] === 'A' ? 'B' : 'A') + jwt.slice(at + 1);
}

/** A GET stream the SDK opened, as it arrived: the Last-Event-ID it sent, the status and the raw events. */
interface SeenStream {
  lastEventId: string | null;
  status: number;
  text: string;
  /** The id of the last event received on it. */
  lastId: string | undefined;
  ended: boolean;
}

/** A fetch for the SDK's transport that records its GET streams as they arrive (and changes nothing). */
function watchingGetStreams(streams: SeenStream[]): FetchLike {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (init?.method !== 'GET' || !res.body) return res;
    const seen: SeenStream = {
      lastEventId: new Headers(init.headers).get('last-event-id'),
      status: res.status,
      text: '',
      lastId: undefined,
      ended: false,
    };
    streams.push(seen);
    const decoder = new TextDecoder();
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen.text += decoder.decode(chunk, { stream: true });
          for (const m of seen.text.matchAll(/^id: ?(.*)$/gm)) seen.lastId = m[1];
          controller.enqueue(chunk);
        },
        flush() {
          seen.ended = true;
        },
      }),
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

interface LegacySession {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** The replica holding the standalone GET stream. */
  holder: number;
  streams: SeenStream[];
  /** notifications/resources/updated received, by URI. */
  updates: string[];
  /** The elicitation messages the client answered (accepting). */
  questions: string[];
  /** What the SDK reported through client.onerror. */
  errors: string[];
  /** Reconnections the SDK scheduled, when the host holds them. */
  reconnects: { delay: number; run: () => void }[];
  /** tools/call sent to replica `on`; the answer to an elicitation it asks goes to replica `answer`. */
  callOn(on: number, answer: number, name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

/**
 * A v2 client on a legacy 2025-11-25 session (the SDK's default handshake) as `username`, that answers
 * elicitations by accepting, once its standalone GET stream is open; asserts it was initialized on
 * another replica than the one holding the stream. With holdReconnection, the SDK's reconnections
 * wait for the test (the host's reconnectionScheduler) instead of a timer.
 */
async function legacySession(
  username: string,
  options: { holdReconnection?: boolean } = {},
): Promise<LegacySession> {
  const provider = new HostProvider();
  await authorize(set, provider, username);
  let answerOn: number | undefined;
  const s = {
    holder: -1,
    streams: [] as SeenStream[],
    updates: [] as string[],
    questions: [] as string[],
    errors: [] as string[],
    reconnects: [] as { delay: number; run: () => void }[],
  };
  const client = new Client(INFO, { capabilities: { elicitation: {} } });
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    s.updates.push(n.params.uri);
  });
  client.setRequestHandler('elicitation/create', (request) => {
    s.questions.push(request.params.message);
    if (answerOn !== undefined) set.balancer.pin(answerOn);
    return { action: 'accept', content: { confirm: true } };
  });
  client.onerror = (e) => s.errors.push(e.message);
  const transport = new StreamableHTTPClientTransport(set.mcpUrl, {
    authProvider: provider,
    fetch: watchingGetStreams(s.streams),
    ...(options.holdReconnection
      ? { reconnectionScheduler: (run: () => void, delay: number) => void s.reconnects.push({ run, delay }) }
      : {}),
  });
  const from = set.balancer.log.length;
  try {
    await client.connect(transport);
    assert.equal(client.getProtocolEra(), 'legacy');
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.ok(transport.sessionId);
    // After notifications/initialized the SDK opens the standalone GET stream; the server primes it
    // with an event id and a retry interval (SEP-1699).
    await waitFor('the GET stream to open', () => s.streams[0]?.lastId !== undefined, HANG_MS);
    const opened = served(from);
    const get = opened.find((f) => f.method === 'GET' && f.path === '/mcp');
    assert.equal(get?.status, 200);
    s.holder = get.replica;
    const initialize = opened.find((f) => f.method === 'POST' && f.path === '/mcp');
    assert.notEqual(initialize?.replica, s.holder, 'initialized on one replica, streaming from another');
  } catch (err) {
    await client.close();
    throw err;
  }
  return {
    ...s,
    client,
    transport,
    async callOn(on, answer, name, args) {
      set.balancer.pin(on);
      answerOn = answer;
      try {
        return await client.callTool({ name, arguments: args });
      } finally {
        set.balancer.pin(undefined);
        answerOn = undefined;
      }
    },
    async close() {
      await client.close();
      // Whatever failed, the next tests get three replicas and an unpinned balancer.
      set.balancer.pin(undefined);
      for (const i of set.balancer.down) await set.startReplica(i);
    },
  };
}

function text(result: { content?: unknown }): string {
  return ((result.content ?? []) as { type: string; text?: string }[]).map((c) => c.text ?? '').join('');
}

describe('the official SDK clients against three replicas behind one URL, no sticky sessions', () => {
  test('v2 client, 2026-07-28: authorizes through the balancer, its calls spread over every replica, and it refreshes its token', async () => {
    const from = set.balancer.log.length;
    const provider = new HostProvider();
    await authorize(set, provider, 'alice');
    assertOAuthFlow(served(from));
    const clientId = provider.info?.client_id;
    assert.ok(clientId);

    const client = await connected(set, provider, MODERN);
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      const calls = set.balancer.log.length;
      const { tools } = await client.listTools();
      assert.ok(tools.find((t) => t.name === 'convert_length')?.outputSchema, 'the output schema is listed');
      // Structured output, checked by the SDK against the listed schema.
      const converted = await client.callTool({
        name: 'convert_length',
        arguments: { value: 1.5, from: 'm', to: 'cm' },
      });
      assert.deepEqual(converted.structuredContent, { value: 150, unit: 'cm' });
      // Progress notifications on the request's own stream, from whichever replica runs it.
      const progress: number[] = [];
      const countdown = await client.callTool(
        { name: 'countdown', arguments: { from: 3, intervalMs: 0 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      assert.equal(text(countdown), 'Lift-off!');
      assert.deepEqual(progress, [0, 1, 2, 3]);
      const { resources } = await client.listResources();
      assert.ok(resources.some((r) => r.uri === 'notes://welcome'));
      const { resourceTemplates } = await client.listResourceTemplates();
      assert.deepEqual(
        resourceTemplates.map((t) => t.uriTemplate),
        ['notes://{id}'],
      );
      const note = await client.readResource({ uri: 'notes://welcome' });
      assert.match((note.contents[0] as { text: string }).text, /^Welcome\n/);
      const { prompts } = await client.listPrompts();
      assert.deepEqual(
        prompts.map((p) => p.name),
        ['summarize_note'],
      );
      const prompt = await client.getPrompt({
        name: 'summarize_note',
        arguments: { id: 'welcome', style: 'haiku' },
      });
      assert.deepEqual(prompt.messages[0]?.content, { type: 'text', text: 'Summarize this note as haiku.' });
      const completion = await client.complete({
        ref: { type: 'ref/prompt', name: 'summarize_note' },
        argument: { name: 'style', value: 'one' },
      });
      assert.deepEqual(completion.completion.values, ['one paragraph', 'one sentence']);
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      assert.deepEqual(who.structuredContent, {
        subject: users.get('alice')!.id,
        clientId,
        scopes: ['profile:read'],
      });
      const requests = mcp(served(calls));
      assert.ok(requests.length >= 9, steps(requests).join(', '));
      assert.deepEqual(
        requests.filter((f) => f.status !== 200),
        [],
      );
      assert.equal(replicasOf(requests).size, REPLICAS, 'every replica served some of the calls');

      // The v2 SDK refreshes only on a 401 (it never reads expires_in), and the shortest access-token
      // lifetime Keyhole accepts is 60 s: the host's stored access token is made one that no replica
      // accepts, which the SDK meets exactly as an expired one (401 invalid_token).
      const old = provider.saved as OAuthTokens;
      provider.saved = { ...old, access_token: spoiled(old.access_token) };
      const refreshing = set.balancer.log.length;
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'after a refresh' } });
      assert.equal(text(echoed), 'after a refresh');
      const refresh = served(refreshing);
      assert.deepEqual(steps(refresh), ['POST /mcp 401', 'POST /token 200', 'POST /mcp 200']);
      assert.equal(replicasOf(refresh).size, 3, 'refused, refreshed and retried on three replicas');
      const fresh = provider.saved as OAuthTokens;
      assert.notEqual(fresh.access_token, old.access_token);
      assert.ok(fresh.refresh_token);
      assert.notEqual(fresh.refresh_token, old.refresh_token, 'the refresh token rotated');
      // The calls go on, with the new token, on every replica.
      const later = set.balancer.log.length;
      for (let i = 0; i < REPLICAS; i++) {
        const r = await client.callTool({ name: 'echo', arguments: { text: `on ${i}` } });
        assert.equal(text(r), `on ${i}`);
      }
      assert.deepEqual(steps(served(later)), Array(REPLICAS).fill('POST /mcp 200'));
      assert.equal(replicasOf(served(later)).size, REPLICAS);
      assert.equal(provider.saved, fresh, 'no further refresh');
    } finally {
      await client.close();
    }
  });

  test('v2 client, legacy 2025-11-25 session: the GET stream on one replica carries what a call on another caused, and outlives that replica', async () => {
    const s = await legacySession('bob');
    const { client, transport, streams, updates } = s;
    try {
      const holder = s.holder;
      const [elsewhere, third] = [0, 1, 2].filter((i) => i !== holder) as [number, number];
      await client.subscribeResource({ uri: 'notes://shopping' });
      await client.subscribeResource({ uri: 'notes://ideas' });
      // delete_note runs on another replica than the stream's; on a legacy session Keyhole sends the
      // confirmation question (elicitation/create) on that POST's stream, and the client's answer goes
      // to the third replica, which hands it to the one waiting for it.
      const calling = set.balancer.log.length;
      const deleted = await s.callOn(elsewhere, third, 'delete_note', { id: 'shopping' });
      assert.equal(text(deleted), 'Deleted "Shopping list".');
      assert.deepEqual(s.questions, ['Delete the note "Shopping list"?']);
      assert.deepEqual(steps(served(calling)), ['POST /mcp 200', 'POST /mcp 202']);
      assert.deepEqual(
        served(calling).map((f) => f.replica),
        [elsewhere, third],
      );
      // The update the call caused on `elsewhere` reaches the client through the GET stream on `holder`.
      await waitFor('the resource update', () => updates.includes('notes://shopping'), HANG_MS);
      assert.match(streams[0]!.text, /"method":"notifications\/resources\/updated".*notes:\/\/shopping/);

      // The replica holding the GET stream dies. The SDK sees the stream end and, by itself, after the
      // retry interval the server primed the stream with, opens it again with Last-Event-ID — through
      // the balancer, so on a live replica.
      const lastId = streams[0]!.lastId;
      const killing = set.balancer.log.length;
      await set.kill(holder);
      await waitFor('the SDK to reopen the GET stream', () => streams.length === 2, HANG_MS);
      const reopened = streams[1]!;
      assert.equal(reopened.lastEventId, lastId, 'resumed with Last-Event-ID');
      assert.equal(reopened.status, 200);
      const regot = served(killing);
      assert.deepEqual(steps(regot), ['GET /mcp 200']);
      const newHolder = regot[0]!.replica;
      assert.notEqual(newHolder, holder);

      // The session goes on: an update caused on the other survivor arrives on the resumed stream.
      const survivor = newHolder === elsewhere ? third : elsewhere;
      const again = await s.callOn(survivor, newHolder, 'delete_note', { id: 'ideas' });
      assert.equal(text(again), 'Deleted "Ideas".');
      await waitFor('the update after the kill', () => updates.includes('notes://ideas'), HANG_MS);
      assert.match(reopened.text, /"method":"notifications\/resources\/updated".*notes:\/\/ideas/);
      assert.deepEqual(updates, ['notes://shopping', 'notes://ideas'], 'each update once');
      assert.ok(!reopened.ended, 'the resumed stream stays open');

      // The dead replica comes back, a fresh process, and serves the session from what Redis holds.
      await set.startReplica(holder);
      const back = set.balancer.log.length;
      for (let i = 0; i < REPLICAS; i++) {
        const r = await client.callTool({ name: 'echo', arguments: { text: `back ${i}` } });
        assert.equal(text(r), `back ${i}`);
      }
      assert.deepEqual(steps(served(back)), Array(REPLICAS).fill('POST /mcp 200'));
      assert.ok(replicasOf(served(back)).has(holder), 'the restarted replica served a call');
      // All the SDK reported on the way (client.onerror) is the stream the dead replica dropped.
      assert.equal(s.errors.length, 1, s.errors.join(' | '));
      assert.match(s.errors[0]!, /^SSE stream disconnected/);

      // The host ends the session: DELETE, on whichever replica the balancer picks.
      const ending = set.balancer.log.length;
      await transport.terminateSession();
      assert.equal(served(ending).find((f) => f.method === 'DELETE')?.status, 204);
    } finally {
      await s.close();
    }
  });

  test('v2 client, legacy session: an update caused while the dead holder’s stream is being reopened is replayed on the resumed stream', async () => {
    // The host's reconnectionScheduler holds the SDK's reconnection, so the update is caused while no
    // stream is open — what the SDK's own 1 s wait makes possible at any time.
    const s = await legacySession('bob', { holdReconnection: true });
    const { client, streams, updates } = s;
    try {
      const [p, q] = [0, 1, 2].filter((i) => i !== s.holder) as [number, number];
      await client.subscribeResource({ uri: 'notes://welcome' });
      await set.kill(s.holder);
      await waitFor('the SDK to schedule a reconnection', () => s.reconnects.length === 1, HANG_MS);
      assert.equal(s.reconnects[0]!.delay, 1000, 'the retry interval the server primed the stream with');
      const missed = await s.callOn(p, q, 'delete_note', { id: 'welcome' });
      assert.equal(text(missed), 'Deleted "Welcome".');
      assert.deepEqual(updates, [], 'no stream is open: the update waits in the log');
      s.reconnects[0]!.run();
      await waitFor('the SDK to reopen the GET stream', () => streams.length === 2, HANG_MS);
      assert.equal(streams[1]!.lastEventId, streams[0]!.lastId);
      // A live update after it: the replay comes first, then the live one.
      const live = await s.callOn(q, p, 'delete_note', { id: 'welcome' });
      assert.equal(text(live), 'Deleted "Welcome".');
      await waitFor('the missed update and the live one', () => updates.length >= 2, HANG_MS);
      assert.deepEqual(
        updates,
        ['notes://welcome', 'notes://welcome'],
        'the missed update, then the live one',
      );
    } finally {
      await s.close();
    }
  });

  test('v1 client (Streamable HTTP, 2025-11-25): authorizes through the balancer and its calls spread over every replica', async () => {
    const from = set.balancer.log.length;
    const provider = new V1HostProvider();
    await authorizeV1(set, provider, 'carol');
    assertOAuthFlow(served(from));
    const clientId = provider.info?.client_id;

    const client = new V1Client(V1_INFO);
    const transport = new V1Transport(set.mcpUrl, { authProvider: provider });
    const calls = set.balancer.log.length;
    await client.connect(transport);
    try {
      assert.equal(transport.protocolVersion, '2025-11-25');
      assert.ok(transport.sessionId);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'whoami'));
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      assert.deepEqual(who.structuredContent, {
        subject: users.get('carol')!.id,
        clientId,
        scopes: ['profile:read'],
      });
      const converted = await client.callTool({
        name: 'convert_length',
        arguments: { value: 1, from: 'km', to: 'm' },
      });
      assert.deepEqual(converted.structuredContent, { value: 1000, unit: 'm' });
      const note = await client.readResource({ uri: 'demo://readme' });
      assert.match((note.contents[0] as { text: string }).text, /^# Keyhole demo/);
      for (let i = 0; i < REPLICAS; i++) {
        const r = await client.callTool({ name: 'echo', arguments: { text: `v1 ${i}` } });
        assert.deepEqual(r.content, [{ type: 'text', text: `v1 ${i}` }]);
      }
      const requests = mcp(served(calls));
      assert.deepEqual(
        requests.filter((f) => f.status >= 300),
        [],
      );
      assert.equal(replicasOf(requests.filter((f) => f.method === 'POST')).size, REPLICAS);
    } finally {
      await client.close();
    }
  });
});

describe('a revocation at the authorization server, seen by the SDKs through the balancer', () => {
  test('v2: the refresh token revoked (POST /revoke) → the next call is refused, the refresh fails, and the SDK asks the host to sign in again', async () => {
    const provider = new HostProvider();
    await authorize(set, provider, 'dave');
    const firstAuthorization = provider.authorizationUrl?.href;
    const transport = new StreamableHTTPClientTransport(set.mcpUrl, { authProvider: provider });
    const client = new Client(INFO, MODERN);
    await client.connect(transport);
    try {
      assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'before' } })), 'before');
      const tokens = provider.saved as OAuthTokens;
      // RFC 7009 §2.1: revoking the refresh token revokes its grant and the access tokens it minted.
      const revoked = await fetch(`${set.issuer}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: tokens.refresh_token!,
          token_type_hint: 'refresh_token',
          client_id: provider.info!.client_id,
        }),
      });
      assert.equal(revoked.status, 200);
      await refusedByEveryReplica(set, tokens.access_token);

      const refusing = set.balancer.log.length;
      await assert.rejects(
        client.callTool({ name: 'echo', arguments: { text: 'after' } }),
        (e) => e instanceof UnauthorizedError,
      );
      // 401 on one replica; the SDK's refresh is refused (invalid_grant) on another; it forgets the
      // tokens (invalidateCredentials) and sends the person to the authorization endpoint again.
      const refused = served(refusing);
      assert.deepEqual(steps(refused), ['POST /mcp 401', 'POST /token 400']);
      assert.notEqual(refused[0]!.replica, refused[1]!.replica);
      assert.deepEqual(provider.invalidated, ['tokens']);
      assert.equal(provider.saved, undefined);
      const again = provider.authorizationUrl;
      assert.ok(again && again.href !== firstAuthorization, 'a new authorization request');
      assert.equal(again.searchParams.get('resource'), set.mcpUrl.href);

      // Signing in again puts the same client back to work.
      const callback = await authorizeInBrowser(again, { username: 'dave' });
      assert.equal(callback.searchParams.get('state'), provider.stateValue);
      await transport.finishAuth(callback.searchParams);
      assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: 'back' } })), 'back');
    } finally {
      await client.close();
    }
  });

  test('v1: the user removed (`keyhole users remove`, another process) → the next call is refused and the SDK asks the host to sign in again', async () => {
    const provider = new V1HostProvider();
    await authorizeV1(set, provider, 'erin');
    const firstAuthorization = provider.authorizationUrl?.href;
    const client = new V1Client(V1_INFO);
    await client.connect(new V1Transport(set.mcpUrl, { authProvider: provider }));
    try {
      const ok = await client.callTool({ name: 'echo', arguments: { text: 'before' } });
      assert.deepEqual(ok.content, [{ type: 'text', text: 'before' }]);
      const token = provider.saved!.access_token;
      const removed = await complete(['users', 'remove', 'erin'], { env: set.env });
      assert.equal(removed.code, 0, removed.stderr);
      await refusedByEveryReplica(set, token);

      const refusing = set.balancer.log.length;
      await assert.rejects(
        client.callTool({ name: 'echo', arguments: { text: 'after' } }),
        (e) => e instanceof V1UnauthorizedError,
      );
      const refused = served(refusing).filter((f) => f.method === 'POST');
      assert.deepEqual(steps(refused), ['POST /mcp 401', 'POST /token 400']);
      assert.deepEqual(provider.invalidated, ['tokens']);
      assert.equal(provider.saved, undefined);
      assert.ok(provider.authorizationUrl && provider.authorizationUrl.href !== firstAuthorization);
    } finally {
      await client.close();
    }
  });
});
