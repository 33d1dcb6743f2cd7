// Legacy sessions as the HTTP transport holds them (MCP 2025-11-25 transports "Session Management";
// 2024-11-05 HTTP+SSE): the engine's LegacySession plus its streams, in-flight requests and expiry.

import type { ServerResponse } from 'node:http';
import type { Principal } from '../../protocol/contract.ts';
import type { LegacySession } from '../../protocol/session.ts';
import type { SessionKind } from './backplane.ts';
import type { HttpContext } from './context.ts';
import { LegacyStream, type StreamOwner } from './legacy-stream.ts';

export type { SessionKind } from './backplane.ts';

/** The standalone GET stream's id; POST streams count up from 1 (base 36). */
const STANDALONE = '0';
/** Finished POST streams whose client has not come back for the response, kept per session at most. */
const MAX_PARKED_STREAMS = 32;

export class HttpSession implements StreamOwner {
  readonly session: LegacySession;
  readonly kind: SessionKind;
  readonly #ctx: HttpContext;
  readonly #streams = new Map<string, LegacyStream>();
  /** Abort controllers of requests in flight: a session that ends cancels them. */
  readonly inflight = new Set<AbortController>();
  #nextStream = 0;
  /** Prefix of POST stream ids: a replica's tag where replicas share sessions, so ids never collide. */
  streamPrefix = '';
  /** 2024-11-05: the SSE connection that is the session. */
  sse: ServerResponse | undefined;

  constructor(ctx: HttpContext, session: LegacySession, kind: SessionKind) {
    this.#ctx = ctx;
    this.session = session;
    this.kind = kind;
  }

  get id(): string {
    return this.session.id;
  }

  get closed(): boolean {
    return this.session.closed;
  }

  get primes(): boolean {
    const v = this.session.protocolVersion;
    return v !== undefined && v >= '2025-11-25';
  }

  /** In use: a request in flight or a client connected to one of its streams. */
  get busy(): boolean {
    if (this.inflight.size > 0 || this.sse !== undefined) return true;
    for (const s of this.#streams.values()) if (s.connected) return true;
    return false;
  }

  /** A new POST response stream. */
  newStream(): LegacyStream {
    const stream = new LegacyStream(this.#ctx, this, this.streamPrefix + (++this.#nextStream).toString(36));
    this.#streams.set(stream.id, stream);
    this.#ctx.events.created?.(this.id, stream.id);
    if (this.#streams.size > MAX_PARKED_STREAMS) this.#evictParked();
    return stream;
  }

  /** The standalone GET stream, created on first use and then kept for resumption. */
  standalone(): LegacyStream {
    let stream = this.#streams.get(STANDALONE);
    if (!stream) {
      stream = new LegacyStream(this.#ctx, this, STANDALONE);
      this.#streams.set(STANDALONE, stream);
      this.session.standalone = stream;
    }
    return stream;
  }

  stream(id: string): LegacyStream | undefined {
    return this.#streams.get(id);
  }

  /**
   * Settles the session's state changes made by the current message (written through to the other
   * replicas before the client hears back); undefined when there is nothing to wait for.
   */
  settled(): Promise<void> | undefined {
    return undefined;
  }

  forgetStream(stream: LegacyStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
  }

  /** Ends the session: requests are cancelled, connections end, nothing is kept. */
  close(): void {
    if (this.session.closed) return;
    this.#ctx.sessions.delete(this);
    this.session.close();
    for (const c of this.inflight) c.abort(new Error('session closed'));
    this.inflight.clear();
    for (const s of this.#streams.values()) s.close();
    this.#streams.clear();
    const sse = this.sse;
    this.sse = undefined;
    if (sse) {
      this.#ctx.keepAlive.delete(sse);
      if (!sse.writableEnded) sse.end();
    }
    this.#ctx.events.dropSession(this.id);
  }

  #evictParked(): void {
    for (const s of this.#streams.values()) {
      if (this.#streams.size <= MAX_PARKED_STREAMS) return;
      if (s.id !== STANDALONE && s.complete && !s.connected) {
        this.#streams.delete(s.id);
        this.#ctx.events.dropStream(this.id, s.id);
      }
    }
  }
}

/**
 * MCP security best practices "Session Hijacking": a session is usable only by the principal that
 * created it (same user and client). Without a guard both sides are undefined.
 */
export function samePrincipal(a: Principal | undefined, b: Principal | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.subject === b.subject && a.clientId === b.clientId;
}

export class SessionRegistry {
  readonly #sessions = new Map<string, HttpSession>();
  readonly #max: number;
  readonly #idleMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(maxSessions: number, idleTimeoutMs: number) {
    this.#max = maxSessions;
    this.#idleMs = idleTimeoutMs;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get full(): boolean {
    return this.#sessions.size >= this.#max;
  }

  get(id: string): HttpSession | undefined {
    return this.#sessions.get(id);
  }

  values(): IterableIterator<HttpSession> {
    return this.#sessions.values();
  }

  add(session: HttpSession): void {
    this.#sessions.set(session.id, session);
  }

  delete(session: HttpSession): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
  }

  /** The live session `id` of `kind` that `principal` may use; undefined otherwise (answered 404 alike). */
  find(id: string, kind: SessionKind, principal: Principal | undefined): HttpSession | undefined {
    const s = this.#sessions.get(id);
    if (!s || s.kind !== kind || s.closed || !samePrincipal(s.session.principal, principal)) return undefined;
    return s;
  }

  /** Expires idle sessions with one timer for all of them. */
  startSweeper(): void {
    if (this.#timer) return;
    const every = Math.max(10, Math.min(60_000, Math.floor(this.#idleMs / 4)));
    this.#timer = setInterval(() => this.sweep(Date.now()), every);
    this.#timer.unref();
  }

  stopSweeper(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Closes sessions with nothing in flight, no client connected and no activity for the idle timeout. */
  sweep(now: number): number {
    let closed = 0;
    for (const s of [...this.#sessions.values()]) {
      if (!s.busy && now - s.session.lastActivity > this.#idleMs) {
        s.close();
        closed++;
      }
    }
    return closed;
  }

  closeAll(): void {
    for (const s of [...this.#sessions.values()]) s.close();
  }
}
