// MCP 2026-07-28 Streamable HTTP: one stateless POST per request, answered with one JSON object, or with
// an SSE stream scoped to the request when the engine has something to say before the result
// (streamable-http "Sending Messages", "Receiving Messages", "Cancellation").

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatch, Outbound, Principal, Reply } from '../../protocol/contract.ts';
import { ErrorCode, type JsonRpcNotification, type JsonRpcRequest } from '../../protocol/jsonrpc.ts';
import type { HttpContext } from './context.ts';
import { sendAccepted, sendJson, sendRpcError } from './errors.ts';
import { checkMirroredHeaders } from './mirrored-headers.ts';
import { formatEvent, isWritable, openSse, writeSse } from './sse.ts';

const NEVER = new AbortController().signal;
const NO_OUTBOUND: Outbound = Object.freeze({ canRequest: false, send: () => false });

/**
 * One modern request in flight: it is both the Dispatch handed to the engine and the Outbound that
 * turns the response into an event stream on the first message.
 */
export class ModernExchange implements Dispatch, Outbound {
  readonly canRequest = false;
  readonly transport = 'http' as const;
  readonly principal: Principal | undefined;
  readonly signal: AbortSignal;
  readonly #ctx: HttpContext;
  readonly #res: ServerResponse;
  readonly #abort: AbortController;
  #streaming = false;

  constructor(ctx: HttpContext, res: ServerResponse, principal: Principal | undefined) {
    this.#ctx = ctx;
    this.#res = res;
    this.principal = principal;
    this.#abort = new AbortController();
    this.signal = this.#abort.signal;
    // "Cancellation": closing the response stream is the cancellation of the request.
    res.on('close', () => {
      if (!res.writableFinished) this.#abort.abort(new Error('client disconnected'));
      if (this.#streaming) ctx.keepAlive.delete(res);
    });
  }

  get outbound(): Outbound {
    return this;
  }

  send(message: JsonRpcNotification | JsonRpcRequest): boolean {
    const res = this.#res;
    if (this.signal.aborted || !isWritable(res)) return false;
    if (!this.#streaming) {
      this.#streaming = true;
      openSse(res);
      this.#ctx.keepAlive.add(res);
    }
    return writeSse(res, formatEvent(JSON.stringify(message)));
  }

  /** The final response: the last event of a stream, or the whole JSON body. */
  finish(reply: Reply): void {
    const res = this.#res;
    if (this.signal.aborted) {
      // "Cancellation": no further messages for a cancelled request.
      if (isWritable(res)) res.destroy();
      return;
    }
    const body = JSON.stringify(reply.message);
    if (this.#streaming) {
      this.#ctx.keepAlive.delete(res);
      if (writeSse(res, formatEvent(body))) res.end();
      return;
    }
    sendJson(res, reply.status, body, reply.requiredScopes ? this.#ctx.replyHeaders(reply) : undefined);
  }
}

/** A modern request: header/body agreement first, then the engine. */
export function handleModernRequest(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  request: JsonRpcRequest,
  principal: Principal | undefined,
): void {
  const mismatch = checkMirroredHeaders(req.headers, request, ctx.engine);
  if (mismatch !== undefined) {
    // MCP 2026-07-28 streamable-http "Server Validation": 400 with HeaderMismatch.
    sendRpcError(res, 400, request.id, ErrorCode.HeaderMismatch, mismatch);
    return;
  }
  const exchange = new ModernExchange(ctx, res, principal);
  ctx.begin();
  ctx.engine.handle(request, exchange).then(
    (reply) => {
      try {
        exchange.finish(reply);
      } finally {
        ctx.done();
      }
    },
    (err: unknown) => {
      ctx.logger.error('engine.handle failed', { error: err, method: request.method });
      sendRpcError(res, 500, request.id, ErrorCode.InternalError, 'Internal error');
      ctx.done();
    },
  );
}

/** "Sending Messages": an accepted notification is answered 202 with no body. */
export function handleModernNotification(
  ctx: HttpContext,
  res: ServerResponse,
  message: JsonRpcNotification,
  principal: Principal | undefined,
): void {
  ctx.engine.notification(message, { signal: NEVER, outbound: NO_OUTBOUND, principal, transport: 'http' });
  sendAccepted(res);
}
