// Client ID Metadata Documents (MCP 2026-07-28 basic/authorization/client-registration;
// draft-ietf-oauth-client-id-metadata-document-00): a client_id that is an https URL names a JSON
// document with the client's metadata, which the authorization server fetches on first use.
// The fetch is the dangerous part — the URL comes from whoever calls /authorize — so it is fenced:
// public addresses only, checked at connect time; no redirects; a size cap; a deadline; JSON only.
// Good documents are cached per their HTTP caching headers; failures never are; concurrent lookups
// of one URL share one fetch.

import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { ClientRecord } from '../../storage/types.ts';
import { freshnessLifetimeMs } from './http-cache.ts';
import { quoted, validateClientMetadata } from './metadata.ts';
import { isPublicAddress, publicOnlyLookup } from './ssrf.ts';

export interface CimdOptions {
  /** Whole fetch, connect to last byte. Default 5 s. */
  timeoutMs?: number;
  /** Largest accepted document. Default 64 KiB; anything bigger is aborted mid-transfer. */
  maxBytes?: number;
  /** Cache lifetime when the response has no caching headers. Default 1 hour. */
  defaultTtlMs?: number;
  /** Cache lifetime ceiling whatever the headers say. Default 24 hours. */
  maxTtlMs?: number;
  /** Most documents kept; the oldest is dropped beyond it. Default 1,000. */
  maxEntries?: number;
  /** Most fetches of different URLs in flight at once; beyond it lookups fail at once. Default 32. */
  maxConcurrent?: number;
  /**
   * TESTS ONLY: exact `host:port` values (e.g. `127.0.0.1:8443`) exempt from the public-address rule,
   * so a test can serve a document from loopback. Never set it from configuration.
   */
  allowHosts?: readonly string[];
  /** Extra trusted CA certificates (PEM), for tests with a self-signed server. */
  ca?: string | Buffer;
  now?: () => number;
  /**
   * Where fetched documents are kept (default: this process's memory, `maxEntries` at most). A shared
   * cache (Redis) lets every replica use a document one of them fetched (issue #4 "Adapters").
   */
  cache?: CimdCache;
}

/**
 * The cache of fetched documents, as client records with their expiry. A cache that fails (Redis down)
 * is a miss: the document is fetched again, which is always safe.
 */
export interface CimdCache {
  get(clientId: string, now: number): Promise<ClientRecord | undefined>;
  set(clientId: string, client: ClientRecord, expiresAt: number, now: number): Promise<void>;
  delete(clientId: string): Promise<void>;
}

/** Process-local cache, dropping the oldest entry beyond `maxEntries`; also answers synchronously. */
export class MemoryCimdCache implements CimdCache {
  readonly #entries = new Map<string, { client: ClientRecord; expiresAt: number }>();
  readonly #maxEntries: number;

  constructor(maxEntries = 1_000) {
    this.#maxEntries = maxEntries;
  }

  peek(clientId: string, now: number): ClientRecord | undefined {
    const cached = this.#entries.get(clientId);
    if (cached === undefined) return undefined;
    if (cached.expiresAt > now) return cached.client;
    this.#entries.delete(clientId);
    return undefined;
  }

  get(clientId: string, now: number): Promise<ClientRecord | undefined> {
    return Promise.resolve(this.peek(clientId, now));
  }

  set(clientId: string, client: ClientRecord, expiresAt: number): Promise<void> {
    if (this.#entries.size >= this.#maxEntries && !this.#entries.has(clientId)) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(clientId, { client, expiresAt });
    return Promise.resolve();
  }

  delete(clientId: string): Promise<void> {
    this.#entries.delete(clientId);
    return Promise.resolve();
  }
}

export type CimdResult = { ok: true; client: ClientRecord } | { ok: false; reason: string };

const MAX_CLIENT_ID_LENGTH = 2048;

/**
 * Whether a client_id is a metadata document URL (draft-ietf-oauth-client-id-metadata-document-00 §3):
 * https, a path other than `/`, no fragment, no credentials, no dot segments. The id must also be in
 * the URL's normal form, so the document fetched is the one the string names.
 */
export function isCimdClientId(clientId: string): boolean {
  if (clientId.length > MAX_CLIENT_ID_LENGTH || !clientId.startsWith('https://')) return false;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return false;
  }
  return (
    url.href === clientId && // also rules out dot segments, which the parser removes
    url.pathname !== '/' &&
    url.hash === '' &&
    !clientId.includes('#') &&
    url.username === '' &&
    url.password === ''
  );
}

