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
import { SharedHttpSession, type SharedSessions } from './shared-sessions.ts';
import { STANDALONE } from './shared-stream.ts';

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
  const shared = ctx.shared;
  if (shared) {
    shared.find(sid, 'streamable', principal).then(
      (hs) => (hs ? inSession(ctx, res, hs, body, principal) : unknownSession(res, firstId)),
      (err: unknown) => shared.unavailable(res, firstId, err),
    );
    return;
  }
  const hs = ctx.sessions.find(sid, 'streamable', principal);
  if (!hs) {
    unknownSession(res, firstId);
    return;
  }
  inSession(ctx, res, hs, body, principal);
}

function inSession(
  ctx: HttpContext,
  res: ServerResponse,
  hs: HttpSession,
  body: Classified | unknown[],
  principal: Principal | undefined,
): void {
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
      if (hs instanceof SharedHttpSession) hs.shared.relayNotification(hs, body.message);
      accepted(ctx, res, hs);
      return;
    case 'response':
      // The client's answer to a server request (sampling, elicitation, roots).
      if (
        !ctx.engine.response(body.message, messageDispatch(hs, principal)) &&
        hs instanceof SharedHttpSession
      ) {
        hs.shared.relayResponse(hs, body.message);
      }
      sendAccepted(res);
      return;
    default:
      sendRpcError(res, 400, body.id, ErrorCode.InvalidRequest, `Invalid Request: ${body.reason}`);
  }
}

