// Options of the HTTP transport, every default in one place, validated once at start-up.

export interface HttpOptions {
  /** Interface to bind. MCP streamable-http "Security & Endpoint": bind to localhost when running locally. */
  host: string;
  /** TCP port; 0 picks an ephemeral port. */
  port: number;
  /**
   * Public base URL clients use (e.g. `https://mcp.example.com`); its host is the one accepted in `Host`
   * and its origin in `Origin`. Default `http://{host}:{actual port}`.
   */
  publicUrl?: string;
  /** The MCP endpoint path (both eras). */
  mcpPath: string;
  /** 2024-11-05 HTTP+SSE: GET opens the stream whose first event is `endpoint`. */
  legacySsePath: string;
  /** 2024-11-05 HTTP+SSE: the client POSTs its messages here with `?sessionId=`. */
  legacyMessagesPath: string;
  /** Extra allowed `Origin` values besides the public origin (and loopback origins on a loopback bind). */
  allowedOrigins: string[];
  /** Extra allowed `Host` values besides the public host (and loopback names on a loopback bind). */
  allowedHosts: string[];
  /** Largest accepted request body; larger ones get 413. */
  maxBodyBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Legacy sessions without an open stream or request expire after this long without activity. */
  sessionIdleTimeoutMs: number;
  /** Legacy sessions held at once (both legacy transports); beyond it `initialize` gets 503. */
  maxSessions: number;
  /** Interval of `:` comment lines on open SSE streams (streamable-http "Receiving Messages" note). */
  sseKeepAliveMs: number;
  /** `retry:` sent with the priming event of 2025-11-25 streams (SEP-1699 polling). */
  sseRetryMs: number;
  /** How long close() lets in-flight requests finish before it cuts connections. */
  shutdownGraceMs: number;
}

/**
 * Defaults for embedding the transport as a library. The server's configuration (src/config/defaults.ts,
 * where each is documented) uses the same values; test/config/http-defaults.test.ts keeps them equal.
 */
export const DEFAULT_HTTP_OPTIONS: Readonly<HttpOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 3000,
  mcpPath: '/mcp',
  legacySsePath: '/sse',
  legacyMessagesPath: '/messages',
  allowedOrigins: [],
  allowedHosts: [],
  maxBodyBytes: 4 * 1024 * 1024,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  sessionIdleTimeoutMs: 30 * 60_000,
  maxSessions: 10_000,
  sseKeepAliveMs: 25_000,
  sseRetryMs: 1_000,
  shutdownGraceMs: 10_000,
});

/** Merges `options` over the defaults and rejects values that cannot work, naming the bad key. */
export function resolveHttpOptions(options: Partial<HttpOptions> = {}): HttpOptions {
  const o: HttpOptions = { ...DEFAULT_HTTP_OPTIONS, ...stripUndefined(options) };
  o.allowedOrigins = [...o.allowedOrigins];
  o.allowedHosts = [...o.allowedHosts];
  const fail = (key: keyof HttpOptions, why: string) => {
    throw new TypeError(`http option ${key}: ${why}`);
  };
  if (typeof o.host !== 'string' || o.host === '') fail('host', 'must be a non-empty string');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) fail('port', 'must be an integer 0..65535');
  for (const key of ['mcpPath', 'legacySsePath', 'legacyMessagesPath'] as const) {
    const p = o[key];
    if (typeof p !== 'string' || !p.startsWith('/') || /[?#\s]/.test(p))
      fail(key, 'must be a path starting with "/"');
  }
  if (new Set([o.mcpPath, o.legacySsePath, o.legacyMessagesPath]).size !== 3) {
    fail('mcpPath', 'mcpPath, legacySsePath and legacyMessagesPath must differ');
  }
  if (o.publicUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(o.publicUrl);
    } catch {
      return fail('publicUrl', 'must be an absolute URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('publicUrl', 'must be http or https');
    if (u.search || u.hash) fail('publicUrl', 'must not have a query or fragment');
  }
  for (const key of [
    'maxBodyBytes',
    'headersTimeoutMs',
    'requestTimeoutMs',
    'keepAliveTimeoutMs',
    'sessionIdleTimeoutMs',
    'maxSessions',
    'sseKeepAliveMs',
    'sseRetryMs',
  ] as const) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) fail(key, 'must be a positive integer');
  }
  if (!Number.isInteger(o.shutdownGraceMs) || o.shutdownGraceMs < 0) fail('shutdownGraceMs', 'must be >= 0');
  if (o.headersTimeoutMs > o.requestTimeoutMs) fail('headersTimeoutMs', 'must not exceed requestTimeoutMs');
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