/** Resolves metadata-document client ids to client records, with caching and coalescing. */
export class CimdResolver {
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #bounds: { defaultMs: number; maxMs: number };
  readonly #maxConcurrent: number;
  readonly #allowHosts: ReadonlySet<string>;
  readonly #ca: string | Buffer | undefined;
  readonly #now: () => number;
  readonly #cache: CimdCache;
  /** The cache when it is process-local: hits are answered without a promise turn. */
  readonly #memory: MemoryCimdCache | undefined;
  readonly #inflight = new Map<string, Promise<CimdResult>>();

  constructor(options: CimdOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024;
    this.#bounds = { defaultMs: options.defaultTtlMs ?? 3_600_000, maxMs: options.maxTtlMs ?? 86_400_000 };
    this.#cache = options.cache ?? new MemoryCimdCache(options.maxEntries ?? 1_000);
    this.#memory = this.#cache instanceof MemoryCimdCache ? this.#cache : undefined;
    this.#maxConcurrent = options.maxConcurrent ?? 32;
    this.#allowHosts = new Set(options.allowHosts ?? []);
    this.#ca = options.ca;
    this.#now = options.now ?? Date.now;
  }

  /** The client named by a metadata-document URL, or why it cannot be used. Never rejects. */
  resolve(clientId: string): Promise<CimdResult> {
    if (!isCimdClientId(clientId)) {
      return Promise.resolve({ ok: false, reason: 'client_id is not a valid https metadata document URL' });
    }
    const hit = this.#memory?.peek(clientId, this.#now());
    if (hit !== undefined) return Promise.resolve({ ok: true, client: hit });
    // Concurrent lookups of one URL share one fetch.
    const pending = this.#inflight.get(clientId);
    if (pending !== undefined) return pending;
    // A flood of distinct URLs must not turn this server into a fetching engine for someone else.
    if (this.#inflight.size >= this.#maxConcurrent) {
      return Promise.resolve({
        ok: false,
        reason: 'too many client metadata documents are being fetched; try again',
      });
    }
    const promise = this.#lookup(clientId).finally(() => this.#inflight.delete(clientId));
    this.#inflight.set(clientId, promise);
    return promise;
  }

  /** Drops a cached document (e.g. an operator revoking trust in a client). */
  async forget(clientId: string): Promise<void> {
    await this.#cache.delete(clientId);
  }