/** 202, once the message's state changes (notifications/initialized) reached the other replicas. */
function accepted(ctx: HttpContext, res: ServerResponse, hs: HttpSession): void {
  const written = hs.settled();
  if (!written) sendAccepted(res);
  else
    written.then(
      () => sendAccepted(res),
      (err: unknown) => ctx.shared?.unavailable(res, null, err),
    );
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
  const shared = ctx.shared;
  const hs = shared ? shared.adopt(session, 'streamable') : new HttpSession(ctx, session, 'streamable');
  // "Session Management" 1: the id travels on the response that carries the InitializeResult.
  const exchange = new LegacyExchange(hs, res, principal, { 'mcp-session-id': session.id });
  ctx.begin();
  ctx.engine.handle(request, exchange).then(
    (reply) => {
      if (shared && 'result' in reply.message && !session.closed) {
        // The session exists once every replica can find it.
        shared.store(hs as SharedHttpSession).then(
          () => respond(ctx, exchange, reply),
          (err: unknown) => {
            session.close();
            exchange.unavailable(request.id, err);
            ctx.done();
          },
        );
        return;
      }
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
    (reply) => {
      // logging/setLevel, resources/subscribe: the other replicas know before the client does.
      const written = hs.settled();
      if (!written) respond(ctx, exchange, reply);
      else
        written.then(
          () => respond(ctx, exchange, reply),
          (err: unknown) => {
            exchange.unavailable(request.id, err);
            ctx.done();
          },
        );
    },
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
        if (hs instanceof SharedHttpSession) hs.shared.relayNotification(hs, c.message);
        break;
      case 'response':
        if (!ctx.engine.response(c.message, dispatch) && hs instanceof SharedHttpSession) {
          hs.shared.relayResponse(hs, c.message);
        }
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
    const written = hs.settled();
    if (!written) exchange.end(202, undefined);
    else
      written.then(
        () => exchange.end(202, undefined),
        (err: unknown) => exchange.unavailable(null, err),
      );
    return;
  }
  ctx.begin();
  const finish = (all: (JsonRpcResponse | undefined)[]) => {
    try {
      const json = all.filter((m): m is JsonRpcResponse => m !== undefined);
      exchange.end(200, json.length ? JSON.stringify(json) : undefined);
    } finally {
      ctx.done();
    }
  };
  Promise.all(answers).then(
    (all) => {
      // logging/setLevel, resources/subscribe in the batch: the other replicas know before the client
      // does; a state write that failed is an outage (503), not a server error.
      const written = hs.settled();
      if (!written) finish(all);
      else
        written.then(
          () => finish(all),
          (err: unknown) => {
            exchange.unavailable(null, err);
            ctx.done();
          },
        );
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
  const sid = checkedSessionId(req, res);
  if (sid === undefined) return;
  const shared = ctx.shared;
  if (shared) {
    shared.find(sid, 'streamable', principal).then(
      (hs) => (hs ? sharedGet(shared, req, res, hs) : unknownSession(res, null)),
      (err: unknown) => shared.unavailable(res, null, err),
    );
    return;
  }
  const hs = ctx.sessions.find(sid, 'streamable', principal);
  if (!hs) {
    unknownSession(res, null);
    return;
  }
  hs.session.touch();
  const last = req.headers['last-event-id'];
  if (typeof last === 'string' && last !== '') {
    // "Resumability and Redelivery" 2: replay only what belongs to the stream the id came from.
    const parsed = parseEventId(last);
    const stream = parsed ? hs.stream(parsed.streamId) : undefined;
    if (!parsed || !stream) {
      badLastEventId(res);
      return;
    }
    stream.resume(res, parsed.seq);
    return;
  }
  const standalone = hs.standalone();
  if (standalone.connected) {
    onlyOneStream(res);
    return;
  }
  standalone.open(res);
}

/**
 * GET on a session shared by replicas: the standalone stream is taken by this replica; a POST stream
 * is resumed from this replica's own copy if it produces it, from the shared log otherwise.
 */
function sharedGet(
  shared: SharedSessions,
  req: IncomingMessage,
  res: ServerResponse,
  hs: SharedHttpSession,
): void {
  const last = req.headers['last-event-id'];
  const fail = (err: unknown) => shared.unavailable(res, null, err);
  if (typeof last === 'string' && last !== '') {
    // "Resumability and Redelivery" 2: replay only what belongs to the stream the id came from.
    const parsed = parseEventId(last);
    if (!parsed) {
      badLastEventId(res);
      return;
    }
    if (parsed.streamId === STANDALONE) {
      // Resumable once a GET opened it, on whichever replica.
      shared.backplane
        .hasStream(hs.id, STANDALONE)
        .then((known) => (known ? shared.openStandalone(hs, res, parsed.seq) : badLastEventId(res)))
        .catch(fail);
      return;
    }
    const stream = hs.stream(parsed.streamId);
    if (stream) {
      stream.resume(res, parsed.seq);
      return;
    }
    shared.resumeRemote(hs, parsed.streamId, parsed.seq, res).then((found) => {
      if (!found) badLastEventId(res);
    }, fail);
    return;
  }
  if (hs.standaloneTail?.connected) {
    onlyOneStream(res);
    return;
  }
  shared.openStandalone(hs, res, undefined).catch(fail);
}

function badLastEventId(res: ServerResponse): void {
  sendRpcError(
    res,
    400,
    null,
    TransportError.BadRequest,
    'Bad Request: Last-Event-ID does not name a resumable stream',
  );
}

function onlyOneStream(res: ServerResponse): void {
  sendRpcError(
    res,
    409,
    null,
    TransportError.BadRequest,
    'Conflict: Only one SSE stream is allowed per session',
  );
}

/** DELETE: the client ends its session ("Session Management" 5), on every replica. */
export function handleLegacyDelete(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal | undefined,
): void {
  const sid = checkedSessionId(req, res);
  if (sid === undefined) return;
  const shared = ctx.shared;
  if (shared) {
    const fail = (err: unknown) => shared.unavailable(res, null, err);
    shared.find(sid, 'streamable', principal).then((hs) => {
      if (!hs) unknownSession(res, null);
      else shared.end(hs).then(() => deleted(res), fail);
    }, fail);
    return;
  }
  const hs = ctx.sessions.find(sid, 'streamable', principal);
  if (!hs) {
    unknownSession(res, null);
    return;
  }
  hs.close();
  deleted(res);
}

function deleted(res: ServerResponse): void {
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}

/** The Mcp-Session-Id of a GET or DELETE, once its protocol version header is acceptable. */
function checkedSessionId(req: IncomingMessage, res: ServerResponse): string | undefined {
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
  return sid;
}
