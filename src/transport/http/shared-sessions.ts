// Legacy sessions shared by replicas through a SessionBackplane (issue #4 "Replicas": no sticky
// sessions). Each replica keeps a local copy (SharedHttpSession) of the sessions its requests touch;
// the backplane holds the truth. Every request re-reads the session (that read is also its activity,
// renewing the idle expiry), state changes are written through before the client hears back and
// announced to the other copies, server changes and client answers travel on the backplane's bus.
// Once a GET opened a session's standalone stream, every copy produces it (a change is logged once,
// by its id): what is caused while no replica holds its connection waits in the log for the client.

import type { ServerResponse } from 'node:http';
import type { Dispatch, Outbound, Principal } from '../../protocol/contract.ts';
import type { JsonRpcId, JsonRpcNotification, JsonRpcResponse } from '../../protocol/jsonrpc.ts';
import { LegacySession, type SessionChange } from '../../protocol/session.ts';
import type {
  BusMessage,
  SessionBackplane,
  SessionKind,
  SessionMutation,
  SessionRecord,
} from './backplane.ts';
import type { HttpContext } from './context.ts';
import { sendRpcError, TransportError } from './errors.ts';
import { eventId } from './event-store.ts';
import { HttpSession, samePrincipal } from './sessions.ts';
import { SSE_STREAM, STANDALONE, StandaloneSender, StreamTail } from './shared-stream.ts';
import { formatEvent, formatPriming, isWritable, openSse, writeSse } from './sse.ts';

const NEVER = new AbortController().signal;
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const NO_OUTBOUND: Outbound = Object.freeze({ canRequest: false, send: () => false });

/** This replica's copy of a shared session. */
export class SharedHttpSession extends HttpSession {
  readonly shared: SharedSessions;
  /** The backplane's mutation counter this copy reflects. */
  version = 0;
  /** Connections fed from the shared log (standalone stream, streams resumed from other replicas). */
  readonly tails = new Set<StreamTail>();
  standaloneTail: StreamTail | undefined;
  /** 2024-11-05, on the replica holding the connection: stops relaying messages to it. */
  unlistenSse: (() => void) | undefined;
  #writes: Promise<void>[] = [];
  #writing = 0;
  #attached = false;
  #holding = false;
  readonly #ctx: HttpContext;

  constructor(ctx: HttpContext, session: LegacySession, kind: SessionKind, shared: SharedSessions) {
    super(ctx, session, kind);
    this.#ctx = ctx;
    this.shared = shared;
    this.streamPrefix = shared.backplane.replicaId;
    session.requestIdPrefix = `srv-${shared.backplane.replicaId}-`;
  }

  /**
   * Holds the standalone stream: its connection is (or was last) served here. Whether this copy
   * produces the stream's events is another matter (`producing`).
   */
  get holder(): boolean {
    return this.#holding;
  }

  /** Appends the standalone stream's events to the shared log (server changes reach the session here). */
  get producing(): boolean {
    return this.session.standalone instanceof StandaloneSender;
  }

  /** Produces the standalone stream from now on (a GET opened it, on this replica or another). */
  produce(): void {
    if (this.kind !== 'streamable' || this.closed || this.producing) return;
    this.session.standalone = new StandaloneSender(this);
  }

  override get busy(): boolean {
    return super.busy || this.tails.size > 0 || this.holder;
  }

  /** In use by a client right now: a request in flight or a connection (its activity keeps the session alive). */
  get active(): boolean {
    return super.busy || this.tails.size > 0;
  }

  override settled(): Promise<void> | undefined {
    if (this.#writes.length === 0) return undefined;
    const writes = this.#writes;
    this.#writes = [];
    return Promise.all(writes).then(() => undefined);
  }

  /** Writes a local state change through to the backplane and announces it to the other copies. */
  write(change: SessionChange): void {
    const shared = this.shared;
    const mutation: SessionMutation =
      change.field === 'initialized'
        ? { op: 'initialized' }
        : change.field === 'logLevel'
          ? { op: 'logLevel', level: change.level }
          : { op: change.field, uri: change.uri };
    this.#track(shared.backplane.mutate(this.id, mutation, shared.ttlMs));
  }

  /** 2024-11-05: initialize ran here, on whichever replica the POST landed. */
  writeInitialize(): Promise<void> {
    const s = this.session;
    if (s.protocolVersion === undefined) return Promise.resolve();
    const shared = this.shared;
    this.#track(
      shared.backplane.mutate(
        this.id,
        {
          op: 'initialize',
          protocolVersion: s.protocolVersion,
          clientCapabilities: s.clientCapabilities,
          clientInfo: s.clientInfo,
        },
        shared.ttlMs,
      ),
    );
    return this.settled() ?? Promise.resolve();
  }