  async #lookup(clientId: string): Promise<CimdResult> {
    if (this.#memory === undefined) {
      const shared = await this.#cache.get(clientId, this.#now()).catch(() => undefined);
      if (shared !== undefined) return { ok: true, client: shared };
    }
    return this.#fetch(clientId);
  }

  async #fetch(clientId: string): Promise<CimdResult> {
    let fetched: Fetched;
    try {
      fetched = await this.#download(new URL(clientId));
    } catch (err) {
      // The message may come from TLS or DNS: keep it within what an error_description may carry.
      return {
        ok: false,
        reason: `fetching the client metadata document failed: ${quoted((err as Error).message, 200)}`,
      };
    }
    const checked = checkDocument(clientId, fetched.body);
    if (!checked.ok) return checked;
    const now = this.#now();
    const client: ClientRecord = { ...checked.client, createdAt: now };
    const ttl = freshnessLifetimeMs(fetched.headers, now, this.#bounds);
    if (ttl > 0) {
      // Not caching (a shared cache that is down) only means fetching again next time.
      await this.#cache.set(clientId, client, now + ttl, now).catch(() => {});
    }
    return { ok: true, client };
  }

  #download(url: URL): Promise<Fetched> {
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const exempt = this.#allowHosts.has(
      `${hostname.includes(':') ? `[${hostname}]` : hostname}:${url.port || '443'}`,
    );
    // IP literals never go through a lookup function, so they are checked here.
    if (!exempt && isIP(hostname) !== 0 && !isPublicAddress(hostname)) {
      return Promise.reject(new Error(`${hostname} is not a public address`));
    }
    const maxBytes = this.#maxBytes;
    return new Promise<Fetched>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: Error | Fetched) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (outcome instanceof Error) {
          reject(outcome);
          req.destroy();
        } else resolve(outcome);
      };
      const req = request(url, {
        method: 'GET',
        // A fresh connection per fetch: the address check runs on every connect, never skipped by a pooled socket.
        agent: false,
        headers: { accept: 'application/json', 'user-agent': 'keyhole-authorization-server' },
        ...(exempt ? {} : { lookup: publicOnlyLookup }),
        ...(this.#ca !== undefined ? { ca: this.#ca } : {}),
      });
      const timer = setTimeout(
        () => settle(new Error(`no complete answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      timer.unref();
      // Persistent listeners: destroying a request can emit a late second error, which must not go unhandled.
      req.on('error', settle);
      req.once('response', (res: IncomingMessage) => {
        const problem = checkResponse(res, maxBytes);
        if (problem !== undefined) {
          settle(new Error(problem));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // Stop reading at once: the rest of an oversized body is never buffered.
          if (size > maxBytes) settle(new Error(`the document is larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', settle);
        res.once('end', () => settle({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end();
    });
  }
}

interface Fetched {
  headers: IncomingMessage['headers'];
  body: string;
}

/** Status and headers of the document response; a string says what is wrong. */
function checkResponse(res: IncomingMessage, maxBytes: number): string | undefined {
  const status = res.statusCode ?? 0;
  // draft-ietf-oauth-client-id-metadata-document-00 §6 (SSRF): a redirect could point anywhere.
  if (status >= 300 && status < 400)
    return `the server answered with a redirect (HTTP ${status}), which is not followed`;
  if (status !== 200) return `the server answered HTTP ${status}`;
  // draft §4.1: served as application/json (or a more specific +json type).
  const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    return `the content type is '${quoted(type || 'none')}', not application/json`;
  }
  const encoding = res.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity')
    return 'the response is content-encoded';
  const length = res.headers['content-length'];
  if (length !== undefined && Number(length) > maxBytes)
    return `the document is larger than ${maxBytes} bytes`;
  return undefined;
}

/** The fetched document as a client, or why it is not acceptable. */
function checkDocument(
  clientId: string,
  text: string,
): { ok: true; client: Omit<ClientRecord, 'createdAt'> } | { ok: false; reason: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the client metadata document is not valid JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { ok: false, reason: 'the client metadata document is not a JSON object' };
  }
  const body = doc as Record<string, unknown>;
  // MCP client-registration "For Authorization Servers": the client_id MUST match the URL exactly
  // (draft §4.1: simple string comparison, RFC 3986 §6.2.1).
  if (body.client_id !== clientId) {
    return { ok: false, reason: 'the document client_id does not match its URL exactly' };
  }
  // draft §4.1: no shared secret can exist for such a client.
  if ('client_secret' in body || 'client_secret_expires_at' in body) {
    return { ok: false, reason: 'the document must not contain client_secret or client_secret_expires_at' };
  }
  const method = body.token_endpoint_auth_method;
  if (typeof method === 'string' && /^client_secret_/.test(method)) {
    return {
      ok: false,
      reason: `token_endpoint_auth_method '${quoted(method)}' uses a shared secret, which a metadata document cannot have`,
    };
  }
  // MCP client-registration: the document MUST include client_id, client_name and redirect_uris.
  if (typeof body.client_name !== 'string') return { ok: false, reason: 'the document has no client_name' };
  if (!Array.isArray(body.redirect_uris)) return { ok: false, reason: 'the document has no redirect_uris' };
  // Public clients only here: this server does not implement private_key_jwt (RFC 7523).
  const result = validateClientMetadata(body, { defaultAuthMethod: 'none', allowedAuthMethods: ['none'] });
  if (!result.ok) return { ok: false, reason: result.description };
  const v = result.value;
  return {
    ok: true,
    client: {
      clientId,
      source: 'cimd',
      redirectUris: v.redirectUris,
      grantTypes: v.grantTypes,
      responseTypes: v.responseTypes,
      tokenEndpointAuthMethod: v.tokenEndpointAuthMethod,
      ...(v.scope !== undefined ? { scope: v.scope } : {}),
      ...(v.clientName !== undefined ? { clientName: v.clientName } : {}),
      metadata: v.metadata,
    },
  };
}
