// The authorization server's back channel over real HTTP: createHttpApp with the AS route table, the
// memory storage behind a recorder of every effective write (so a negative test can assert that a
// request changed nothing), a settable clock, and helpers to seed clients, users and codes the way the
// front channel would have stored them.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ClientRegistry } from '../../src/authserver/clients/registry.ts';
import { type AuthServerContext, resolveAuthServerConfig } from '../../src/authserver/context.ts';
import { KeyManager } from '../../src/authserver/keys.ts';
import { s256Challenge } from '../../src/authserver/pkce.ts';
import { MemoryRateLimiter } from '../../src/authserver/rate-limit.ts';
import { createAuthRoutes } from '../../src/authserver/routes.ts';
import { hashSecret, randomSecret } from '../../src/authserver/secrets.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import type { AuthConfig } from '../../src/config/types.ts';
import { EventBus, type SecurityEvent, type SecurityEventType } from '../../src/observability/events.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Engine } from '../../src/protocol/engine.ts';
import { McpServer } from '../../src/server/server.ts';
import { MemoryStorage } from '../../src/storage/memory/index.ts';
import type { ClientRecord, Storage, UserRecord } from '../../src/storage/types.ts';
import { createHttpApp, type HttpApp, type Routes } from '../../src/transport/http/app.ts';

export interface HarnessOptions {
  auth?: Partial<AuthConfig>;
  /** Path of the issuer under the listener's origin ('' by default), e.g. '/tenant'. */
  issuerPath?: string;
  toolScopes?: string[];
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: OAuth JSON bodies are inspected field by field.
  json: any;
}

export interface SeededClient {
  clientId: string;
  secret?: string;
  record: ClientRecord;
}

export interface SeededCode {
  code: string;
  verifier: string;
  codeHash: string;
}

export interface Harness {
  readonly app: HttpApp;
  readonly origin: string;
  readonly issuer: string;
  readonly resource: string;
  readonly ctx: AuthServerContext;
  readonly storage: MemoryStorage;
  readonly keys: KeyManager;
  readonly events: SecurityEvent[];
  /** Effective storage writes since the last reset, as `store.method`. */
  readonly writes: string[];
  /** The server's clock, epoch ms; tests move it instead of sleeping. */
  clock: number;
  advance(seconds: number): void;
  client(init?: Partial<ClientRecord> & { confidential?: boolean }): Promise<SeededClient>;
  user(init?: Partial<UserRecord>): Promise<UserRecord>;
  code(client: SeededClient, user: UserRecord, init?: CodeInit): Promise<SeededCode>;
  post(path: string, form: Form, headers?: Record<string, string>): Promise<Reply>;
  request(path: string, init?: RequestInit): Promise<Reply>;
  /** Runs `fn` and asserts it caused no storage write and no security event besides those allowed. */
  unchanged<T>(fn: () => Promise<T>, allowEvents?: string[]): Promise<T>;
  eventsOf<K extends SecurityEventType>(type: K): Extract<SecurityEvent, { type: K }>[];
  close(): Promise<void>;
}

export type Form = Record<string, string | string[] | undefined>;

export interface CodeInit {
  redirectUri?: string;
  scopes?: string[];
  resource?: string;
  verifier?: string;
  method?: 'S256' | 'plain';
  ttlSec?: number;
}

export const REDIRECT = 'http://127.0.0.1:7777/callback';

