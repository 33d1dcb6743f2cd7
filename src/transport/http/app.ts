// The HTTP listener: routing, the security checks every MCP endpoint shares, and an orderly shutdown.
// Built on node:http directly; the MCP request path does no URL parsing when the request target is the
// endpoint path itself.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Logger, silentLogger } from '../../observability/logger.ts';
import type { Principal } from '../../protocol/contract.ts';
import type { Engine } from '../../protocol/engine.ts';
import { ErrorCode } from '../../protocol/jsonrpc.ts';
import type { SessionBackplane } from './backplane.ts';
import type { HttpContext } from './context.ts';
import { sendPlain, sendRpcError, TransportError } from './errors.ts';
import { type EventStore, MemoryEventStore } from './event-store.ts';
import { handleLive, handleReady, LIVE_PATH, READY_PATH, type ReadyCheck } from './health.ts';
import { handleLegacyDelete, handleLegacyGet, sessionIdOf } from './legacy.ts';
import { handleLegacyMessage, openLegacySse } from './legacy-sse.ts';
import { type HttpOptions, resolveHttpOptions } from './options.ts';
import { handleMcpPost } from './post.ts';
import { corsHeaders, isWildcardHost, preflightHeaders, SecurityPolicy } from './security.ts';
import { SessionRegistry } from './sessions.ts';
import { SharedSessions } from './shared-sessions.ts';
import { MirroredEventStore } from './shared-stream.ts';
import { KeepAlive } from './sse.ts';

/** A refusal from the guard, sent as is (e.g. 401 with WWW-Authenticate). */
export interface GuardRejection {
  status: number;
  headers: Record<string, string>;
  body: string;
}
export type GuardResult = { principal?: Principal } | GuardRejection;
/**
 * Authenticates a request to an MCP endpoint (the resource-server guard plugs in here). `query` is the
 * raw query string ('' when there is none). A guard may answer synchronously (e.g. a cached token): the
 * request then goes on without an extra promise turn.
 */
export type Guard = (
  req: IncomingMessage,
  ctx: { readonly query: string },
) => GuardResult | Promise<GuardResult>;
/** Extra routes; returns true when it answered the request. */
export type Routes = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface HttpAppOptions extends Partial<HttpOptions> {
  logger?: Logger;
  /** /health/ready checks: each reports 'ok' or an error string. */
  ready?: ReadyCheck;
  routes?: Routes;
  guard?: Guard;
  /**
   * Builds the `WWW-Authenticate` value for a 403 insufficient_scope reply (RFC 6750 §3.1), naming every
   * scope the operation needs; provided together with `guard`.
   */
  challenge?: (requiredScopes: readonly string[]) => string;
  /** Where legacy stream events are kept for Last-Event-ID replay. Default: bounded, in memory. */
  eventStore?: EventStore;
  /**
   * Shares legacy sessions with other replicas (issue #4 "Replicas"): state, stream events and the
   * messages between replicas go through it (createRedisSessionBackplane). One backplane per app.
   * Without it legacy sessions live in this process only.
   */
  sessionBackplane?: SessionBackplane;
}

export interface HttpApp {
  readonly server: Server;
  /** The MCP endpoint URL (final once listening). */
  readonly url: URL;
  readonly options: Readonly<HttpOptions>;
  listen(): Promise<URL>;
  address(): AddressInfo | null;
  /**
   * Drains: stops accepting, refuses new MCP requests (503), ends subscriptions/listen streams
   * gracefully (engine.close()), lets in-flight requests finish within shutdownGraceMs, ends the
   * remaining streams and sessions, then closes every connection.
   */
  close(): Promise<void>;
}

const ALLOW_MCP = 'GET, POST, DELETE';

