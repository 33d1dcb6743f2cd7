// MCP 2024-11-05 HTTP+SSE (basic/transports "HTTP with SSE"), deprecated but still spoken by older
// clients: a GET opens the event stream that is the session, its first event `endpoint` names where to
// POST; every server message, responses included, travels on the stream.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatch, Outbound, Principal } from '../../protocol/contract.ts';
import {
  classify,
  ErrorCode,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.ts';
import type { LegacySession } from '../../protocol/session.ts';
import { isJsonContentType, REJECTED, readJson } from './body.ts';
import type { HttpContext } from './context.ts';
import { sendAccepted, sendRpcError, TransportError } from './errors.ts';
import { HttpSession } from './sessions.ts';
import { SharedHttpSession, type SharedSessions } from './shared-sessions.ts';
import { RelayedSse } from './shared-stream.ts';
import { formatEvent, isWritable, openSse, writeSse } from './sse.ts';

const NEVER = new AbortController().signal;

/** The session's one stream: notifications, server requests and responses alike. */
class SseConnection implements Outbound {
  readonly canRequest = true;
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  send(message: JsonRpcNotification | JsonRpcRequest | JsonRpcResponse): boolean {
    return writeSse(this.#res, formatEvent(JSON.stringify(message)));
  }
}

/** GET on the SSE path: a new session whose first event is `endpoint`. */
export function openLegacySse(ctx: HttpContext, res: ServerResponse, principal: Principal | undefined): void {
  if (ctx.sessions.full) {
    sendRpcError(res, 503, null, TransportError.BadRequest, 'Service Unavailable: too many sessions', {
      'retry-after': '30',
    });
    return;
  }
  const session = ctx.engine.createSession();
  session.principal = principal;
  if (ctx.shared) {
    openShared(ctx, ctx.shared, res, session);
    return;
  }
  const hs = new HttpSession(ctx, session, 'sse');
  hs.sse = res;
  session.standalone = new SseConnection(res);
  ctx.sessions.add(hs);
  openSse(res);
  // The id is base64url, so it needs no escaping in the query.
  const endpoint = `${ctx.basePath}${ctx.options.legacyMessagesPath}?sessionId=${session.id}`;
  writeSse(res, formatEvent(endpoint, undefined, 'endpoint'));
  ctx.keepAlive.add(res);
  // The connection is the session: when it goes, so does the session.
  res.once('close', () => hs.close());
}

/**
 * The session is stored for every replica and this replica listens for the messages others send to
 * it before the client learns the endpoint: a POST may land anywhere right after.
 */
async function openShared(
  ctx: HttpContext,
  shared: SharedSessions,
  res: ServerResponse,
  session: LegacySession,
): Promise<void> {
  const hs = shared.adopt(session, 'sse');
  hs.sse = res;
  const stored = shared.store(hs);
  // The connection is the session: when it goes, so does the session, on every replica.
  res.once('close', () => {
    hs.close();
    stored.then(() => shared.end(hs)).catch((err: unknown) => shared.writeFailed(err));
  });
  try {
    await stored;
    await shared.relaySse(hs, res);
  } catch (err) {
    hs.sse = undefined;
    hs.close();
    shared.unavailable(res, null, err);
    return;
  }
  if (hs.closed || !isWritable(res)) return;
  openSse(res);
  session.standalone = new SseConnection(res);
  const endpoint = `${ctx.basePath}${ctx.options.legacyMessagesPath}?sessionId=${session.id}`;
  writeSse(res, formatEvent(endpoint, undefined, 'endpoint'));
  ctx.keepAlive.add(res);
}

/** POST on the messages path: one JSON-RPC message for the session named in `?sessionId=`. */
export async function handleLegacyMessage(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal | undefined,
  query: string,
): Promise<void> {
  const sid = new URLSearchParams(query).get('sessionId');
  if (!sid) {
    sendRpcError(
      res,
      400,
      null,
      TransportError.BadRequest,
      'Bad Request: the sessionId query parameter is required',
    );
    return;
  }
  const shared = ctx.shared;
  let hs: HttpSession | undefined;
  if (shared) {
    try {
      hs = await shared.find(sid, 'sse', principal);
    } catch (err) {
      shared.unavailable(res, null, err);
      return;
    }
  } else hs = ctx.sessions.find(sid, 'sse', principal);
  if (!hs) {
    sendRpcError(res, 404, null, TransportError.SessionNotFound, 'Session not found');
    return;
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    sendRpcError(
      res,
      415,
      null,
      TransportError.BadRequest,
      'Unsupported Media Type: Content-Type must be application/json',
    );
    return;
  }
  const value = await readJson(req, res, ctx.options.maxBodyBytes);
  if (value === REJECTED) return;
  if (Array.isArray(value)) {
    sendRpcError(
      res,
      400,
      null,
      ErrorCode.InvalidRequest,
      'Invalid Request: batches are not supported on this transport',
    );
    return;
  }
  const c = classify(value);
  // Shared by replicas: the connection may be held by another one, which relays what is sent here.
  const stream =
    (hs.session.standalone as SseConnection | undefined) ??
    (shared && hs instanceof SharedHttpSession ? new RelayedSse(hs) : undefined);
  if (c.kind === 'invalid' || !stream) {
    const reason = c.kind === 'invalid' ? c.reason : 'the session stream is closed';
    sendRpcError(
      res,
      400,
      c.kind === 'invalid' ? c.id : null,
      ErrorCode.InvalidRequest,
      `Invalid Request: ${reason}`,
    );
    return;
  }
  hs.session.touch();
  const dispatch: Dispatch = {
    signal: NEVER,
    outbound: stream,
    session: hs.session,
    principal,
    transport: 'sse',
  };
  if (c.kind === 'notification') {
    ctx.engine.notification(c.message, dispatch);
    if (hs instanceof SharedHttpSession) {
      hs.shared.relayNotification(hs, c.message);
      try {
        await hs.settled();
      } catch (err) {
        hs.shared.unavailable(res, null, err);
        return;
      }
    }
    sendAccepted(res);
    return;
  }
  if (c.kind === 'response') {
    if (!ctx.engine.response(c.message, dispatch) && hs instanceof SharedHttpSession) {
      hs.shared.relayResponse(hs, c.message);
    }
    sendAccepted(res);
    return;
  }
  // The answer goes on the stream; the POST itself is only acknowledged.
  sendAccepted(res);
  const request = c.message;
  const abort = new AbortController();
  hs.inflight.add(abort);
  ctx.begin();
  try {
    const reply = await ctx.engine.handle(request, { ...dispatch, signal: abort.signal });
    if (request.method === 'initialize' && 'result' in reply.message && !hs.closed) {
      if (hs instanceof SharedHttpSession) {
        hs.attach();
        // The replica holding the connection, and any other, must see the negotiated version.
        await hs.writeInitialize().catch((e: unknown) => hs.shared.writeFailed(e));
      } else ctx.engine.attachSession(hs.session);
    } else if (hs instanceof SharedHttpSession)
      await hs.settled()?.catch((e: unknown) => hs.shared.writeFailed(e));
    if (!reply.cancelled) stream.send(reply.message);
  } catch (err) {
    ctx.logger.error('engine.handle failed', { error: err, method: request.method });
  } finally {
    hs.inflight.delete(abort);
    ctx.done();
  }
}