export async function startAuthServer(options: HarnessOptions = {}): Promise<Harness> {
  const events: SecurityEvent[] = [];
  const writes: string[] = [];
  const state = { clock: Date.now() };
  const now = () => state.clock;
  const memory = new MemoryStorage({ now });
  const storage = recordWrites(memory, writes);
  const bus = new EventBus();
  bus.on((e) => events.push(e));
  const keys = await KeyManager.open(memory.keys, {
    alg: options.auth?.signingAlg ?? 'ES256',
    hs256Secret: options.auth?.hs256Secret,
    keySecret: 'k'.repeat(32),
    overlapSec: 3600,
    now,
    reloadIntervalSec: 0,
  });

  let routes: Routes | undefined;
  const app = createHttpApp(new Engine(new McpServer({ name: 'as-test' })), {
    port: 0,
    host: '127.0.0.1',
    routes: (req, res) => (routes ? routes(req, res) : false),
  });
  await app.listen();
  const origin = `http://127.0.0.1:${app.address()?.port}`;
  const auth: AuthConfig = {
    ...DEFAULTS.auth,
    // Tests send many requests in one instant of the fixed clock; the rate-limit test sets its own.
    rateLimitPerMinute: 1_000_000,
    ...options.auth,
    issuer: options.issuerPath ? `${origin}${options.issuerPath}` : undefined,
  };
  const config = resolveAuthServerConfig(auth, {
    publicUrl: origin,
    mcpPath: '/mcp',
    toolScopes: options.toolScopes ?? ['files:read', 'files:write', 'admin'],
  });
  const ctx: AuthServerContext = {
    config,
    storage,
    keys,
    clients: new ClientRegistry({ clients: storage.clients, now }),
    events: bus,
    rateLimit: new MemoryRateLimiter(),
    logger: silentLogger,
    now,
  };
  routes = createAuthRoutes(ctx);

  const request = async (path: string, init: RequestInit = {}): Promise<Reply> => {
    const res = await fetch(new URL(path, origin), init);
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  const harness: Harness = {
    app,
    origin,
    issuer: config.issuer,
    resource: config.resource,
    ctx,
    storage: memory,
    keys,
    events,
    writes,
    get clock() {
      return state.clock;
    },
    set clock(value: number) {
      state.clock = value;
    },
    advance(seconds) {
      state.clock += seconds * 1000;
    },
    async client(init = {}) {
      const { confidential, ...fields } = init;
      const method = fields.tokenEndpointAuthMethod ?? (confidential ? 'client_secret_basic' : 'none');
      const secret = method === 'none' ? undefined : randomSecret();
      const record: ClientRecord = {
        clientId: randomUUID(),
        source: 'dynamic',
        redirectUris: [REDIRECT],
        grantTypes: ['authorization_code', 'refresh_token'],
        responseTypes: ['code'],
        tokenEndpointAuthMethod: method,
        metadata: {},
        createdAt: state.clock,
        ...(secret ? { secretHash: hashSecret(secret), secretExpiresAt: 0 } : {}),
        ...fields,
      };
      await memory.clients.create(record);
      return { clientId: record.clientId, record, ...(secret ? { secret } : {}) };
    },
    async user(init = {}) {
      const user: UserRecord = {
        id: randomUUID(),
        username: `user-${randomUUID().slice(0, 8)}`,
        passwordHash: 'scrypt$unused',
        createdAt: state.clock,
        ...init,
      };
      await memory.users.create(user);
      return user;
    },
    async code(client, user, init = {}) {
      const code = randomSecret();
      const verifier = init.verifier ?? randomSecret(48);
      const method = init.method ?? 'S256';
      const codeHash = hashSecret(code);
      await memory.codes.put({
        codeHash,
        clientId: client.clientId,
        userId: user.id,
        redirectUri: init.redirectUri ?? REDIRECT,
        scopes: init.scopes ?? ['files:read', 'files:write'],
        resource: init.resource ?? config.resource,
        codeChallenge: method === 'S256' ? s256Challenge(verifier) : verifier,
        codeChallengeMethod: method,
        authTime: state.clock - 5_000,
        expiresAt: state.clock + (init.ttlSec ?? 60) * 1000,
      });
      return { code, verifier, codeHash };
    },
    post(path, form, headers = {}) {
      return request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: encodeForm(form),
      });
    },
    request,
    async unchanged(fn, allowEvents = []) {
      writes.length = 0;
      const before = events.length;
      const result = await fn();
      assert.deepEqual(writes, [], 'the request must not change storage');
      const emitted = events.slice(before).map((e) => e.type);
      assert.deepEqual(
        emitted.filter((t) => !allowEvents.includes(t)),
        [],
        'the request must not emit security events',
      );
      return result;
    },
    eventsOf<K extends SecurityEventType>(type: K) {
      return events.filter((e): e is Extract<SecurityEvent, { type: K }> => e.type === type);
    },
    async close() {
      keys.close();
      await app.close();
    },
  };
  return harness;
}

