// Resumability of legacy Streamable HTTP streams (MCP 2025-11-25 transports "Resumability and
// Redelivery"): events sent on a session's SSE streams are kept so a client that lost its connection
// can GET them again with Last-Event-ID, on the stream they belong to and no other.
//
// The interface is synchronous on purpose: it serves the process that produces a stream. Where
// replicas share sessions (backplane.ts), the store also writes each event behind to the shared log
// (shared-stream.ts), and another replica resumes the stream from there.

export interface StoredEvent {
  /** Position in its stream, from 1. */
  readonly seq: number;
  /** The SSE `id`: see eventId(). */
  readonly id: string;
  /** The serialized JSON-RPC message. */
  readonly data: string;
}

export interface EventStore {
  append(sessionId: string, streamId: string, event: StoredEvent): void;
  /** The retained events of a stream after position `seq`, oldest first; undefined for a stream it does not know. */
  after(sessionId: string, streamId: string, seq: number): readonly StoredEvent[] | undefined;
  /** A new stream, before its first event (a store shared by replicas records that it may be resumed). */
  created?(sessionId: string, streamId: string): void;
  /** The stream's last message is stored: nothing follows it (`endSeq` is past its last event). */
  completed?(sessionId: string, streamId: string, endSeq: number): void;
  /** Forgets a stream whose messages were all delivered. */
  dropStream(sessionId: string, streamId: string): void;
  dropSession(sessionId: string): void;
}

/**
 * Event ids encode their stream ("Event IDs SHOULD encode sufficient information to identify the
 * originating stream") and are unique within the session: `{streamId}.{seq}`.
 */
export function eventId(streamId: string, seq: number): string {
  return `${streamId}.${seq}`;
}

export function parseEventId(id: string): { streamId: string; seq: number } | undefined {
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const streamId = id.slice(0, dot);
  const seqText = id.slice(dot + 1);
  if (!/^[0-9a-z]+$/.test(streamId) || !/^\d{1,15}$/.test(seqText)) return undefined;
  return { streamId, seq: Number(seqText) };
}

export interface MemoryEventStoreOptions {
  /** Events kept per stream; older ones are dropped first. Default 256. */
  maxEventsPerStream?: number;
  /** Bytes of event data kept per session; the oldest streams are dropped beyond it. Default 1 MiB. */
  maxBytesPerSession?: number;
}

interface StreamLog {
  events: StoredEvent[];
  bytes: number;
}

interface SessionLog {
  readonly streams: Map<string, StreamLog>;
  bytes: number;
}

/** A bounded in-memory EventStore. */
export class MemoryEventStore implements EventStore {
  readonly #sessions = new Map<string, SessionLog>();
  readonly #maxEvents: number;
  readonly #maxBytes: number;

  constructor(options: MemoryEventStoreOptions = {}) {
    this.#maxEvents = options.maxEventsPerStream ?? 256;
    this.#maxBytes = options.maxBytesPerSession ?? 1024 * 1024;
  }

  append(sessionId: string, streamId: string, event: StoredEvent): void {
    let session = this.#sessions.get(sessionId);
    if (!session) {
      session = { streams: new Map(), bytes: 0 };
      this.#sessions.set(sessionId, session);
    }
    let log = session.streams.get(streamId);
    if (!log) {
      log = { events: [], bytes: 0 };
      session.streams.set(streamId, log);
    }
    log.events.push(event);
    log.bytes += event.data.length;
    session.bytes += event.data.length;
    if (log.events.length > this.#maxEvents) {
      const dropped = log.events.shift() as StoredEvent;
      log.bytes -= dropped.data.length;
      session.bytes -= dropped.data.length;
    }
    // Over budget: whole streams go, oldest first, never the one just written to.
    for (const [id, other] of session.streams) {
      if (session.bytes <= this.#maxBytes) break;
      if (other === log) continue;
      session.streams.delete(id);
      session.bytes -= other.bytes;
    }
    while (session.bytes > this.#maxBytes && log.events.length > 1) {
      const dropped = log.events.shift() as StoredEvent;
      log.bytes -= dropped.data.length;
      session.bytes -= dropped.data.length;
    }
  }

  after(sessionId: string, streamId: string, seq: number): readonly StoredEvent[] | undefined {
    const log = this.#sessions.get(sessionId)?.streams.get(streamId);
    if (!log) return undefined;
    const events = log.events;
    let i = events.length;
    while (i > 0 && (events[i - 1] as StoredEvent).seq > seq) i--;
    return events.slice(i);
  }

  dropStream(sessionId: string, streamId: string): void {
    const session = this.#sessions.get(sessionId);
    const log = session?.streams.get(streamId);
    if (!session || !log) return;
    session.streams.delete(streamId);
    session.bytes -= log.bytes;
    if (session.streams.size === 0) this.#sessions.delete(sessionId);
  }

  dropSession(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }
}
