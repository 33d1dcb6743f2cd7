// Every default of Keyhole's configuration, in one place, each with what it means and why it has
// this value. Relative paths here are resolved at load time (dataDir against the working directory).

import { fileURLToPath } from 'node:url';
import type { KeyholeConfig } from './types.ts';

/** The demo application shipped with Keyhole, served when no `app` is configured. */
export const DEMO_APP = fileURLToPath(new URL('../../examples/demo/server.ts', import.meta.url));

export const DEFAULTS: KeyholeConfig = {
  server: {
    /**
     * Interface to bind. MCP 2026-07-28 streamable-http "Security & Endpoint": when running locally,
     * servers SHOULD bind only to localhost (127.0.0.1) rather than all interfaces (0.0.0.0).
     */
    host: '127.0.0.1',
    /** TCP port; 0 picks a free ephemeral port (the URL printed at start-up shows which). */
    port: 3000,
    /**
     * The base URL clients use to reach this server when it sits behind a proxy or TLS terminator
     * (e.g. `https://mcp.example.com`). The MCP endpoint URL is this plus `http.mcpPath`; it is also
     * the RFC 9728 resource identifier once authorization is on, and its host is always an allowed
     * Host (DNS-rebinding protection). Unset: derived from the bound address.
     */
    publicUrl: undefined,
    /** Where Keyhole keeps its state (keys, databases of later features); created with mode 0700. */
    dataDir: '.keyhole',
    /** Module exporting `createServer(): McpServer | Promise<McpServer>`: the MCP server to serve. */
    app: DEMO_APP,
    /**
     * On SIGTERM/SIGINT, how long in-flight requests and open streams get to finish before the
     * process exits anyway.
     */
    shutdownGraceMs: 10_000,
    /**
     * Development mode (`keyhole serve --dev`, used by `npm start`): prints a start-up banner with the
     * URLs to try. Never enable it in production.
     */
    dev: false,
  },
  http: {
    /**
     * The single MCP endpoint (MCP 2026-07-28 streamable-http; 2025-03-26..2025-11-25 transports
     * "Streamable HTTP": "a single HTTP endpoint path").
     */
    mcpPath: '/mcp',
    /**
     * GET endpoint of the deprecated 2024-11-05 HTTP+SSE transport, hosted beside the MCP endpoint
     * (MCP 2026-07-28 streamable-http "Backward Compatibility" / "HTTP+SSE Transport (2024-11-05)").
     */
    legacySsePath: '/sse',
    /** POST endpoint of the 2024-11-05 HTTP+SSE transport, announced in the `endpoint` event. */
    legacyMessagesPath: '/messages',
    /**
     * Browser origins allowed to call the server (`https://app.example.com`). MCP 2026-07-28
     * streamable-http "Security & Endpoint": servers MUST validate Origin and answer 403 to an invalid
     * one. The server's own origin (bound address and publicUrl) is always allowed; requests without
     * an Origin header (non-browser clients) are not affected.
     */
    allowedOrigins: [],
    /**
     * Extra values accepted in the Host header (`name` or `name:port`). The bound address, loopback
     * names when bound to loopback, and the publicUrl host are always accepted; other Host values are
     * rejected: DNS-rebinding protection (MCP 2026-07-28 streamable-http "Security & Endpoint").
     */
    allowedHosts: [],
    /**
     * Peers trusted to say who their client is: the load balancers and reverse proxies in front of
     * Keyhole, as IP addresses, CIDR ranges (`10.0.0.0/8`, `fd00::/8`) or `loopback` (127.0.0.0/8,
     * ::1), `private` (RFC 1918, fc00::/7), `linklocal` (169.254.0.0/16, fe80::/10). A request from
     * such a peer is attributed (per-IP rate limits, audit trail) to the address its X-Forwarded-For
     * or Forwarded (RFC 7239) header names: the right-most entry that is not itself a trusted proxy.
     * Empty: nobody is trusted and the headers are ignored; the client is the connection's peer.
     * Never list a range that clients connect from (RFC 7239 §8.1: the header "cannot be relied upon
     * to be correct ... including the client making the request").
     */
    trustedProxies: [],
    /** Largest accepted request body; bigger ones get 413 (RFC 9110 §15.5.14). 4 MiB. */
    maxBodyBytes: 4 * 1024 * 1024,
    /** Time a client has to send the request headers (Node `server.headersTimeout`; slow-loris guard). */
    headersTimeoutMs: 15_000,
    /**
     * Time a client has to send a whole request, body included (Node `server.requestTimeout`). Does
     * not limit how long a response stream stays open. Must be >= headersTimeoutMs.
     */
    requestTimeoutMs: 30_000,
    /** How long an idle keep-alive connection stays open (Node `server.keepAliveTimeout`). */
    keepAliveTimeoutMs: 5_000,
    /**
     * Interval of SSE comment lines (`:`) on open streams, so intermediaries and client idle timeouts
     * do not cut quiet streams (MCP 2026-07-28 streamable-http "Receiving Messages", keep-alive note).
     */
    sseKeepAliveMs: 25_000,
    /**
     * The `retry:` field sent with the priming event of 2025-11-25 streams, telling clients how soon to
     * reconnect after the server closes a stream (MCP 2025-11-25 transports "Sending Messages to the
     * Server": the server SHOULD send an event with a retry field before closing).
     */
    sseRetryMs: 1_000,
  },
  sessions: {
    /**
     * A legacy (2025-xx / 2024-11-05) session without traffic for this long is ended; its id then gets
     * 404 (MCP 2025-11-25 transports "Session Management": the server MAY terminate a session at any
     * time). 30 minutes.
     */
    idleTimeoutMs: 30 * 60_000,
    /** Most concurrent legacy sessions; an `initialize` beyond it is refused (503) instead of exhausting memory. */
    max: 10_000,
  },
  log: {
    /** Minimum level of the JSON log lines written to stderr: debug, info, warn or error. */
    level: 'info',
  },
  protocol: {
    /**
     * HMAC-SHA256 key sealing MRTR `requestState` (MCP 2026-07-28 basic/patterns/mrtr "Server
     * Requirements": servers MUST protect its integrity). At least 32 bytes (RFC 2104 §3). Read from
     * the environment only, never from a file or flag. Unset: a random key per process, so a state
     * issued by one replica fails on another: set it when several processes share traffic.
     */
    stateSecret: undefined,
  },
  auth: {
    /**
     * 'oauth': every MCP endpoint requires a bearer access token from the built-in authorization server
     * (MCP 2026-07-28 basic/authorization). 'none' turns authentication off and is refused unless the
     * server is bound to loopback.
     */
    mode: 'oauth',
    /** Issuer identifier (RFC 8414 §2: https URL, no query or fragment). Unset: the public base URL. */
    issuer: undefined,
    /** Access-token lifetime (RFC 9068 `exp`): 1 hour. */
    accessTokenTtlSec: 3600,
    /** Absolute lifetime of a refresh-token family (a grant): 30 days. Rotation does not extend it. */
    refreshTokenTtlSec: 30 * 24 * 3600,
    /** Authorization-code lifetime (RFC 6749 §4.1.2: short, 10 minutes at most recommended): 60 s. */
    codeTtlSec: 60,
    /** JWS algorithm of access tokens (RFC 9068 §2.1; RFC 7518). HS256 needs `KEYHOLE_HS256_SECRET`. */
    signingAlg: 'ES256',
    /** HS256 shared secret, at least 32 bytes (RFC 7518 §3.2). Environment only. */
    hs256Secret: undefined,
    /** Encrypts signing keys at rest (AES-256-GCM). Environment only; unset: `keys.secret` in the data dir (0600). */
    keySecret: undefined,
    /** After `keyhole keys rotate`, how long the old key still verifies: 1 day (>= access-token lifetime). */
    keyRotationOverlapSec: 24 * 3600,
    /** Accept PKCE `plain` (RFC 7636 §4.2). OAuth 2.1 §4.1.1 and RFC 9700 §2.1.1: S256 only by default. */
    allowPlainPkce: false,
    /** RFC 7591 dynamic registration (deprecated by MCP 2026-07-28 but used by most clients). */
    dynamicRegistration: true,
    /** Client ID Metadata Documents (MCP 2026-07-28 basic/authorization/client-registration). */
    clientIdMetadataDocuments: true,
    /**
     * Grace window in which a just-rotated refresh token may be presented again (concurrent refreshes)
     * without counting as reuse. 0 = off: any reuse revokes the grant (RFC 9700 §4.14.2).
     */
    refreshGraceSec: 0,
    /** Scopes advertised in `scopes_supported` besides those the app's tools declare. */
    scopes: [],
    /** How long a login to the authorization server's pages lasts (browser session cookie): 8 hours. */
    loginSessionTtlSec: 8 * 3600,
    /** Rate limit on /token, /register, /authorize and login: requests per minute per IP and per client. */
    rateLimitPerMinute: 60,
    /** `Secure` cookies; unset: on when the public URL is https. */
    secureCookies: undefined,
    /**
     * Days an audit record is kept. Unset: forever — the audit table then grows with every security
     * event, and deleting the trail is left to the operator's decision (a compliance period, say 400
     * days). Set (1-36500), records older than this are deleted oldest first, in bounded batches beside
     * the storage's writes (docs/storage.md "Purge"); every replica sharing the database should agree.
     */
    auditRetentionDays: undefined,
  },
  storage: {
    /** SQLite database file (node:sqlite). Unset: `keyhole.db` in the data dir. */
    sqlitePath: undefined,
    /**
     * PostgreSQL for the durable records (clients, users, consents, grants, signing keys, audit), e.g.
     * `postgres://keyhole:secret@db:5432/keyhole`: what several replicas share. Unset: SQLite. The
     * schema is migrated at start (and by `keyhole migrate`). The URL may hold a password: prefer the
     * environment variable to the config file; it never appears in logs or messages.
     */
    databaseUrl: undefined,
    /** Most pooled PostgreSQL connections per Keyhole process. */
    databasePoolSize: 10,
    /**
     * Redis for fast, expiring and shared state: authorization codes, revocations (with the change
     * feed that tells every replica within a second), rate-limit counters, legacy MCP sessions and
     * their event streams, the Client ID Metadata Document cache. Needed for several replicas.
     */
    redisUrl: undefined,
    /** Every Redis key and pub/sub channel starts with this, so deployments can share a Redis server. */
    redisPrefix: 'keyhole:',
  },
};