export function createHttpApp(engine: Engine, init: HttpAppOptions = {}): HttpApp {
  const {
    logger = silentLogger,
    ready,
    routes,
    guard,
    challenge,
    eventStore,
    sessionBackplane,
    ...rest
  } = init;
  const options = resolveHttpOptions(rest);
  const { mcpPath, legacySsePath, legacyMessagesPath } = options;

  let policy: SecurityPolicy | undefined;
  let publicUrl = defaultPublicUrl(options, options.port);
  let basePath = '';
  let url = endpointUrl(publicUrl, mcpPath);
  let draining = false;
  let inflight = 0;
  let drained: (() => void) | undefined;

  const ctx: HttpContext = {
    engine,
    options,
    logger,
    sessions: new SessionRegistry(options.maxSessions, options.sessionIdleTimeoutMs),
    events: eventStore ?? new MemoryEventStore(),
    shared: undefined,
    keepAlive: new KeepAlive(),
    replyHeaders: (reply) =>
      reply.requiredScopes && challenge ? { 'www-authenticate': challenge(reply.requiredScopes) } : undefined,
    get basePath() {
      return basePath;
    },
    begin() {
      inflight++;
    },
    done() {
      if (--inflight === 0 && drained) drained();
    },
  };

  const shared = sessionBackplane ? new SharedSessions(ctx, sessionBackplane) : undefined;
  if (shared) {
    // Set once, before any request: plain data properties keep the hot paths as they were.
    const wiring = ctx as { shared: SharedSessions | undefined; events: EventStore };
    wiring.shared = shared;
    wiring.events = new MirroredEventStore(ctx.events, shared);
  }

  const server = createServer({
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
  });

  // Open connections, and those that have not sent a request yet: close() drops idle connections
  // without cutting a response short, and fresh ones too (Node's closeIdleConnections() leaves those
  // to the headers timeout).
  const sockets = new Set<Socket>();
  const fresh = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    fresh.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      fresh.delete(socket);
    });
  });

  // The public URL, and with it the allowed Host and Origin values, is known once the port is.
  server.on('listening', () => {
    const port = (server.address() as AddressInfo).port;
    publicUrl = options.publicUrl ? new URL(options.publicUrl) : defaultPublicUrl(options, port);
    basePath = publicUrl.pathname.replace(/\/+$/, '');
    url = endpointUrl(publicUrl, mcpPath);
    policy = new SecurityPolicy({
      publicUrl,
      bindHost: options.host,
      port,
      allowedHosts: options.allowedHosts,
      allowedOrigins: options.allowedOrigins,
    });
    ctx.keepAlive.start(options.sseKeepAliveMs);
    ctx.sessions.startSweeper();
    shared?.start();
    logger.info('http listening', { url: url.href });
  });

  const failed = (res: ServerResponse, err: unknown) => {
    logger.error('http handler failed', { error: err });
    if (!res.headersSent) sendRpcError(res, 500, null, ErrorCode.InternalError, 'Internal error');
    else if (!res.writableEnded) res.destroy();
  };

  /** The MCP endpoints, after the checks every one of them shares. */
  const mcp = (req: IncomingMessage, res: ServerResponse, path: string, query: string) => {
    if (draining) {
      // Without `Connection: close`: Node then reads the rest of the request and the connection is
      // closed once idle, so the client gets this answer rather than a reset.
      sendRpcError(
        res,
        503,
        null,
        TransportError.BadRequest,
        'Service Unavailable: the server is shutting down',
      );
      return;
    }
    const headers = req.headers;
    if (!policy?.hostAllowed(headers.host)) {
      // DNS rebinding: a foreign name that resolves to us (security best practices "Local MCP server").
      logger.debug('http rejected Host', { host: headers.host });
      sendRpcError(res, 403, null, TransportError.BadRequest, 'Forbidden: invalid Host header');
      return;
    }
    const origin = headers.origin;
    if (origin !== undefined) {
      // MCP streamable-http "Security & Endpoint" 1: an invalid Origin gets 403, error without id.
      if (!policy.originAllowed(origin)) {
        logger.debug('http rejected Origin', { origin });
        sendRpcError(res, 403, null, TransportError.BadRequest, 'Forbidden: invalid Origin header');
        return;
      }
      if (req.method === 'OPTIONS') {
        const requested = headers['access-control-request-headers'];
        res.writeHead(204, preflightHeaders(origin, typeof requested === 'string' ? requested : undefined));
        res.end();
        return;
      }
      for (const [k, v] of Object.entries(corsHeaders(origin))) res.setHeader(k, v);
    }
    if (!guard) {
      route(req, res, path, query, undefined);
      return;
    }
    const admit = (result: GuardResult) => {
      if ('status' in result) {
        res.writeHead(result.status, result.headers);
        res.end(result.body);
        return;
      }
      route(req, res, path, query, result.principal);
    };
    let result: GuardResult | Promise<GuardResult>;
    try {
      result = guard(req, { query });
    } catch (err) {
      failed(res, err);
      return;
    }
    if (result instanceof Promise) result.then(admit, (err: unknown) => failed(res, err));
    else admit(result);
  };

  const route = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: string,
    principal: Principal | undefined,
  ) => {
    const method = req.method;
    if (path === mcpPath) {
      if (method === 'POST') {
        handleMcpPost(ctx, req, res, principal).catch((err: unknown) => failed(res, err));
      } else if ((method === 'GET' || method === 'DELETE') && sessionIdOf(req) !== undefined) {
        if (method === 'GET') handleLegacyGet(ctx, req, res, principal);
        else handleLegacyDelete(ctx, req, res, principal);
      } else {
        // MCP 2026-07-28 streamable-http "Backward Compatibility": no GET stream, no sessions to delete.
        sendRpcError(
          res,
          405,
          null,
          TransportError.BadRequest,
          'Method Not Allowed: use POST (GET and DELETE need the Mcp-Session-Id of a 2025 session)',
          { allow: ALLOW_MCP },
        );
      }
    } else if (path === legacySsePath) {
      if (method === 'GET') openLegacySse(ctx, res, principal);
      else sendRpcError(res, 405, null, TransportError.BadRequest, 'Method Not Allowed', { allow: 'GET' });
    } else if (method === 'POST') {
      handleLegacyMessage(ctx, req, res, principal, query).catch((err: unknown) => failed(res, err));
    } else {
      sendRpcError(res, 405, null, TransportError.BadRequest, 'Method Not Allowed', { allow: 'POST' });
    }
  };

  const other = (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (path === LIVE_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      handleLive(res);
      return;
    }
    if (path === READY_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      handleReady(res, ready, draining, logger).catch((err: unknown) => failed(res, err));
      return;
    }
    if (!routes) {
      sendPlain(res, 404, { error: 'not_found' });
      return;
    }
    Promise.resolve(routes(req, res)).then(
      (handled) => {
        if (!handled && !res.headersSent) sendPlain(res, 404, { error: 'not_found' });
      },
      (err: unknown) => failed(res, err),
    );
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    fresh.delete(req.socket);
    const target = req.url ?? '/';
    if (target === mcpPath) {
      mcp(req, res, mcpPath, '');
      return;
    }
    const { path, query } = splitTarget(target);
    if (path === mcpPath || path === legacySsePath || path === legacyMessagesPath) mcp(req, res, path, query);
    else other(req, res, path);
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests and header timeouts: a bare 400/408 as Node would send, without a stack trace.
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
  });

  let closing: Promise<void> | undefined;

  return {
    server,
    options,
    get url() {
      return url;
    },
    address: () => {
      const a = server.address();
      return a === null || typeof a === 'string' ? null : a;
    },
    listen: () =>
      new Promise<URL>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(options.port, options.host, () => {
          server.off('error', onError);
          resolve(url);
        });
      }),
    close: () => {
      closing ??= drain();
      return closing;
    },
  };

  async function drain(): Promise<void> {
    draining = true;
    const deadline = Date.now() + options.shutdownGraceMs;
    const remaining = () => Math.max(0, deadline - Date.now());
    // Node flushes a response ended in this turn on the next tick; server.close() drops idle
    // connections, so it comes after that. (The timers here are not unref'd: whoever awaits close()
    // must not see the process exit first.)
    await new Promise<void>((resolve) => setImmediate(resolve));
    const closed = server.listening
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    // Keep-alive connections go as they fall idle.
    const idle = setInterval(dropIdle, 25);
    // Ends every subscriptions/listen with its graceful result; their streams then finish as requests.
    engine.close();
    if (inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        drained = resolve;
        timer = setTimeout(resolve, remaining());
      });
      clearTimeout(timer);
    }
    // Only this replica's copies: shared sessions live on for the other replicas.
    ctx.sessions.closeAll();
    shared?.stop();
    ctx.keepAlive.stop();
    ctx.sessions.stopSweeper();
    const cut = setTimeout(() => server.closeAllConnections(), remaining());
    await closed;
    clearInterval(idle);
    clearTimeout(cut);
    logger.info('http closed');
  }

  /** Closes connections without a request in progress, but never while a response is still going out. */
  function dropIdle(): void {
    for (const socket of sockets) if (socket.writableLength > 0) return;
    server.closeIdleConnections();
    for (const socket of fresh) socket.destroy();
  }
}

function splitTarget(target: string): { path: string; query: string } {
  if (target.charCodeAt(0) !== 0x2f) {
    // Absolute-form (RFC 9112 §3.2.2), as some proxies send it.
    try {
      const u = new URL(target);
      return { path: u.pathname, query: u.search.slice(1) };
    } catch {
      return { path: target, query: '' };
    }
  }
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

function defaultPublicUrl(options: HttpOptions, port: number): URL {
  const host = isWildcardHost(options.host)
    ? 'localhost'
    : options.host.includes(':')
      ? `[${options.host}]`
      : options.host;
  return new URL(`http://${host}:${port}`);
}

function endpointUrl(publicUrl: URL, mcpPath: string): URL {
  return new URL(`${publicUrl.pathname.replace(/\/+$/, '')}${mcpPath}`, publicUrl.origin);
}
