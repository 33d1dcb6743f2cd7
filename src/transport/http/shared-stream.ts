// Streams of legacy sessions shared by replicas (issue #4 "Replicas"; MCP 2025-11-25 transports
// "Resumability and Redelivery"). A POST stream is produced by the replica that runs its request: it
// writes to its own connection as in one process and writes every event behind to the shared log, so
// a client that comes back with Last-Event-ID on another replica gets the replay there, then the rest
// live (StreamTail). The standalone GET stream, once a GET opened it, is produced by every copy of the
// session: its events go to the log first (a server change once, whichever copies report it, so one
// survives the replica holding the connection) and reach the connection through the holder's tail.

import type { ServerResponse } from 'node:http';
import type { Outbound, SendOptions } from '../../protocol/contract.ts';
import type { JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '../../protocol/jsonrpc.ts';
import type { HttpContext } from './context.ts';
import { type EventStore, eventId, type StoredEvent } from './event-store.ts';
import type { SharedHttpSession, SharedSessions } from './shared-sessions.ts';
import { formatEvent, isWritable, writeSse } from './sse.ts';

/** The standalone stream's id, as in one process. */
export const STANDALONE = '0';
/** The live channel's stream id for 2024-11-05 messages (not logged: that transport has no resumption). */
export const SSE_STREAM = 'sse';

/**
 * The producer's event store: the in-process store (same-replica resumption stays synchronous) plus a
 * write-behind copy of each event in the shared log. A failed write costs only a later resumption
 * elsewhere, so it is logged, never thrown into the request.
 */
export class MirroredEventStore implements EventStore {
  readonly #local: EventStore;
  readonly #shared: SharedSessions;

  constructor(local: EventStore, shared: SharedSessions) {
    this.#local = local;
    this.#shared = shared;
  }

  created(sessionId: string, streamId: string): void {
    const s = this.#shared;
    s.backplane.addStream(sessionId, streamId, s.ttlMs).catch((err: unknown) => s.writeFailed(err));
  }

  append(sessionId: string, streamId: string, event: StoredEvent): void {
    this.#local.append(sessionId, streamId, event);
    const s = this.#shared;
    s.backplane
      .append(sessionId, streamId, event.seq, event.data, s.ttlMs)
      .catch((err: unknown) => s.writeFailed(err));
  }

  completed(sessionId: string, streamId: string, endSeq: number): void {
    // The end marker follows the last event (one connection keeps them in order): a tail ends on it.
    const s = this.#shared;
    s.backplane.append(sessionId, streamId, endSeq, '', s.ttlMs).catch((err: unknown) => s.writeFailed(err));
  }

  after(sessionId: string, streamId: string, seq: number): readonly StoredEvent[] | undefined {
    return this.#local.after(sessionId, streamId, seq);
  }

  dropStream(sessionId: string, streamId: string): void {
    this.#local.dropStream(sessionId, streamId);
    const s = this.#shared;
    s.backplane.dropStream(sessionId, streamId).catch((err: unknown) => s.writeFailed(err));
  }

  dropSession(sessionId: string): void {
    // One replica's copy goes; the session and its logs live on for the others (remove() ends them).
    this.#local.dropSession(sessionId);
  }
}

/**
 * A client connection fed from a stream's shared log: the events after `afterSeq`, then the live ones
 * as they are published, until the end marker (the response was sent) or the session ends.
 */
export class StreamTail {
  readonly streamId: string;
  readonly #ctx: HttpContext;
  readonly #hs: SharedHttpSession;
  readonly #res: ServerResponse;
  #last: number;
  /** Live events that arrive while the replay is being read. */
  #buffer: [number, string][] | undefined = [];
  #unlisten: (() => void) | undefined;
  #ended = false;

  constructor(
    ctx: HttpContext,
    hs: SharedHttpSession,
    streamId: string,
    res: ServerResponse,
    afterSeq: number,
  ) {
    this.#ctx = ctx;
    this.#hs = hs;
    this.streamId = streamId;
    this.#res = res;
    this.#last = afterSeq;
    hs.tails.add(this);
    ctx.keepAlive.add(res);
    res.once('close', () => this.end());
  }

  get connected(): boolean {
    return !this.#ended;
  }

  /** Listens first, then reads the log: an event is in the replay, in the live feed, or in both (deduplicated by seq). */
  async start(): Promise<void> {
    const shared = this.#hs.shared;
    const unlisten = await shared.backplane.listen(this.#hs.id, (streamId, seq, data) => {
      if (streamId !== this.streamId || this.#ended) return;
      if (this.#buffer) this.#buffer.push([seq, data]);
      else this.#write(seq, data);
    });
    if (this.#ended) {
      unlisten();
      return;
    }
    this.#unlisten = unlisten;
    const replay = await shared.backplane.read(this.#hs.id, this.streamId, this.#last);
    for (const e of replay) this.#write(e.seq, e.data);
    const buffered = this.#buffer ?? [];
    this.#buffer = undefined;
    for (const [seq, data] of buffered) this.#write(seq, data);
  }

  #write(seq: number, data: string): void {
    if (this.#ended || seq <= this.#last) return;
    this.#last = seq;
    // '' marks the end: the stream's response is out ("Sending Messages" 6: the server closes the stream).
    if (data === '' || !writeSse(this.#res, formatEvent(data, eventId(this.streamId, seq)))) this.end();
  }

  /** Ends the connection (the stream itself lives on in the log for a later resumption). */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unlisten?.();
    this.#buffer = undefined;
    this.#hs.tails.delete(this);
    if (this.#hs.standaloneTail === this) this.#hs.standaloneTail = undefined;
    this.#ctx.keepAlive.delete(this.#res);
    if (isWritable(this.#res)) this.#res.end();
  }
}

/**
 * The standalone stream as a copy of the session produces it: every message goes to the shared log
 * with a seq the backplane allocates (several copies produce it, the numbering may not restart), then
 * to whichever tail is connected. A broadcast server change comes from every copy: the log keeps the
 * first (by its change id).
 */
export class StandaloneSender implements Outbound {
  readonly canRequest = true;
  readonly #hs: SharedHttpSession;

  constructor(hs: SharedHttpSession) {
    this.#hs = hs;
  }

  send(message: JsonRpcNotification | JsonRpcRequest, options?: SendOptions): boolean {
    const hs = this.#hs;
    if (hs.closed) return false;
    const s = hs.shared;
    s.backplane
      .append(hs.id, STANDALONE, undefined, JSON.stringify(message), s.ttlMs, options?.changeId)
      .catch((err: unknown) => s.writeFailed(err));
    return true;
  }
}

/** 2024-11-05 on a replica that does not hold the session's connection: messages go to the one that does. */
export class RelayedSse implements Outbound {
  readonly canRequest = true;
  readonly #hs: SharedHttpSession;

  constructor(hs: SharedHttpSession) {
    this.#hs = hs;
  }

  send(message: JsonRpcNotification | JsonRpcRequest | JsonRpcResponse): boolean {
    const hs = this.#hs;
    if (hs.closed) return false;
    const s = hs.shared;
    s.backplane
      .publishLive(hs.id, SSE_STREAM, JSON.stringify(message))
      .catch((err: unknown) => s.writeFailed(err));
    return true;
  }
}
