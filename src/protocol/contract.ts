// The contract between transports (HTTP, legacy SSE, stdio) and the protocol engine.
// Transports own bytes, streams and HTTP semantics; the engine owns MCP semantics.

import type { JsonObject, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from './jsonrpc.ts';

/** The authenticated caller, set by the resource-server guard (the authorization-server issue). */
export interface Principal {
  /** `sub` of the access token: the user (or the client itself for client_credentials). */
  readonly subject: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** The token's `jti`, when it has one. */
  readonly tokenId?: string;
  /** Token expiry, epoch seconds. */
  readonly expiresAt?: number;
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** A channel from the server to the client: the response stream of one request, a GET stream, or stdio. */
export interface Outbound {
  /**
   * Writes one server message. Returns false when the channel is closed (the message is dropped).
   * `options.changeId` names the server change a broadcast notification reports (ServerChange.id):
   * a channel that several processes produce (the standalone stream of a session shared by replicas)
   * logs it once; others ignore it.
   */
  send(message: JsonRpcNotification | JsonRpcRequest, options?: SendOptions): boolean;
  /** True where server-to-client requests may travel (legacy SSE streams and stdio, never modern HTTP). */
  readonly canRequest: boolean;
  /**
   * Closes the connection under this stream without ending the stream, so the client reconnects and
   * resumes with Last-Event-ID (MCP 2025-11-25 transports, SSE polling). Absent or false where the
   * transport cannot (modern HTTP, stdio, revisions before 2025-11-25).
   */
  closeConnection?(): boolean;
}

/** How one message is sent (Outbound.send). */
export interface SendOptions {
  /** The server change this notification reports: the same change sent twice is logged once. */
  readonly changeId?: string;
}

/** What a transport hands the engine with each client message. */
export interface Dispatch {
  /** Aborted when the client goes away (modern HTTP: stream closed; stdio/legacy: notifications/cancelled). */
  readonly signal: AbortSignal;
  /** Where request-scoped notifications (progress, log messages) and legacy server requests go. */
  readonly outbound: Outbound;
  /** The legacy session this message belongs to (undefined for modern, stateless requests). */
  readonly session?: import('./session.ts').LegacySession;
  /** The authenticated caller, when the guard is on. */
  readonly principal?: Principal;
  /** Which transport carried the message. */
  readonly transport: 'http' | 'sse' | 'stdio';
}

/** The engine's answer to one request: the JSON-RPC response plus the HTTP status a transport should use. */
export interface Reply {
  readonly message: JsonRpcResponse;
  /** 200 for results; 400/404 for the modern errors that MCP 2026-07-28 maps to HTTP statuses. */
  readonly status: number;
  /**
   * The request was cancelled (notifications/cancelled): MCP basic/utilities/cancellation says the
   * receiver SHOULD NOT respond, so transports drop the message.
   */
  readonly cancelled?: boolean;
  /**
   * Set when the caller's token lacks scopes (status 403): every scope the operation needs, for the
   * transport's `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` challenge.
   */
  readonly requiredScopes?: readonly string[];
}

export type { JsonObject };
