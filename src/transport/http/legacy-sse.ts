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
import { isJsonContentType, REJECTED, readJson } from './body.ts';
import type { HttpContext } from './context.ts';
import { sendAccepted, sendRpcError, TransportError } from './errors.ts';
import { HttpSession } from './sessions.ts';
import { formatEvent, openSse, writeSse } from './sse.ts';

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
  const hs = ctx.sessions.find(sid, 'sse', principal);
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
  const stream = hs.session.standalone as SseConnection | undefined;
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
    sendAccepted(res);
    return;
  }
  if (c.kind === 'response') {
    ctx.engine.response(c.message, dispatch);
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
      ctx.engine.attachSession(hs.session);
    }
    if (!reply.cancelled) stream.send(reply.message);
  } catch (err) {
    ctx.logger.error('engine.handle failed', { error: err, method: request.method });
  } finally {
    hs.inflight.delete(abort);
    ctx.done();
  }
}
