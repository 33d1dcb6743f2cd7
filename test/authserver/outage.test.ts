// Storage outages at the authorization server (issue #4 "Failure"), black-box through HTTP: a real
// Keyhole on PostgreSQL + Redis — PRIVATE servers (test/support/services.ts) that the tests stop and
// start again. While a dependency is down, the endpoints that need it answer 503 with
// `Cache-Control: no-store` and `Retry-After` (JSON `temporarily_unavailable`, RFC 6749 §4.1.2.1, or
// an HTML page), promptly, and never issue a token; once it is back the same requests succeed,
// without restarting anything. Then the documented state of a code when storage fails in the middle
// of its exchange, with faults injected at exact steps.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { MemoryRateLimiter, type RateLimiter } from '../../src/authserver/rate-limit.ts';
import { RedisRateLimiter } from '../../src/authserver/rate-limit-redis.ts';
import type { SecurityEvent } from '../../src/observability/events.ts';
import { composeStorage } from '../../src/storage/compose.ts';
import { StorageUnavailableError } from '../../src/storage/errors.ts';
import { openStorage } from '../../src/storage/open.ts';
import { openPostgresStorage } from '../../src/storage/postgres/index.ts';
import { connectRedis, type RedisClient } from '../../src/storage/redis/client.ts';
import { openRedisStores } from '../../src/storage/redis/index.ts';
import type { Storage } from '../../src/storage/types.ts';
import {
  addUser,
  authorizeInBrowser,
  pkce,
  REDIRECT_URI,
  type RunningKeyhole,
  registerClient,
  startKeyhole,
} from '../e2e/harness.ts';
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
  waitFor,
} from '../support/services.ts';
import { Browser } from './browser.ts';

/** Generous bound on "answered promptly" (the adapters' own budgets are about 2 s): a hang fails the test. */
const PROMPT_MS = 8000;

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

async function post(
  url: string,
  body: URLSearchParams | object,
  accept = 'application/json',
): Promise<Reply> {
  const form = body instanceof URLSearchParams;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json', accept },
    body: form ? body.toString() : JSON.stringify(body),
    // A request that hangs is a failure, not a slow pass.
    signal: AbortSignal.timeout(PROMPT_MS),
  });
  return reply(res);
}

