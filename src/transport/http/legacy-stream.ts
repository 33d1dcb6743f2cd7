// One resumable SSE stream of a legacy Streamable HTTP session (MCP 2025-03-26 .. 2025-11-25): the
// response stream of a POST, or the standalone GET stream. The stream outlives its connection: events
// sent while the client is away are kept in the event store and replayed when it comes back with
// Last-Event-ID (transports "Resumability and Redelivery").

import type { ServerResponse } from 'node:http';
import type { Outbound } from '../../protocol/contract.ts';
import type { JsonRpcNotification, JsonRpcRequest } from '../../protocol/jsonrpc.ts';
import type { HttpContext } from './context.ts';
import { eventId } from './event-store.ts';
import { formatEvent, formatPriming, isWritable, openSse, writeSse } from './sse.ts';

/** What a stream needs to know about the session that owns it. */
export interface StreamOwner {
  readonly id: string;
  readonly closed: boolean;
  /** SEP-1699 priming events and polling: 2025-11-25 and later. */
  readonly primes: boolean;
  forgetStream(stream: LegacyStream): void;
}

export class LegacyStream implements Outbound {
  readonly canRequest = true;
  readonly id: string;
  readonly #ctx: HttpContext;
  readonly #owner: StreamOwner;
  #seq = 0;
  #res: ServerResponse | undefined;
  /** The last message (the response, for a POST stream) has been written or stored. */
  #complete = false;

  constructor(ctx: HttpContext, owner: StreamOwner, id: string) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.id = id;
  }

  get connected(): boolean {
    return this.#res !== undefined;
  }

  get complete(): boolean {
    return this.#complete;
  }

  /** Outbound: a server notification or request. False once the stream or its session is over. */
  send(message: JsonRpcNotification | JsonRpcRequest): boolean {
    if (this.#complete || this.#owner.closed) return false;
    this.emit(JSON.stringify(message));
    return true;
  }

  /** Writes (or, while disconnected, keeps) one serialized message. */
  emit(data: string): void {
    const seq = ++this.#seq;
    const id = eventId(this.id, seq);
    this.#ctx.events.append(this.#owner.id, this.id, { seq, id, data });
    const res = this.#res;
    if (res && !writeSse(res, formatEvent(data, id))) this.#detach(res);
  }

  /** The stream carried its last message; it ends now if connected, or after a replay delivers it. */
  finish(): void {
    if (this.#complete) return;
    this.#complete = true;
    this.#ctx.events.completed?.(this.#owner.id, this.id, this.#seq + 1);
    const res = this.#res;
    if (res) {
      this.#detach(res);
      res.end();
      this.#forget();
    }
  }

  /**
   * Takes `res` as the stream's connection: opens the event stream and, on a fresh stream of a
   * 2025-11-25 session, primes it with an event id and a retry interval (SEP-1699).
   */
  open(res: ServerResponse, extraHeaders?: Readonly<Record<string, string>>): void {
    openSse(res, extraHeaders);
    if (this.#owner.primes) {
      writeSse(res, formatPriming(eventId(this.id, ++this.#seq), this.#ctx.options.sseRetryMs));
    }
    this.#attach(res);
  }

  /** Continues the stream on `res` after event `afterSeq` (GET with Last-Event-ID). */
  resume(res: ServerResponse, afterSeq: number): void {
    const previous = this.#res;
    if (previous) {
      // The client evidently lost that connection; the new one replaces it.
      this.#detach(previous);
      previous.end();
    }
    openSse(res);
    for (const e of this.#ctx.events.after(this.#owner.id, this.id, afterSeq) ?? []) {
      if (!writeSse(res, formatEvent(e.data, e.id))) return;
    }
    if (this.#complete) {
      res.end();
      this.#forget();
      return;
    }
    this.#attach(res);
  }

  /**
   * SEP-1699 polling: closes the connection but not the stream; the client reconnects with
   * Last-Event-ID after the retry interval and gets what was sent meanwhile.
   */
  disconnect(): void {
    const res = this.#res;
    if (!res) return;
    this.#detach(res);
    res.end();
  }

  /** Ends the connection for good (the session is over). */
  close(): void {
    const res = this.#res;
    this.#complete = true;
    if (!res) return;
    this.#detach(res);
    if (isWritable(res)) res.end();
  }

  #attach(res: ServerResponse): void {
    if (!isWritable(res)) return;
    this.#res = res;
    this.#ctx.keepAlive.add(res);
    // A stream whose client went away keeps its events (and its final message) until a replay.
    res.once('close', () => this.#detach(res));
  }

  #detach(res: ServerResponse): void {
    if (this.#res === res) this.#res = undefined;
    this.#ctx.keepAlive.delete(res);
  }

  #forget(): void {
    this.#ctx.events.dropStream(this.#owner.id, this.id);
    this.#owner.forgetStream(this);
  }
}
