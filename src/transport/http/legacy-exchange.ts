// One POST of a legacy Streamable HTTP session (MCP 2025-03-26 .. 2025-11-25): answered with JSON, or
// upgraded to a resumable SSE stream once the server has something to send before the response.

import type { ServerResponse } from 'node:http';
import type { Dispatch, Outbound, Principal, Reply } from '../../protocol/contract.ts';
import {
  ErrorCode,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.ts';
import type { LegacySession } from '../../protocol/session.ts';
import { sendAccepted, sendJson, sendRpcError } from './errors.ts';
import type { LegacyStream } from './legacy-stream.ts';
import type { HttpSession } from './sessions.ts';
import { SharedHttpSession } from './shared-sessions.ts';
import { isWritable } from './sse.ts';

/**
 * One POST of a legacy session: the Dispatch of its request(s) and the Outbound that upgrades the
 * response to a resumable SSE stream on the first server message (progress, logs, server requests).
 */
export class LegacyExchange implements Dispatch, Outbound {
  readonly canRequest = true;
  readonly transport = 'http' as const;
  readonly principal: Principal | undefined;
  readonly signal: AbortSignal;
  readonly #hs: HttpSession;
  readonly #res: ServerResponse;
  readonly #abort = new AbortController();
  #headers: Readonly<Record<string, string>> | undefined;
  #stream: LegacyStream | undefined;

  constructor(
    hs: HttpSession,
    res: ServerResponse,
    principal: Principal | undefined,
    headers?: Readonly<Record<string, string>>,
  ) {
    this.#hs = hs;
    this.#res = res;
    this.principal = principal;
    this.#headers = headers;
    // Disconnection is not cancellation in these revisions ("Sending Messages" 6); ending the session is.
    this.signal = this.#abort.signal;
    hs.inflight.add(this.#abort);
  }

  get session(): LegacySession {
    return this.#hs.session;
  }

  get outbound(): Outbound {
    return this;
  }

  send(message: JsonRpcNotification | JsonRpcRequest): boolean {
    const stream = this.#stream ?? this.#upgrade();
    return stream ? stream.send(message) : false;
  }

  /**
   * SEP-1699 polling (2025-11-25 "Sending Messages" 6): closes the connection without ending the
   * stream; the client resumes with Last-Event-ID. False where the session's revision has no polling.
   */
  closeConnection(): boolean {
    if (!this.#hs.primes) return false;
    const stream = this.#stream ?? this.#upgrade();
    if (!stream) return false;
    stream.disconnect();
    return true;
  }

  /** Delivers one response: a stream event, or collected for the JSON body. */
  deliver(reply: Reply): JsonRpcResponse | undefined {
    if (this.#stream) {
      // Cancellation: no response for a cancelled request (basic/utilities/cancellation).
      if (!reply.cancelled) this.#stream.emit(JSON.stringify(reply.message));
      return undefined;
    }
    // A plain JSON exchange still needs an HTTP answer, cancelled or not; the client ignores it.
    return reply.message;
  }

  /** A failed initialize hands out no session id (if the headers are still unsent). */
  dropHeaders(): void {
    this.#headers = undefined;
  }

  /** The engine failed unexpectedly: 500 (or the end of the stream). */
  fail(id: JsonRpcRequest['id'] | null): void {
    this.#hs.inflight.delete(this.#abort);
    if (this.#stream) this.#stream.finish();
    else sendRpcError(this.#res, 500, id, ErrorCode.InternalError, 'Internal error');
  }

  /**
   * The shared session store could not be reached (replicas, issue #4 "Failure"): 503, or the end of
   * an SSE response that has already begun.
   */
  unavailable(id: JsonRpcRequest['id'] | null, err: unknown): void {
    this.#hs.inflight.delete(this.#abort);
    if (this.#stream) this.#stream.finish();
    else if (this.#hs instanceof SharedHttpSession) this.#hs.shared.unavailable(this.#res, id, err);
    else sendRpcError(this.#res, 503, id, ErrorCode.InternalError, 'Service Unavailable');
  }

  /** All responses are out: end the stream, or answer with `json` in one write. */
  end(status: number, json: string | undefined, extraHeaders?: Record<string, string>): void {
    this.#hs.inflight.delete(this.#abort);
    if (this.#stream) {
      this.#stream.finish();
      return;
    }
    if (!isWritable(this.#res)) return;
    if (json === undefined) sendAccepted(this.#res);
    else
      sendJson(this.#res, status, json, extraHeaders ? { ...this.#headers, ...extraHeaders } : this.#headers);
  }

  #upgrade(): LegacyStream | undefined {
    const res = this.#res;
    if (res.headersSent || !isWritable(res) || this.#hs.closed) return undefined;
    const stream = this.#hs.newStream();
    stream.open(res, this.#headers);
    this.#stream = stream;
    return stream;
  }
}