async function get(url: string | URL, accept: string): Promise<Reply> {
  const res = await fetch(url, {
    headers: { accept },
    redirect: 'manual',
    signal: AbortSignal.timeout(PROMPT_MS),
  });
  return reply(res);
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The 503 of a storage outage: no-store, Retry-After, `temporarily_unavailable`, and no token. */
function assertOutage(r: Reply, what: string, kind: 'json' | 'html' = 'json'): void {
  assert.equal(r.status, 503, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(r.headers.get('cache-control'), 'no-store', what);
  assert.equal(r.headers.get('retry-after'), '1', what);
  if (kind === 'json') {
    assert.equal(r.json?.error, 'temporarily_unavailable', what);
    assert.equal(typeof r.json?.error_description, 'string', what);
    assert.equal(r.json?.access_token, undefined, `${what}: no token during an outage`);
    assert.equal(r.json?.refresh_token, undefined, `${what}: no token during an outage`);
  } else {
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/, what);
    assert.match(r.text, /temporarily unavailable/i, what);
  }
}

/** Polls `attempt` until it answers something other than 503 (the dependency is back). */
async function afterRecovery(what: string, attempt: () => Promise<Reply>): Promise<Reply> {
  let last: Reply | undefined;
  await waitFor(
    what,
    async () => {
      last = await attempt();
      return last.status !== 503;
    },
    30_000,
  );
  return last!;
}

interface Flow {
  clientId: string;
  code: string;
  verifier: string;
}

/** Registers a public client and runs the browser part of the flow: a code, not yet exchanged. */
async function codeFor(k: RunningKeyhole, username: string, clientId?: string): Promise<Flow> {
  const id = clientId ?? (await registerClient(k));
  const { verifier, challenge } = pkce();
  const url = new URL(`${k.issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: id,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: k.mcpUrl.href,
    state: randomBytes(8).toString('hex'),
  }).toString();
  const back = await authorizeInBrowser(url, { username });
  const code = back.searchParams.get('code');
  assert.ok(code, `no code in ${back.href}`);
  return { clientId: id, code, verifier };
}

function exchange(k: RunningKeyhole, flow: Flow): Promise<Reply> {
  return post(
    `${k.issuer}/token`,
    new URLSearchParams({
      grant_type: 'authorization_code',
      code: flow.code,
      code_verifier: flow.verifier,
      client_id: flow.clientId,
      redirect_uri: REDIRECT_URI,
      resource: k.mcpUrl.href,
    }),
  );
}

function refresh(k: RunningKeyhole, clientId: string, refreshToken: string): Promise<Reply> {
  return post(
    `${k.issuer}/token`,
    new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  );
}

function authorizeUrl(k: RunningKeyhole, clientId: string): URL {
  const url = new URL(`${k.issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    resource: k.mcpUrl.href,
  }).toString();
  return url;
}

/** Token-issuing events while `fn` runs. */
async function issuedDuring(k: RunningKeyhole, fn: () => Promise<void>): Promise<SecurityEvent[]> {
  const seen: SecurityEvent[] = [];
  const off = k.keyhole.auth!.events.on((e) => {
    if (e.type === 'token.issued' || e.type === 'token.refreshed') seen.push(e);
  });
  try {
    await fn();
  } finally {
    off();
  }
  return seen;
}

describe('PostgreSQL and Redis outages at the authorization server (private servers)', () => {
  let redis: PrivateRedis;
  let pg: PrivatePostgres;
  let databases = 0;
  const opened: (() => Promise<void>)[] = [];

  before(async () => {
    [redis, pg] = await Promise.all([startPrivateRedis(), startPrivatePostgres()]);
  });
  after(async () => {
    for (const close of opened.reverse()) await close().catch(() => {});
    await Promise.all([redis?.close(), pg?.close()]);
  });

  /** A Keyhole on its own database and key prefix of the private servers; the limiter in Redis or memory. */
  async function start(limiter: 'redis' | 'memory'): Promise<RunningKeyhole> {
    const url = await pg.createDatabase(`outage_${databases++}`);
    const prefix = `outage-${randomBytes(4).toString('hex')}:`;
    // Composed by hand, as openStorage({ kind: 'postgres', url, redisUrl }) does.
    const durable = await openPostgresStorage(url);
    const storage = composeStorage(durable, await openRedisStores({ url: redis.url, prefix }));
    let client: RedisClient | undefined;
    let rateLimit: RateLimiter = new MemoryRateLimiter();
    if (limiter === 'redis') {
      client = await connectRedis({ url: redis.url });
      rateLimit = new RedisRateLimiter(client, { prefix });
    }
    const k = await startKeyhole({ auth: { storage, rateLimit } });
    opened.push(async () => {
      await k.stop({ remove: true });
      if (client?.isOpen) await client.close();
    });
    await addUser(k, 'alice');
    return k;
  }

  test('Redis stopped: /token (code and refresh), /revoke and /authorize answer 503; no token; the same requests succeed once it is back', async () => {
    const k = await start('redis');
    const first = await codeFor(k, 'alice');
    const tokens = (await exchange(k, first)).json!;
    assert.equal(typeof tokens.refresh_token, 'string');
    const pending = await codeFor(k, 'alice', first.clientId);

    await redis.stop();
    const issued = await issuedDuring(k, async () => {
      // The rate limiter is in Redis: it fails closed (503), it does not wave requests through.
      assertOutage(await exchange(k, pending), 'code exchange');
      assertOutage(await refresh(k, first.clientId, tokens.refresh_token as string), 'refresh');
      assertOutage(
        await post(
          `${k.issuer}/revoke`,
          new URLSearchParams({ token: tokens.access_token as string, client_id: first.clientId }),
        ),
        'revoke',
      );
      assertOutage(await get(authorizeUrl(k, first.clientId), 'text/html'), 'authorize page', 'html');
      assertOutage(await get(authorizeUrl(k, first.clientId), 'application/json'), 'authorize (JSON)');
    });
    assert.deepEqual(issued, [], 'no token issued during the outage');

    await redis.start();
    // The same code, untouched by the failed attempts, is exchanged once Redis is back.
    const exchanged = await afterRecovery('the code exchange to succeed again', () => exchange(k, pending));
    assert.equal(exchanged.status, 200, exchanged.text);
    assert.equal(typeof exchanged.json?.access_token, 'string');
    const refreshed = await refresh(k, first.clientId, tokens.refresh_token as string);
    assert.equal(refreshed.status, 200, refreshed.text);
    // …and only once: single use survived the outage.
    const again = await exchange(k, pending);
    assert.equal(again.status, 400);
    assert.equal(again.json?.error, 'invalid_grant');
  });

  test('Redis stopped with the limiter in memory: the exchange fails at the code itself (503), and the code is still redeemable after', async () => {
    const k = await start('memory');
    const pending = await codeFor(k, 'alice');
    await redis.stop();
    const issued = await issuedDuring(k, async () => {
      assertOutage(await exchange(k, pending), 'code exchange');
      assertOutage(await exchange(k, pending), 'code exchange, again');
    });
    assert.deepEqual(issued, []);
    await redis.start();
    const exchanged = await afterRecovery('the code exchange to succeed again', () => exchange(k, pending));
    assert.equal(exchanged.status, 200, exchanged.text);
  });

  test('PostgreSQL stopped: registration, token (code and refresh), authorize and sign-in answer 503; the same requests succeed once it is back', async () => {
    const k = await start('redis');
    const first = await codeFor(k, 'alice');
    const tokens = (await exchange(k, first)).json!;
    const pending = await codeFor(k, 'alice', first.clientId);
    // A sign-in page opened before the outage, submitted during it.
    const browser = new Browser();
    const loginPage = await browser.navigate(authorizeUrl(k, first.clientId));
    assert.equal(loginPage.status, 200);
    const registration = {
      client_name: 'During the outage',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };

    await pg.stop();
    const issued = await issuedDuring(k, async () => {
      assertOutage(await post(`${k.issuer}/register`, registration), 'register');
      assertOutage(await exchange(k, pending), 'code exchange');
      assertOutage(await refresh(k, first.clientId, tokens.refresh_token as string), 'refresh');
      assertOutage(await get(authorizeUrl(k, first.clientId), 'text/html'), 'authorize page', 'html');
      const signIn = await browser.submit(loginPage, {
        fields: { username: 'alice', password: 'correct horse battery staple' },
      });
      assert.equal(signIn.status, 503, signIn.body.slice(0, 200));
      assert.equal(signIn.headers.get('cache-control'), 'no-store');
      assert.equal(signIn.headers.get('retry-after'), '1');
    });
    assert.deepEqual(issued, [], 'no token issued during the outage');

    await pg.start();
    const registered = await afterRecovery('registration to succeed again', () =>
      post(`${k.issuer}/register`, registration),
    );
    assert.equal(registered.status, 201, registered.text);
    // The client lookup failed before the code was touched: the same code is exchanged now.
    const exchanged = await exchange(k, pending);
    assert.equal(exchanged.status, 200, exchanged.text);
    const refreshed = await refresh(k, first.clientId, tokens.refresh_token as string);
    assert.equal(refreshed.status, 200, refreshed.text);
    const page = await get(authorizeUrl(k, first.clientId), 'text/html');
    assert.equal(page.status, 200);
  });
});

// ---------------------------------------------------------------------------------------------------
// Failures in the middle of a code exchange: the documented state (grants/authorization-code.ts)

/** `store` whose methods named in `failing` reject as an outage while `failing` holds them. */
function faulty<T extends object>(store: T, failing: Set<string>): T {
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        failing.has(String(prop))
          ? Promise.reject(new StorageUnavailableError('test', 'injected outage'))
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
}

describe('a storage failure in the middle of a code exchange leaves nothing usable', () => {
  let k: RunningKeyhole;
  let userId: string;
  const failing = new Set<string>();
  let storage: Storage;

  before(async () => {
    const memory = await openStorage({ kind: 'memory' });
    storage = {
      ...memory,
      users: faulty(memory.users, failing),
      revocations: faulty(memory.revocations, failing),
      ping: () => memory.ping(),
      close: () => memory.close(),
    };
    k = await startKeyhole({ auth: { storage } });
    userId = (await addUser(k, 'bob')).id;
  });
  after(async () => {
    await k?.stop({ remove: true });
  });

  test('after the code is consumed (user lookup fails): 503, then the code is spent (invalid_grant) and no grant exists', async () => {
    const flow = await codeFor(k, 'bob');
    const before = (await storage.grants.listBySubject(userId)).length;
    failing.add('get');
    try {
      assertOutage(await exchange(k, flow), 'exchange with the user store down');
    } finally {
      failing.clear();
    }
    const retry = await exchange(k, flow);
    assert.equal(retry.status, 400, retry.text);
    assert.equal(retry.json?.error, 'invalid_grant');
    assert.equal((await storage.grants.listBySubject(userId)).length, before, 'no grant was created');
  });

  test('after the grant is stored (revocation check fails): 503, the grant is revoked, the code is spent', async () => {
    const flow = await codeFor(k, 'bob');
    const known = new Set((await storage.grants.listBySubject(userId)).map((g) => g.id));
    failing.add('isRevoked');
    try {
      assertOutage(await exchange(k, flow), 'exchange with the revocation store down');
    } finally {
      failing.clear();
    }
    const created = (await storage.grants.listBySubject(userId)).filter((g) => !known.has(g.id));
    assert.equal(created.length, 1);
    assert.notEqual(created[0]!.revokedAt, undefined, 'the grant of the failed exchange is revoked');
    const retry = await exchange(k, flow);
    assert.equal(retry.status, 400, retry.text);
    assert.equal(retry.json?.error, 'invalid_grant');
  });

  test('control: without a fault the same steps issue tokens', async () => {
    const flow = await codeFor(k, 'bob');
    const r = await exchange(k, flow);
    assert.equal(r.status, 200, r.text);
  });
});
