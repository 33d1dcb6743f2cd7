// Legacy sessions across replicas (issue #4 "Replicas": no sticky sessions): two or three apps, each
// with its own engine built from the same app, sharing one real Redis through the session backplane.
// Every step of a session lands on another replica.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { createClient } from 'redis';
import type { Principal } from '../../../src/protocol/contract.ts';
import type { HttpAppOptions } from '../../../src/transport/http/app.ts';
import {
  createRedisSessionBackplane,
  type RedisSessionBackplane,
} from '../../../src/transport/http/redis-backplane.ts';
import { startPrivateRedis } from '../../support/services.ts';
import { ACCEPT, assertRpcError, type Harness, initialize, post, rpc, SseReader, start } from './helpers.ts';

const REDIS_URL = process.env.KEYHOLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BadRequest = -32000;
const SessionNotFound = -32001;
const json = { 'content-type': 'application/json', accept: ACCEPT };

interface Cluster {
  readonly replicas: Harness[];
  readonly planes: RedisSessionBackplane[];
  readonly prefix: string;
  close(): Promise<void>;
}

const opened: Cluster[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

/** `n` replicas on one Redis, under a prefix of their own; every replica can touch memo:// resources. */
async function cluster(n: number, options: HttpAppOptions = {}): Promise<Cluster> {
  const prefix = `keyhole-test:${randomUUID()}:`;
  const replicas: Harness[] = [];
  const planes: RedisSessionBackplane[] = [];
  for (let i = 0; i < n; i++) {
    const plane = await createRedisSessionBackplane({ url: REDIS_URL, prefix });
    planes.push(plane);
    const h = await start({ ...options, sessionBackplane: plane });
    h.server.tool({
      name: 'touch',
      input: { type: 'object', properties: { uri: { type: 'string' } }, required: ['uri'] },
      handler: (args) => {
        h.server.notifyResourceUpdated(String(args.uri));
        return 'touched';
      },
    });
    replicas.push(h);
  }
  let closed = false;
  const c: Cluster = {
    replicas,
    planes,
    prefix,
    async close() {
      if (closed) return;
      closed = true;
      for (const h of replicas) await h.close();
      for (const p of planes) await p.close();
      await dropKeys(prefix);
    },
  };
  opened.push(c);
  return c;
}

async function dropKeys(prefix: string): Promise<string[]> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      keys.push(...(Array.isArray(batch) ? batch : [batch]));
    }
    if (keys.length) await client.del(keys);
    return keys;
  } finally {
    await client.close();
  }
}

async function keysUnder(prefix: string): Promise<string[]> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  try {
    return await client.keys(`${prefix}*`);
  } finally {
    await client.close();
  }
}

async function ttls(keys: string[]): Promise<number[]> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  try {
    return await Promise.all(keys.map((k) => client.pTTL(k)));
  } finally {
    await client.close();
  }
}

/** The messages in a session's standalone stream log, as Redis holds them. */
async function standaloneLog(prefix: string, sid: string): Promise<string[]> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  try {
    const entries = await client.xRange(`${prefix}ls:{${sid}}:ev:0`, '-', '+');
    return entries.map((e) => String(e.message.d));
  } finally {
    await client.close();
  }
}

function getStream(h: Harness, headers: Record<string, string>, lastEventId?: string): Promise<Response> {
  const extra: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': lastEventId };
  return fetch(h.url, { headers: { ...headers, accept: 'text/event-stream', ...extra } });
}