export function encodeForm(form: Form): string {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
  }
  return body.toString();
}

/** RFC 6749 §2.3.1: each of id and secret form-urlencoded, joined by ':', base64. */
export function basic(clientId: string, secret: string): Record<string, string> {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return { authorization: `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}` };
}

/** How a seeded client authenticates at the token endpoint, per its registered method. */
export function credentials(client: SeededClient): { form: Form; headers: Record<string, string> } {
  switch (client.record.tokenEndpointAuthMethod) {
    case 'client_secret_basic':
      return { form: {}, headers: basic(client.clientId, client.secret!) };
    case 'client_secret_post':
      return { form: { client_id: client.clientId, client_secret: client.secret! }, headers: {} };
    default:
      return { form: { client_id: client.clientId }, headers: {} };
  }
}

/** POST to `path` as `client`, with `form`. */
export function asClient(h: Harness, client: SeededClient, path: string, form: Form): Promise<Reply> {
  const auth = credentials(client);
  return h.post(path, { ...auth.form, ...form }, auth.headers);
}

/** Exchanges a seeded code the way a correct client does. */
export function exchange(
  h: Harness,
  client: SeededClient,
  code: SeededCode,
  extra: Form = {},
): Promise<Reply> {
  return asClient(h, client, '/token', {
    grant_type: 'authorization_code',
    code: code.code,
    code_verifier: code.verifier,
    redirect_uri: REDIRECT,
    ...extra,
  });
}

export function refresh(
  h: Harness,
  client: SeededClient,
  refreshToken: string,
  extra: Form = {},
): Promise<Reply> {
  return asClient(h, client, '/token', {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    ...extra,
  });
}

/** Asserts an RFC 6749 §5.2 error response: status, `error` code, no-store. */
export function assertOAuthError(reply: Reply, status: number, error: string): void {
  assert.equal(reply.status, status, `status (body: ${reply.text})`);
  assert.equal(reply.json?.error, error, `error code (body: ${reply.text})`);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(reply.headers.get('cache-control'), 'no-store');
  if (reply.json.error_description !== undefined) {
    // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
    assert.match(reply.json.error_description, /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/);
  }
}

const MUTATORS: Record<string, readonly string[]> = {
  clients: ['create', 'delete'],
  users: ['create', 'setPassword', 'delete'],
  consents: ['put', 'revoke'],
  codes: ['put', 'consume', 'markRedeemed'],
  grants: ['create', 'rotate', 'revoke'],
  revocations: ['revoke'],
  keys: ['put', 'update'],
  audit: ['append'],
};

/** Whether a call changed anything: a consume or rotate only when it succeeded, a grant revocation only when live. */
function effective(store: string, method: string, result: unknown): boolean {
  if (method === 'consume' || method === 'rotate') return (result as { status: string }).status === 'ok';
  if (store === 'grants' && method === 'revoke') return result === true;
  if (store === 'consents' && method === 'revoke') return (result as number) > 0;
  return true;
}

/** The storage with every effective write appended to `writes` (the stores themselves are untouched). */
function recordWrites(storage: MemoryStorage, writes: string[]): Storage {
  const wrap = <T extends object>(name: string, store: T): T =>
    new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        const method = String(prop);
        if (!MUTATORS[name]?.includes(method)) return value.bind(target);
        return async (...args: unknown[]) => {
          const result = await value.apply(target, args);
          if (effective(name, method, result)) writes.push(`${name}.${method}`);
          return result;
        };
      },
    });
  return {
    kind: storage.kind,
    clients: wrap('clients', storage.clients),
    users: wrap('users', storage.users),
    consents: wrap('consents', storage.consents),
    codes: wrap('codes', storage.codes),
    grants: wrap('grants', storage.grants),
    revocations: wrap('revocations', storage.revocations),
    keys: wrap('keys', storage.keys),
    audit: wrap('audit', storage.audit),
    ping: () => storage.ping(),
    close: () => storage.close(),
  };
}
