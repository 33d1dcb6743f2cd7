// Legacy Streamable HTTP (MCP 2025-03-26, 2025-06-18, 2025-11-25) on the MCP endpoint: `initialize`
// creates a session named by Mcp-Session-Id; later POSTs, the standalone GET stream and DELETE carry it
// (2025-11-25 basic/transports "Streamable HTTP", "Session Management").

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatch, Outbound, Principal, Reply } from '../../protocol/contract.ts';
import {
  type Classified,
  classify,
  ErrorCode,
  errorResponse,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.ts';
import { isLegacyVersion } from '../../protocol/versions.ts';
import type { HttpContext } from './context.ts';
import { sendAccepted, sendRpcError, TransportError } from './errors.ts';
import { parseEventId } from './event-store.ts';
import { LegacyExchange } from './legacy-exchange.ts';
import { HttpSession } from './sessions.ts';

const NEVER = new AbortController().signal;
const NO_OUTBOUND: Outbound = Object.freeze({ canRequest: false, send: () => false });
/** JSON-RPC 2.0 §6 batches (2025-03-26 only): more messages than this in one POST are refused. */
const MAX_BATCH = 100;

/** "Protocol Version Header": absent means 2025-03-26; anything else must be a revision we serve. */
export function legacyVersionProblem(req: IncomingMessage): string | undefined {
  const v = req.headers['mcp-protocol-version'];
  if (v === undefined || isLegacyVersion(v)) return undefined;
  return `Bad Request: Unsupported protocol version: ${String(v)}`;
}

export function sessionIdOf(req: IncomingMessage): string | undefined {
  const v = req.headers['mcp-session-id'];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function missingSession(res: ServerResponse, id: JsonRpcRequest['id'] | null): void {
  // "Session Management" 2: requests other than initialize without a session id get 400.
  sendRpcError(res, 400, id, TransportError.BadRequest, 'Bad Request: Mcp-Session-Id header is required');
}

function unknownSession(res: ServerResponse, id: JsonRpcRequest['id'] | null): void {
  // "Session Management" 3: an unknown or terminated session is 404 (also for another principal's).
  sendRpcError(res, 404, id, TransportError.SessionNotFound, 'Session not found');
}

/** A legacy POST whose body is one JSON-RPC message (already classified) or a batch. */
export function handleLegacyPost(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: Classified | unknown[],
  principal: Principal | undefined,
): void {
  const sid = sessionIdOf(req);
  if (sid === undefined) {
    if (!Array.isArray(body) && body.kind === 'request' && body.message.method === 'initialize') {
      initialize(ctx, res, body.message, principal);
      return;
    }
    missingSession(res, !Array.isArray(body) && body.kind === 'request' ? body.message.id : null);
    return;
  }
  const versionProblem = legacyVersionProblem(req);
  const firstId = !Array.isArray(body) && body.kind === 'request' ? body.message.id : null;
  if (versionProblem) {
    sendRpcError(res, 400, firstId, TransportError.BadRequest, versionProblem);
    return;
  }
  const hs = ctx.sessions.find(sid, 'streamable', principal);
  if (!hs) {
    unknownSession(res, firstId);
    return;
  }
  hs.session.touch();
  if (Array.isArray(body)) {
    batch(ctx, res, hs, body, principal);
    return;
  }
  switch (body.kind) {
    case 'request':
      single(ctx, res, hs, body.message, principal);
      return;
    case 'notification':
      ctx.engine.notification(body.message, messageDispatch(hs, principal));
      sendAccepted(res);
      return;
    case 'response':
      // The client's answer to a server request (sampling, elicitation, roots).
      ctx.engine.response(body.message, messageDispatch(hs, principal));
      sendAccepted(res);
      return;
    default:
      sendRpcError(res, 400, body.id, ErrorCode.InvalidRequest, `Invalid Request: ${body.reason}`);
  }
}

function messageDispatch(hs: HttpSession, principal: Principal | undefined): Dispatch {
  return { signal: NEVER, outbound: NO_OUTBOUND, session: hs.session, principal, transport: 'http' };
}

/** MCP 2025-11-25 basic/lifecycle "Initialization": a new session, kept only if initialize succeeds. */
function initialize(
  ctx: HttpContext,
  res: ServerResponse,
  request: JsonRpcRequest,
  principal: Principal | undefined,
): void {
  if (ctx.sessions.full) {
    sendRpcError(res, 503, request.id, TransportError.BadRequest, 'Service Unavailable: too many sessions', {
      'retry-after': '30',
    });
    return;
  }
  const session = ctx.engine.createSession();
  session.principal = principal;
  const hs = new HttpSession(ctx, session, 'streamable');
  // "Session Management" 1: the id travels on the response that carries the InitializeResult.
  const exchange = new LegacyExchange(hs, res, principal, { 'mcp-session-id': session.id });
  ctx.begin();
  ctx.engine.handle(request, exchange).then(
    (reply) => {
      if ('result' in reply.message && !session.closed) {
        ctx.sessions.add(hs);
        ctx.engine.attachSession(session);
      } else {
        exchange.dropHeaders();
        session.close();
      }
      respond(ctx, exchange, reply);
    },
    (err: unknown) => failed(ctx, exchange, request, err),
  );
}

function single(
  ctx: HttpContext,
  res: ServerResponse,
  hs: HttpSession,
  request: JsonRpcRequest,
  principal: Principal | undefined,
): void {
  const exchange = new LegacyExchange(hs, res, principal);
  ctx.begin();
  ctx.engine.handle(request, exchange).then(
    (reply) => respond(ctx, exchange, reply),
    (err: unknown) => failed(ctx, exchange, request, err),
  );
}

/** Writes the reply, then lets close() know the request is over. */
function respond(ctx: HttpContext, exchange: LegacyExchange, reply: Reply): void {
  try {
    const json = exchange.deliver(reply);
    exchange.end(
      reply.status,
      json === undefined ? undefined : JSON.stringify(json),
      reply.requiredScopes ? ctx.replyHeaders(reply) : undefined,
    );
  } finally {
    ctx.done();
  }
}

function failed(ctx: HttpContext, exchange: LegacyExchange, request: JsonRpcRequest, err: unknown): void {
  ctx.logger.error('engine.handle failed', { error: err, method: request.method });
  exchange.fail(request.id);
  ctx.done();
}

/**
 * MCP 2025-03-26 basic/transports "Sending Messages" 3-6: a batch of requests and notifications, or
 * of responses. Later revisions removed batching; initialize must not be batched (lifecycle).
 */
function batch(
  ctx: HttpContext,
  res: ServerResponse,
  hs: HttpSession,
  items: unknown[],
  principal: Principal | undefined,
): void {
  const version = hs.session.protocolVersion;
  if (version !== '2025-03-26') {
    sendRpcError(
      res,
      400,
      null,
      ErrorCode.InvalidRequest,
      `Invalid Request: JSON-RPC batches are not supported in protocol version ${version ?? 'unknown'}`,
    );
    return;
  }
  if (items.length === 0 || items.length > MAX_BATCH) {
    const why = items.length === 0 ? 'an empty batch' : `more than ${MAX_BATCH} messages in a batch`;
    sendRpcError(res, 400, null, ErrorCode.InvalidRequest, `Invalid Request: ${why}`);
    return;
  }
  const classified = items.map(classify);
  if (classified.some((c) => c.kind === 'request' && c.message.method === 'initialize')) {
    sendRpcError(
      res,
      400,
      null,
      ErrorCode.InvalidRequest,
      'Invalid Request: initialize must not be part of a batch',
    );
    return;
  }
  const dispatch = messageDispatch(hs, principal);
  const exchange = new LegacyExchange(hs, res, principal);
  const answers: Promise<JsonRpcResponse | undefined>[] = [];
  for (const c of classified) {
    switch (c.kind) {
      case 'request':
        answers.push(ctx.engine.handle(c.message, exchange).then((reply) => exchange.deliver(reply)));
        break;
      case 'notification':
        ctx.engine.notification(c.message, dispatch);
        break;
      case 'response':
        ctx.engine.response(c.message, dispatch);
        break;
      default:
        // JSON-RPC 2.0 §6: an invalid member gets its own error response.
        answers.push(
          Promise.resolve(
            exchange.deliver({
              message: errorResponse(c.id, ErrorCode.InvalidRequest, `Invalid Request: ${c.reason}`),
              status: 200,
            }),
          ),
        );
    }
  }
  if (answers.length === 0) {
    exchange.end(202, undefined);
    return;
  }
  ctx.begin();
  Promise.all(answers).then(
    (all) => {
      try {
        const json = all.filter((m): m is JsonRpcResponse => m !== undefined);
        exchange.end(200, json.length ? JSON.stringify(json) : undefined);
      } finally {
        ctx.done();
      }
    },
    (err: unknown) => {
      ctx.logger.error('batch failed', { error: err });
      exchange.fail(null);
      ctx.done();
    },
  );
}

/** GET: the standalone stream, or the continuation of a stream after Last-Event-ID. */
export function handleLegacyGet(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal | undefined,
): void {
  const accept = req.headers.accept;
  if (accept === undefined || !accept.toLowerCase().includes('text/event-stream')) {
    // "Listening for Messages from the Server" 2.
    sendRpcError(
      res,
      406,
      null,
      TransportError.BadRequest,
      'Not Acceptable: Client must accept text/event-stream',
    );
    return;
  }
  const hs = findSession(ctx, req, res, principal);
  if (!hs) return;
  hs.session.touch();
  const last = req.headers['last-event-id'];
  if (typeof last === 'string' && last !== '') {
    // "Resumability and Redelivery" 2: replay only what belongs to the stream the id came from.
    const parsed = parseEventId(last);
    const stream = parsed ? hs.stream(parsed.streamId) : undefined;
    if (!parsed || !stream) {
      sendRpcError(
        res,
        400,
        null,
        TransportError.BadRequest,
        'Bad Request: Last-Event-ID does not name a resumable stream',
      );
      return;
    }
    stream.resume(res, parsed.seq);
    return;
  }
  const standalone = hs.standalone();
  if (standalone.connected) {
    sendRpcError(
      res,
      409,
      null,
      TransportError.BadRequest,
      'Conflict: Only one SSE stream is allowed per session',
    );
    return;
  }
  standalone.open(res);
}

/** DELETE: the client ends its session ("Session Management" 5). */
export function handleLegacyDelete(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal | undefined,
): void {
  const hs = findSession(ctx, req, res, principal);
  if (!hs) return;
  hs.close();
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}

function findSession(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal | undefined,
): HttpSession | undefined {
  const sid = sessionIdOf(req);
  if (sid === undefined) {
    missingSession(res, null);
    return undefined;
  }
  const problem = legacyVersionProblem(req);
  if (problem) {
    sendRpcError(res, 400, null, TransportError.BadRequest, problem);
    return undefined;
  }
  const hs = ctx.sessions.find(sid, 'streamable', principal);
  if (!hs) unknownSession(res, null);
  return hs;
}