/** Polls until `check` holds (replicas learn of some things through the bus, a moment later). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`never happened: ${what}`);
}

describe('legacy sessions across replicas', () => {
  test('initialize on A, requests on B and C; a change caused on B reaches the GET stream held by A', async () => {
    const {
      replicas: [a, b, c],
      prefix,
    } = await cluster(3);
    const { sessionId, headers } = await initialize(a!.url);
    const listed = await post(b!.url, headers, rpc('tools/list', {}, 1));
    assert.equal(listed.status, 200, listed.text);
    assert.ok(listed.json.result.tools.some((t: { name: string }) => t.name === 'echo'));
    assert.equal((await post(c!.url, headers, rpc('ping', {}, 2))).status, 200);

    const res = await getStream(a!, headers);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = new SseReader(res);
    const priming = await events.next();
    assert.equal(priming?.data, '', 'priming event');
    assert.equal(priming?.id, '0.1');

    await post(b!.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 3));
    const changed = await events.nextMessage();
    assert.equal(changed?.message.method, 'notifications/tools/list_changed');
    assert.match(changed?.event.id ?? '', /^0\.\d+$/);
    // Everything the session keeps in Redis expires on its own (the idle timeout).
    const keys = (await keysUnder(prefix)).filter((k) => k.includes(sessionId));
    assert.ok(keys.length >= 3, keys.join());
    assert.ok((await ttls(keys)).every((t) => t > 0));
    await events.cancel();
  });

  test('unknown and missing session ids are 404 and 400 on every replica', async () => {
    const {
      replicas: [a, b],
    } = await cluster(2);
    const { headers } = await initialize(a!.url);
    for (const h of [a!, b!]) {
      const unknown = await post(
        h.url,
        { ...headers, 'mcp-session-id': 'no-such-session' },
        rpc('ping', {}, 7),
      );
      assertRpcError(unknown, 404, SessionNotFound, 7);
      assert.equal(unknown.headers.get('cache-control'), 'no-store');
      const missing = await post(h.url, json, rpc('ping', {}, 8));
      assertRpcError(missing, 400, BadRequest, 8);
      const get = await getStream(h, { 'mcp-session-id': 'no-such-session' });
      assert.equal(get.status, 404);
      await get.body?.cancel();
    }
  });

  test('resources/subscribe on C; a tool on B updates the resource; A’s GET stream is told', async () => {
    const {
      replicas: [a, b, c],
    } = await cluster(3);
    const { headers } = await initialize(a!.url);
    const res = await getStream(a!, headers);
    const events = new SseReader(res);
    await events.next();
    const sub = await post(c!.url, headers, rpc('resources/subscribe', { uri: 'memo://one' }, 1));
    assert.equal(sub.status, 200, sub.text);
    // Not subscribed: no notification for this one, and it must not be the first one A sends.
    await post(b!.url, headers, rpc('tools/call', { name: 'touch', arguments: { uri: 'memo://two' } }, 2));
    await post(b!.url, headers, rpc('tools/call', { name: 'touch', arguments: { uri: 'memo://one' } }, 3));
    const updated = await events.nextMessage();
    assert.equal(updated?.message.method, 'notifications/resources/updated');
    assert.deepEqual(updated?.message.params, { uri: 'memo://one' });

    // Unsubscribed on B: A stops telling (the next one it sends is a list change, nothing about memo://one).
    await post(b!.url, headers, rpc('resources/unsubscribe', { uri: 'memo://one' }, 4));
    await post(c!.url, headers, rpc('tools/call', { name: 'touch', arguments: { uri: 'memo://one' } }, 5));
    await post(c!.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 6));
    const next = await events.nextMessage();
    assert.equal(next?.message.method, 'notifications/tools/list_changed');
    await events.cancel();
  });

  test('logging/setLevel on one replica applies to requests on another', async () => {
    const {
      replicas: [a, b],
    } = await cluster(2);
    const { headers } = await initialize(a!.url);
    assert.equal((await post(a!.url, headers, rpc('logging/setLevel', { level: 'error' }, 1))).status, 200);
    const r = await post(
      b!.url,
      headers,
      rpc('tools/call', { name: 'steps', arguments: { count: 2 }, _meta: { progressToken: 'p' } }, 2),
    );
    const methods = r.text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)).method ?? 'response');
    assert.deepEqual(methods, ['notifications/progress', 'notifications/progress', 'response']);
    // A level that is not one: refused, and the stored level stays.
    const bad = await post(b!.url, headers, rpc('logging/setLevel', { level: 'loud' }, 3));
    assert.equal(bad.json.error.code, -32602);
    const again = await post(
      a!.url,
      headers,
      rpc('tools/call', { name: 'steps', arguments: { count: 1 }, _meta: { progressToken: 'q' } }, 4),
    );
    assert.doesNotMatch(again.text, /notifications\/message/);
  });

  test('an elicitation sent on B’s POST stream, answered by a POST on C, completes the tool call on B', async () => {
    const {
      replicas: [a, b, c],
    } = await cluster(3);
    const { headers } = await initialize(a!.url, '2025-11-25', { elicitation: {} });
    const res = await fetch(b!.url, {
      method: 'POST',
      headers,
      body: rpc('tools/call', { name: 'confirm', arguments: { what: 'deploy' } }, 'c1'),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const events = new SseReader(res);
    const ask = await events.nextMessage();
    assert.equal(ask?.message.method, 'elicitation/create');
    assert.match(String(ask?.message.id), /^srv-[a-z]{10}-\d+$/, 'ids name the replica that waits');
    // An answer to a request nobody sent is accepted and ignored (no crash, nothing completes).
    const stray = await post(
      c!.url,
      headers,
      JSON.stringify({ jsonrpc: '2.0', id: 'srv-zzzzzzzzzz-9', result: {} }),
    );
    assert.equal(stray.status, 202);
    const answer = await post(
      c!.url,
      headers,
      JSON.stringify({
        jsonrpc: '2.0',
        id: ask?.message.id,
        result: { action: 'accept', content: { yes: true } },
      }),
    );
    assert.equal(answer.status, 202);
    const final = await events.nextMessage();
    assert.equal(final?.message.id, 'c1');
    assert.match(final?.message.result.content[0].text, /accept/);
    assert.equal(await events.next(), undefined);
  });

  test('notifications/cancelled posted to C aborts the request running on B', async () => {
    const {
      replicas: [a, b, c],
    } = await cluster(3);
    const { headers } = await initialize(a!.url);
    const running = post(
      b!.url,
      headers,
      rpc('tools/call', { name: 'wait', arguments: { tag: 'x1' } }, 'w1'),
    );
    await b!.probe.wait('wait:x1:started');
    const cancel = await post(
      c!.url,
      headers,
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'w1' } }),
    );
    assert.equal(cancel.status, 202);
    await b!.probe.wait('wait:x1:aborted');
    await running;
  });

  test('a POST stream dropped on B resumes on C with Last-Event-ID: replay, the rest live, then the end', async () => {
    const {
      replicas: [a, b, c],
    } = await cluster(3);
    const { headers } = await initialize(a!.url);
    const res = await fetch(b!.url, {
      method: 'POST',
      headers,
      body: rpc('tools/call', { name: 'gate', arguments: { tag: 'g1' }, _meta: { progressToken: 7 } }, 'g1'),
    });
    const first = new SseReader(res);
    const priming = await first.next();
    assert.equal(priming?.data, '');
    const streamId = (priming?.id ?? '').split('.')[0] ?? '';
    assert.match(streamId, /^[a-z]{10}[0-9a-z]+$/, 'stream ids carry the replica tag');
    await b!.probe.wait('gate:g1:started');
    // The client drops the connection after the priming event: the progress is kept for it.
    await first.cancel();

    const again = await getStream(c!, headers, priming?.id);
    assert.equal(again.status, 200);
    const resumed = new SseReader(again);
    const replayed = await resumed.nextMessage();
    assert.equal(replayed?.message.method, 'notifications/progress');
    assert.equal(replayed?.event.id, `${streamId}.2`);
    b!.probe.emit('gate:g1');
    const live = await resumed.nextMessage();
    assert.equal(live?.message.id, 'g1');
    assert.equal(live?.message.result.content[0].text, 'released g1');
    assert.equal(await resumed.next(), undefined, 'the stream ends after the response');

    // Resuming after the response on yet another replica replays it and ends at once.
    const late = await getStream(a!, headers, replayed?.event.id);
    assert.deepEqual(
      (await new SseReader(late).rest()).map((e) => JSON.parse(e.data).id),
      ['g1'],
    );
  });

  test('a bad Last-Event-ID, or one of another session’s stream, is 400 and replays nothing', async () => {
    const {
      replicas: [a, b],
    } = await cluster(2);
    const one = await initialize(a!.url);
    const other = await initialize(a!.url);
    const res = await fetch(a!.url, {
      method: 'POST',
      headers: other.headers,
      body: rpc('tools/call', { name: 'steps', arguments: { count: 1 }, _meta: { progressToken: 1 } }, 1),
    });
    const otherIds = (await new SseReader(res).rest()).map((e) => e.id);
    const foreign = otherIds.find((id) => id?.endsWith('.2'));
    assert.ok(foreign);
    // '0.3': the standalone stream of a session that never opened one.
    for (const bad of ['garbage', 'zz.1', '0.3', foreign]) {
      const r = await getStream(b!, one.headers, bad);
      assert.equal(r.status, 400, `Last-Event-ID ${bad}`);
      assert.equal((await r.json()).error.code, BadRequest);
    }
  });

  test('the standalone stream resumes on another replica, which then holds it', async () => {
    const {
      replicas: [a, b, c],
    } = await cluster(3);
    const { headers } = await initialize(a!.url);
    const res = await getStream(a!, headers);
    const events = new SseReader(res);
    const priming = await events.next();
    await events.cancel();
    // Sent while the client is away: kept in the log by A, which still holds the stream.
    await post(c!.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 1));
    await eventually(async () => {
      const probe = await getStream(b!, headers, priming?.id);
      const reader = new SseReader(probe);
      const got = await Promise.race([
        reader.nextMessage(),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 300)),
      ]);
      if (!got) {
        await reader.cancel();
        return false;
      }
      assert.equal(got.message.method, 'notifications/tools/list_changed');
      // B holds the stream now: a later change caused on A arrives here live.
      await post(a!.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 2));
      const live = await reader.nextMessage();
      assert.equal(live?.message.method, 'notifications/tools/list_changed');
      await reader.cancel();
      return true;
    }, 'the change reaches the resumed stream');
  });

  test('the holder of the GET stream goes away; a change caused on B while no stream is open is replayed once on C, then live ones', async () => {
    const {
      replicas: [a, b, c],
      prefix,
    } = await cluster(3);
    const { sessionId, headers } = await initialize(a!.url);
    for (const uri of ['memo://one', 'memo://two']) {
      const sub = await post(c!.url, headers, rpc('resources/subscribe', { uri }, uri));
      assert.equal(sub.status, 200, sub.text);
    }
    const events = new SseReader(await getStream(a!, headers));
    await events.next();
    await post(b!.url, headers, rpc('tools/call', { name: 'touch', arguments: { uri: 'memo://one' } }, 1));
    const seen = await events.nextMessage();
    assert.deepEqual(seen?.message.params, { uri: 'memo://one' });

    // A, which holds the stream, goes away: its connection ends, nothing is left producing there.
    await a!.close();
    assert.deepEqual(await events.rest(), [], 'A’s GET stream ends');
    const missed = await post(
      b!.url,
      headers,
      rpc('tools/call', { name: 'touch', arguments: { uri: 'memo://one' } }, 2),
    );
    assert.equal(missed.status, 200, missed.text);

    // MCP 2025-11-25 transports "Resumability and Redelivery": the client resumes on C.
    const resumed = new SseReader(await getStream(c!, headers, seen?.event.id));
    const replayed = await resumed.nextMessage();
    assert.equal(replayed?.message.method, 'notifications/resources/updated');
    assert.deepEqual(replayed?.message.params, { uri: 'memo://one' }, 'the missed update');
    await post(b!.url, headers, rpc('tools/call', { name: 'touch', arguments: { uri: 'memo://two' } }, 3));
    const live = await resumed.nextMessage();
    assert.deepEqual(live?.message.params, { uri: 'memo://two' }, 'then the live one, nothing twice');
    const ids = [seen, replayed, live].map((e) => Number(e?.event.id?.split('.')[1]));
    assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, ids.join());
    await resumed.cancel();
    assert.deepEqual(
      (await standaloneLog(prefix, sessionId)).map((e) => JSON.parse(e).params.uri),
      ['memo://one', 'memo://one', 'memo://two'],
      'one event per change in the log',
    );
  });

  test('with three copies of a session alive, each change is logged once on its standalone stream', async () => {
    const {
      replicas: [a, b, c],
      planes,
      prefix,
    } = await cluster(3);
    const { sessionId, headers } = await initialize(a!.url);
    for (const h of [b!, c!]) assert.equal((await post(h.url, headers, rpc('ping', {}, 1))).status, 200);
    const events = new SseReader(await getStream(a!, headers));
    await events.next();
    // Each replica causes one: every copy reports each of them, the log keeps the first report.
    for (const [i, h] of [b!, c!, a!].entries()) {
      await post(h.url, headers, rpc('tools/call', { name: 'add_tool', arguments: {} }, 10 + i));
      const got = await events.nextMessage();
      assert.equal(got?.message.method, 'notifications/tools/list_changed');
      assert.equal(got?.event.id, `0.${i + 2}`, 'one event per change, numbered without gaps');
    }
    await events.cancel();
    assert.deepEqual(await standaloneLog(prefix, sessionId), [
      ...Array(3).fill('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}'),
    ]);

    // The backplane itself: the same change id twice is logged once; other messages always are.
    const plane = planes[1]!;
    const data = '{"jsonrpc":"2.0","method":"notifications/resources/list_changed"}';
    const first = await plane.append(sessionId, '0', undefined, data, 60_000, 'change-x');
    assert.equal(first, 5);
    assert.equal(await plane.append(sessionId, '0', undefined, data, 60_000, 'change-x'), 0);
    assert.equal(await plane.append(sessionId, '0', undefined, data, 60_000), 6);
    assert.equal(await plane.append(sessionId, '0', undefined, data, 60_000, 'change-y'), 7);
    assert.deepEqual(
      (await plane.read(sessionId, '0', 4)).map((e) => e.seq),
      [5, 6, 7],
    );
    assert.equal(await plane.append('no-such-session', '0', undefined, data, 60_000, 'change-x'), undefined);
  });

  test('DELETE on C ends the session everywhere: 404 on A and B, A’s GET stream ends, B’s request is cancelled', async () => {
    const {
      replicas: [a, b, c],
      prefix,
    } = await cluster(3);
    const { headers } = await initialize(a!.url);
    const stream = new SseReader(await getStream(a!, headers));
    await stream.next();
    const running = post(
      b!.url,
      headers,
      rpc('tools/call', { name: 'wait', arguments: { tag: 'd1' } }, 'd1'),
    );
    await b!.probe.wait('wait:d1:started');

    // A DELETE without a session id changes nothing (there is no session to delete: 405).
    const missing = await fetch(c!.url, { method: 'DELETE', headers: json });
    assert.equal(missing.status, 405);
    await missing.body?.cancel();

    const del = await fetch(c!.url, { method: 'DELETE', headers });
    assert.equal(del.status, 204);
    assert.equal(del.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await stream.rest(), [], 'A’s GET stream ends');
    await b!.probe.wait('wait:d1:aborted');
    await running;
    for (const h of [a!, b!, c!]) {
      assertRpcError(await post(h.url, headers, rpc('ping', {}, 9)), 404, SessionNotFound, 9);
    }
    const again = await fetch(a!.url, { method: 'DELETE', headers });
    assert.equal(again.status, 404);
    await again.body?.cancel();
    assert.deepEqual(
      (await keysUnder(prefix)).filter((k) => k.includes(headers['mcp-session-id'] ?? '')),
      [],
      'nothing of the session is left in Redis',
    );
  });

  test('a session is bound to its principal on every replica; another principal gets 404', async () => {
    const users: Record<string, Principal> = {
      alice: { subject: 'alice', clientId: 'app', scopes: [] },
      bob: { subject: 'bob', clientId: 'app', scopes: [] },
      aliceOther: { subject: 'alice', clientId: 'other-app', scopes: [] },
    };
    const {
      replicas: [a, b],
    } = await cluster(2, {
      guard: (req) => {
        const who = req.headers['x-user'];
        const principal = typeof who === 'string' ? users[who] : undefined;
        return principal
          ? { principal }
          : { status: 401, headers: { 'www-authenticate': 'Bearer' }, body: '' };
      },
    });
    const { headers } = await initialize(a!.url, '2025-11-25', {}, { 'x-user': 'alice' });
    for (const who of ['bob', 'aliceOther']) {
      const r = await post(b!.url, { ...headers, 'x-user': who }, rpc('tools/list', {}, 2));
      assertRpcError(r, 404, SessionNotFound, 2);
      const get = await getStream(b!, { ...headers, 'x-user': who });
      assert.equal(get.status, 404);
      await get.body?.cancel();
      const del = await fetch(b!.url, { method: 'DELETE', headers: { ...headers, 'x-user': who } });
      assert.equal(del.status, 404);
      await del.body?.cancel();
    }
    assert.equal((await post(b!.url, headers, rpc('tools/list', {}, 3))).status, 200, 'alice’s, still');
  });

  test('an idle session expires on every replica', async () => {
    const {
      replicas: [a, b],
    } = await cluster(2, { sessionIdleTimeoutMs: 200 });
    const { headers } = await initialize(a!.url);
    assert.equal((await post(b!.url, headers, rpc('ping', {}, 1))).status, 200);
    // Every request is activity, so each attempt waits well past the timeout.
    let status = 200;
    for (let i = 0; i < 50 && status !== 404; i++) {
      await new Promise((r) => setTimeout(r, 500));
      status = (await post(i % 2 ? a!.url : b!.url, headers, rpc('ping', {}, 1))).status;
    }
    assert.equal(status, 404);
  });
});

describe('2024-11-05 HTTP+SSE across replicas', () => {
  test('the connection on A is the session; POST /messages on B and C are answered on A’s stream', async () => {
    const {
      replicas: [a, b, c],
    } = await cluster(3);
    const res = await fetch(new URL('/sse', a!.origin), { headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    const events = new SseReader(res);
    const endpoint = await events.next();
    assert.equal(endpoint?.event, 'endpoint');
    const path = endpoint?.data ?? '';
    const send = (h: Harness, body: string) =>
      post(new URL(path, h.origin), { 'content-type': 'application/json' }, body);
    const init = await send(
      b!,
      rpc(
        'initialize',
        { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        1,
      ),
    );
    assert.equal(init.status, 202);
    const initialized = await events.nextMessage();
    assert.equal(initialized?.message.id, 1);
    assert.equal(initialized?.message.result.protocolVersion, '2024-11-05');
    assert.equal(
      (await send(c!, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))).status,
      202,
    );
    assert.equal(
      (await send(c!, rpc('tools/call', { name: 'echo', arguments: { text: 'hi' } }, 2))).status,
      202,
    );
    const echoed = await events.nextMessage();
    assert.equal(echoed?.message.id, 2);
    assert.equal(echoed?.message.result.content[0].text, 'hi');

    // A change caused on B reaches the session through A, which holds the connection.
    assert.equal((await send(b!, rpc('tools/call', { name: 'add_tool', arguments: {} }, 3))).status, 202);
    const two = [await events.nextMessage(), await events.nextMessage()].map(
      (m) => m?.message.method ?? m?.message.id,
    );
    assert.deepEqual(two.sort(), [3, 'notifications/tools/list_changed'].sort());

    // Unknown or missing sessionId: 404 and 400 on any replica.
    const unknown = await post(new URL('/messages?sessionId=nope', b!.origin), json, rpc('ping', {}, 3));
    assertRpcError(unknown, 404, SessionNotFound);
    const missing = await post(new URL('/messages', c!.origin), json, rpc('ping', {}, 3));
    assertRpcError(missing, 400, BadRequest);
    // A Streamable HTTP request naming this session: the other transport's session is not found.
    const cross = await post(
      b!.url,
      { ...json, 'mcp-session-id': new URL(path, a!.origin).searchParams.get('sessionId') ?? '' },
      rpc('ping', {}, 4),
    );
    assertRpcError(cross, 404, SessionNotFound, 4);

    // Closing the connection ends the session on every replica.
    await events.cancel();
    await eventually(
      async () => (await send(b!, rpc('ping', {}, 5))).status === 404,
      '404 after the stream closed',
    );
  });
});

describe('Redis unreachable', () => {
  test('session paths answer 503 with Cache-Control: no-store and a JSON-RPC error; service comes back', async () => {
    const redis = await startPrivateRedis();
    let plane: RedisSessionBackplane;
    try {
      plane = await createRedisSessionBackplane({
        url: redis.url,
        prefix: 'keyhole-test:',
        commandTimeoutMs: 1000,
      });
    } catch (err) {
      await redis.close();
      throw err;
    }
    const h = await start({ sessionBackplane: plane });
    try {
      const { headers } = await initialize(h.url);
      await redis.crash();
      const r = await post(h.url, headers, rpc('ping', {}, 1));
      assertRpcError(r, 503, BadRequest, 1);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const init = await post(
        h.url,
        json,
        rpc(
          'initialize',
          { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
          2,
        ),
      );
      assertRpcError(init, 503, BadRequest, 2);
      const get = await getStream(h, headers);
      assert.equal(get.status, 503);
      await get.body?.cancel();
      // Redis returns empty (crashed, nothing on disk): the old session is gone, a new one works.
      await redis.start();
      await eventually(
        async () => (await post(h.url, headers, rpc('ping', {}, 3))).status === 404,
        'Redis is back',
      );
      await initialize(h.url);
    } finally {
      await h.close();
      await plane.close();
      await redis.close();
    }
  });
});

describe('a session state write that fails', () => {
  // The write must fail after the session was read and the request ran: a window no real outage hits
  // reliably, so the fault is injected on the way to a real Redis (the only stand-in in this file).
  test('a 2025-03-26 batch whose logging/setLevel cannot be shared answers 503 no-store, not 500', async () => {
    const { RedisUnavailableError } = await import('../../../src/storage/redis/client.ts');
    const prefix = `keyhole-test:${randomUUID()}:`;
    const plane = await createRedisSessionBackplane({ url: REDIS_URL, prefix });
    let failMutations = false;
    const faulty = new Proxy(plane, {
      get(target, key) {
        if (key === 'mutate' && failMutations) {
          return () => Promise.reject(new RedisUnavailableError(REDIS_URL));
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const h = await start({ sessionBackplane: faulty });
    try {
      const { headers } = await initialize(h.url, '2025-03-26');
      const batch = JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'debug' } },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      ]);
      failMutations = true;
      const r = await post(h.url, headers, batch);
      assertRpcError(r, 503, BadRequest, null);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      // Redis answering again, the same batch is answered in full.
      failMutations = false;
      const ok = await post(h.url, headers, batch);
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual((ok.json as { id: number }[]).map((m) => m.id).sort(), [1, 2]);
    } finally {
      await h.close();
      await plane.close();
      await dropKeys(prefix);
    }
  });
});
