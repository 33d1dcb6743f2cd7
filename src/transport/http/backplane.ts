// What legacy sessions need from a store shared by several Keyhole replicas (issue #4 "Replicas"): each
// HTTP request of one session may land on another process. Without a backplane (the default) legacy
// sessions live in one process exactly as before and pay nothing for this; with one, their state,
// their stream events and the messages between replicas go through it. redis-backplane.ts is the
// implementation; shared-sessions.ts is the transport's side.

import type { JsonRpcNotification, JsonRpcResponse } from '../../protocol/jsonrpc.ts';
import type { LegacyVersion } from '../../protocol/versions.ts';
import type { ServerChange } from '../../server/server.ts';
import type { ClientCapabilities, Implementation, LoggingLevel } from '../../server/types.ts';

export type SessionKind = 'streamable' | 'sse';

/** A legacy session as every replica sees it. */
export interface SessionRecord {
  readonly kind: SessionKind;
  readonly protocolVersion: LegacyVersion | undefined;
  readonly clientCapabilities: ClientCapabilities;
  readonly clientInfo: Implementation | undefined;
  readonly initialized: boolean;
  readonly logLevel: LoggingLevel | undefined;
  readonly subscriptions: readonly string[];
  /**
   * MCP security best practices "Session Hijacking": the principal that created the session (user and
   * client), undefined without a guard.
   */
  readonly principal: { readonly subject: string; readonly clientId: string } | undefined;
  /** Bumped by every mutation: a copy older than this is stale. */
  readonly version: number;
  /**
   * A GET opened the session's standalone stream (on any replica): every copy produces its events
   * from then on. Not a mutation (no version bump); absent in a record not read from the backplane.
   */
  readonly standalone?: boolean;
}

/** A mutation of a session's shared state, applied atomically where the state lives. */
export type SessionMutation =
  | { readonly op: 'initialized' }
  | { readonly op: 'logLevel'; readonly level: LoggingLevel | undefined }
  | { readonly op: 'subscribe' | 'unsubscribe'; readonly uri: string }
  /** 2024-11-05: initialize arrives on a POST that any replica may handle. */
  | {
      readonly op: 'initialize';
      readonly protocolVersion: LegacyVersion;
      readonly clientCapabilities: ClientCapabilities;
      readonly clientInfo: Implementation | undefined;
    };

/** Messages every replica receives. `from` is the sender's replica id (replicas ignore their own). */
export type BusMessage =
  /** A session's state after a mutation: copies older than `record.version` take it. */
  | { readonly t: 'state'; readonly from: string; readonly sid: string; readonly record: SessionRecord }
  /** The session ended (DELETE, or its 2024-11-05 connection closed): every copy closes. */
  | { readonly t: 'end'; readonly from: string; readonly sid: string }
  /**
   * `from` now holds the session's standalone stream (its connection): others end theirs. Every copy
   * produces the stream's events from then on.
   */
  | { readonly t: 'held'; readonly from: string; readonly sid: string }
  /** A change of the sender's server (resource updated, list changed). */
  | { readonly t: 'change'; readonly from: string; readonly change: ServerChange }
  /** The client's answer to a server-to-client request that replica `to` sent. */
  | {
      readonly t: 'response';
      readonly from: string;
      readonly to: string;
      readonly sid: string;
      readonly message: JsonRpcResponse;
    }
  /** notifications/cancelled from the client, for whichever replica runs the request. */
  | {
      readonly t: 'cancel';
      readonly from: string;
      readonly sid: string;
      readonly message: JsonRpcNotification;
    };

/** One event of a stream's log. `data` is a serialized JSON-RPC message; '' marks the stream's end. */
export interface LoggedEvent {
  readonly seq: number;
  readonly data: string;
}

/** Live stream events of one session, as published: `seq` 0 for messages that are not logged. */
export type SessionListener = (streamId: string, seq: number, data: string) => void;

export interface SessionBackplane {
  /**
   * This replica's tag: lowercase ASCII letters, fixed length. It prefixes the ids of the streams and
   * server-to-client requests this replica creates, so no two replicas pick the same one.
   */
  readonly replicaId: string;

  /** Stores a new session; it expires after `ttlMs` without activity. */
  create(sid: string, record: SessionRecord, ttlMs: number): Promise<void>;
  /** The session's state, or undefined if it ended or expired; refreshes the expiry (activity). */
  load(sid: string, ttlMs: number): Promise<SessionRecord | undefined>;
  /** Whether the session still exists, without counting as activity. */
  exists(sid: string): Promise<boolean>;
  /** Applies a mutation and returns the new state (undefined if the session is gone). */
  mutate(sid: string, mutation: SessionMutation, ttlMs: number): Promise<SessionRecord | undefined>;
  /** Deletes the session, its subscriptions and its event logs. Idempotent. */
  remove(sid: string): Promise<void>;

  /**
   * Logs one event of a stream and publishes it to the session's listeners. `seq` undefined: the
   * backplane allocates the next number of the stream (streams with several producers, the standalone
   * one). Resolves with the event's seq, or undefined if the session is gone.
   *
   * `changeId` (a broadcast server change, ServerChange.id): every replica with a copy of the session
   * appends it; the first append logs it, the others resolve with 0 and log nothing.
   */
  append(
    sid: string,
    streamId: string,
    seq: number | undefined,
    data: string,
    ttlMs: number,
    changeId?: string,
  ): Promise<number | undefined>;
  /** Allocates a seq without logging an event (priming events). Undefined if the session is gone. */
  allocate(sid: string, streamId: string): Promise<number | undefined>;
  /** Registers a stream so a Last-Event-ID naming it is accepted before its first event is logged. */
  addStream(sid: string, streamId: string, ttlMs: number): Promise<void>;
  hasStream(sid: string, streamId: string): Promise<boolean>;
  /** The logged events of a stream after `afterSeq`, oldest first. */
  read(sid: string, streamId: string, afterSeq: number): Promise<LoggedEvent[]>;
  /** Forgets a stream and its log. */
  dropStream(sid: string, streamId: string): Promise<void>;
  /** Publishes a message to the session's listeners without logging it (2024-11-05 has no resumption). */
  publishLive(sid: string, streamId: string, data: string): Promise<void>;

  /** Receives the session's live events until the returned function is called. Resolves once active. */
  listen(sid: string, listener: SessionListener): Promise<() => void>;
  publish(message: BusMessage): Promise<void>;
  /**
   * Attaches the (one) receiver of bus messages and of subscription loss: after `onLost` the
   * replica's live listeners may have missed messages. Returns the detach function.
   */
  attach(receiver: { onMessage(message: BusMessage): void; onLost(): void }): () => void;
}