  #track(mutated: Promise<SessionRecord | undefined>): void {
    this.#writing++;
    const shared = this.shared;
    const done = mutated
      .then((record) => {
        if (!record) return;
        // Another replica's change may have come in between: the last write's snapshot has both.
        if (this.#writing === 1 && record.version > this.version) this.take(record);
        return shared.backplane.publish({
          t: 'state',
          from: shared.backplane.replicaId,
          sid: this.id,
          record,
        });
      })
      .finally(() => {
        this.#writing--;
      });
    this.#writes.push(done);
  }

  /** Takes another copy's state (announced on the bus, or read with a request). */
  take(record: SessionRecord): void {
    if (record.standalone) this.produce();
    if (this.#writing > 0) return;
    this.version = record.version;
    this.session.restore(record);
    this.attach();
  }

  /**
   * Server changes reach the session once it is initialized (2024-11-05: initialize may have run on
   * another replica; this copy learns it from the announced state).
   */
  attach(): void {
    if (this.#attached || this.session.protocolVersion === undefined || this.closed) return;
    this.#attached = true;
    this.#ctx.engine.attachSession(this.session);
  }

  /** This replica serves the standalone stream's connection. */
  hold(): void {
    this.produce();
    this.#holding = true;
  }

  /** Another replica serves the standalone stream's connection now: this one's ends (it still produces). */
  release(): void {
    this.#holding = false;
    this.standaloneTail?.end();
  }

  /** Stops producing until the state is read again (this copy may have missed changes of it). */
  suspend(): void {
    this.release();
    if (this.producing) this.session.standalone = undefined;
  }

  override close(): void {
    if (this.closed) return;
    super.close();
    for (const t of [...this.tails]) t.end();
    this.unlistenSse?.();
    this.unlistenSse = undefined;
  }
}

/** The transport's side of the backplane, one per app. */
export class SharedSessions {
  readonly backplane: SessionBackplane;
  readonly ttlMs: number;
  readonly #ctx: HttpContext;
  #detach: (() => void) | undefined;
  #unsubscribeChanges: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastWriteError = 0;

  constructor(ctx: HttpContext, backplane: SessionBackplane) {
    this.#ctx = ctx;
    this.backplane = backplane;
    this.ttlMs = ctx.options.sessionIdleTimeoutMs;
  }

  get replicaId(): string {
    return this.backplane.replicaId;
  }

  start(): void {
    if (this.#detach) return;
    this.#detach = this.backplane.attach({
      onMessage: (m) => this.#onMessage(m),
      onLost: () => this.#onLost(),
    });
    // Changes of this replica's server reach the sessions other replicas hold.
    this.#unsubscribeChanges = this.#ctx.engine.server.onChange((change) => {
      this.backplane
        .publish({ t: 'change', from: this.replicaId, change })
        .catch((err: unknown) => this.writeFailed(err));
    });
    const every = Math.max(10, Math.min(5_000, Math.floor(this.ttlMs / 3)));
    this.#timer = setInterval(() => this.#heartbeat(), every);
    this.#timer.unref();
  }

  stop(): void {
    this.#detach?.();
    this.#detach = undefined;
    this.#unsubscribeChanges?.();
    this.#unsubscribeChanges = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A new session of this replica (stored by store() once its creation succeeded). */
  adopt(session: LegacySession, kind: SessionKind): SharedHttpSession {
    return new SharedHttpSession(this.#ctx, session, kind, this);
  }

  /** Stores a new session, then makes it this replica's copy. */
  async store(hs: SharedHttpSession): Promise<void> {
    const s = hs.session;
    await this.backplane.create(hs.id, this.#record(hs), this.ttlMs);
    s.observe((change) => hs.write(change));
    this.#ctx.sessions.add(hs);
    hs.attach();
  }

  /**
   * The session `sid` of `kind` that `principal` may use, read from the backplane (which counts it as
   * activity); undefined when it is unknown, ended, expired, of the other transport or another
   * principal's. Rejects when the backplane cannot be reached.
   */
  async find(
    sid: string,
    kind: SessionKind,
    principal: Principal | undefined,
  ): Promise<SharedHttpSession | undefined> {
    // Ids this server hands out are base64url; anything else is unknown without asking Redis.
    if (!SESSION_ID.test(sid)) return undefined;
    const record = await this.backplane.load(sid, this.ttlMs);
    const ctx = this.#ctx;
    const local = ctx.sessions.get(sid) as SharedHttpSession | undefined;
    if (!record) {
      // Ended or expired elsewhere: this copy is stale.
      local?.close();
      return undefined;
    }
    // MCP security best practices "Session Hijacking": bound to the principal that created it.
    if (record.kind !== kind || !samePrincipal(record.principal as Principal | undefined, principal))
      return undefined;
    if (local && !local.closed) {
      if (record.version > local.version) local.take(record);
      else if (record.standalone) local.produce();
      local.session.touch();
      return local;
    }
    const session = new LegacySession(sid);
    session.principal = principal;
    const hs = new SharedHttpSession(ctx, session, kind, this);
    hs.take(record);
    session.observe((change) => hs.write(change));
    ctx.sessions.add(hs);
    hs.attach();
    return hs;
  }

  /** Ends the session on every replica: DELETE, or the 2024-11-05 connection closed. */
  async end(hs: SharedHttpSession): Promise<void> {
    hs.close();
    await this.backplane.remove(hs.id);
    await this.backplane.publish({ t: 'end', from: this.replicaId, sid: hs.id });
  }

  /** GET: this replica takes the standalone stream and feeds `res` from its log after `afterSeq` (or from now). */
  async openStandalone(
    hs: SharedHttpSession,
    res: ServerResponse,
    afterSeq: number | undefined,
  ): Promise<void> {
    hs.hold();
    hs.standaloneTail?.end();
    await this.backplane.addStream(hs.id, STANDALONE, this.ttlMs);
    let from = afterSeq;
    if (from === undefined) {
      from = await this.backplane.allocate(hs.id, STANDALONE);
      if (from === undefined) throw new Error('session ended');
    }
    // After the allocation (the record's `standalone` from now on): a copy loaded later produces the
    // stream, the copies already there learn it here.
    await this.backplane.publish({ t: 'held', from: this.replicaId, sid: hs.id });
    if (hs.closed || !isWritable(res)) return;
    openSse(res);
    // SEP-1699: a fresh stream of a 2025-11-25 session starts with an id and a retry interval.
    if (afterSeq === undefined && hs.primes) {
      writeSse(res, formatPriming(eventId(STANDALONE, from), this.#ctx.options.sseRetryMs));
    }
    const tail = new StreamTail(this.#ctx, hs, STANDALONE, res, from);
    hs.standaloneTail = tail;
    await this.#run(tail);
  }

  /**
   * GET with Last-Event-ID of a stream this replica does not produce: replay from the shared log, then
   * live. False when the session has no such stream.
   */
  async resumeRemote(
    hs: SharedHttpSession,
    streamId: string,
    afterSeq: number,
    res: ServerResponse,
  ): Promise<boolean> {
    if (!(await this.backplane.hasStream(hs.id, streamId))) return false;
    if (hs.closed || !isWritable(res)) return true;
    openSse(res);
    await this.#run(new StreamTail(this.#ctx, hs, streamId, res, afterSeq));
    return true;
  }

  async #run(tail: StreamTail): Promise<void> {
    try {
      await tail.start();
    } catch (err) {
      this.writeFailed(err);
      tail.end();
    }
  }

  /** 2024-11-05, on the replica holding the connection: messages other replicas send reach it. */
  async relaySse(hs: SharedHttpSession, res: ServerResponse): Promise<void> {
    hs.unlistenSse = await this.backplane.listen(hs.id, (streamId, _seq, data) => {
      if (streamId === SSE_STREAM && !writeSse(res, formatEvent(data))) hs.close();
    });
    if (hs.closed) hs.unlistenSse();
  }

  /**
   * The client's answer to a server-to-client request that another replica sent (its id carries that
   * replica's tag): passed on to it.
   */
  relayResponse(hs: SharedHttpSession, message: JsonRpcResponse): void {
    const to = replicaOf(message.id);
    if (to === undefined || to === this.replicaId) return;
    this.backplane
      .publish({ t: 'response', from: this.replicaId, to, sid: hs.id, message })
      .catch((err: unknown) => this.writeFailed(err));
  }

  /** notifications/cancelled may name a request another replica runs (basic/utilities/cancellation). */
  relayNotification(hs: SharedHttpSession, message: JsonRpcNotification): void {
    if (message.method !== 'notifications/cancelled') return;
    this.backplane
      .publish({ t: 'cancel', from: this.replicaId, sid: hs.id, message })
      .catch((err: unknown) => this.writeFailed(err));
  }

  /** 503 for a session path whose state could not be read or written (issue #4 "Failure"). */
  unavailable(res: ServerResponse, id: JsonRpcId | null, err: unknown): void {
    this.#ctx.logger.warn('session backplane unavailable', { error: err });
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    sendRpcError(
      res,
      503,
      id,
      TransportError.BadRequest,
      'Service Unavailable: the session store is unreachable',
      {
        'retry-after': '5',
      },
    );
  }

  /** A write-behind failed: a later resumption or another replica may miss it. Logged at most once a second. */
  writeFailed(err: unknown): void {
    const now = Date.now();
    if (now - this.#lastWriteError < 1000) return;
    this.#lastWriteError = now;
    this.#ctx.logger.warn('session backplane write failed', { error: err });
  }

  #record(hs: SharedHttpSession): SessionRecord {
    const s = hs.session;
    return {
      kind: hs.kind,
      protocolVersion: s.protocolVersion,
      clientCapabilities: s.clientCapabilities,
      clientInfo: s.clientInfo,
      initialized: s.initialized,
      logLevel: s.logLevel,
      subscriptions: [...s.subscriptions],
      principal: s.principal ? { subject: s.principal.subject, clientId: s.principal.clientId } : undefined,
      version: 0,
    };
  }

  #local(sid: string): SharedHttpSession | undefined {
    const hs = this.#ctx.sessions.get(sid) as SharedHttpSession | undefined;
    return hs && !hs.closed ? hs : undefined;
  }

  #onMessage(m: BusMessage): void {
    const ctx = this.#ctx;
    switch (m.t) {
      case 'change':
        ctx.engine.deliverChange(m.change);
        return;
      case 'state': {
        const hs = this.#local(m.sid);
        if (hs && m.record.version > hs.version) hs.take(m.record);
        return;
      }
      case 'end':
        this.#local(m.sid)?.close();
        return;
      case 'held': {
        const hs = this.#local(m.sid);
        hs?.release();
        // Unless suspended (#onLost): it produces once it has read its state again.
        if (hs && hs.version >= 0) hs.produce();
        return;
      }
      case 'response':
        if (m.to === this.replicaId) this.#local(m.sid)?.session.deliverResponse(m.message);
        return;
      case 'cancel': {
        const hs = this.#local(m.sid);
        if (hs) ctx.engine.notification(m.message, dispatchOf(hs));
        return;
      }
    }
  }

  /**
   * The subscriber connection dropped: messages may have been missed. Live connections end (clients
   * resume with Last-Event-ID), and copies re-read their state before they produce standalone streams
   * again (after a missed unsubscription they would report changes the client no longer asked for).
   */
  #onLost(): void {
    for (const hs of [...this.#ctx.sessions.values()] as SharedHttpSession[]) {
      hs.version = -1;
      if (hs.kind === 'sse') continue;
      for (const t of [...hs.tails]) t.end();
      hs.suspend();
    }
  }

  /** Renews the expiry of sessions in use here, and drops copies of sessions that ended elsewhere. */
  #heartbeat(): void {
    for (const hs of [...this.#ctx.sessions.values()] as SharedHttpSession[]) {
      if (hs.closed) continue;
      const check = hs.active
        ? this.backplane.load(hs.id, this.ttlMs)
        : hs.holder
          ? this.backplane.exists(hs.id)
          : undefined;
      check?.then(
        (found) => {
          if (!found) hs.close();
          else if (typeof found === 'object' && found.version > hs.version) hs.take(found);
        },
        (err: unknown) => this.writeFailed(err),
      );
    }
  }
}

function dispatchOf(hs: SharedHttpSession): Dispatch {
  return {
    signal: NEVER,
    outbound: NO_OUTBOUND,
    session: hs.session,
    principal: hs.session.principal,
    transport: 'http',
  };
}

/** `srv-{replica}-{n}`: the replica that sent a server-to-client request. */
function replicaOf(id: JsonRpcId | null): string | undefined {
  if (typeof id !== 'string' || !id.startsWith('srv-')) return undefined;
  const dash = id.indexOf('-', 4);
  return dash > 4 ? id.slice(4, dash) : undefined;
}
