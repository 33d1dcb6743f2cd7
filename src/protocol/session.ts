// Legacy (initialize-based) session state: MCP 2025-03-26 .. 2025-11-25 lifecycle and
// transports "Session Management". Stateless 2026-07-28 requests never touch this.

import { randomBytes } from 'node:crypto';
import type { ClientCapabilities, Implementation, LoggingLevel } from '../server/types.ts';
import type { Outbound, Principal } from './contract.ts';
import { ErrorCode, type JsonObject, type JsonRpcId, type JsonRpcResponse, McpError } from './jsonrpc.ts';
import type { LegacyVersion } from './versions.ts';

interface Pending {
  resolve(result: JsonObject): void;
  reject(error: Error): void;
}

/**
 * A change to the state a client sets after initialize. Where sessions are shared between processes
 * (the HTTP session backplane), the holder of this copy writes it through to the others.
 */
export type SessionChange =
  | { readonly field: 'initialized' }
  | { readonly field: 'logLevel'; readonly level: LoggingLevel | undefined }
  | { readonly field: 'subscribe' | 'unsubscribe'; readonly uri: string };

/** The shared part of a session's state, as restore() takes it from another process's copy. */
export interface SessionState {
  readonly protocolVersion?: LegacyVersion;
  readonly clientCapabilities?: ClientCapabilities;
  readonly clientInfo?: Implementation;
  readonly initialized: boolean;
  readonly logLevel: LoggingLevel | undefined;
  readonly subscriptions: readonly string[];
}

/** resources/subscribe URIs of an observed session: additions and removals are reported. */
class ObservedSet extends Set<string> {
  readonly #report: (change: SessionChange) => void;

  constructor(items: Iterable<string>, report: (change: SessionChange) => void) {
    super();
    for (const v of items) super.add(v);
    this.#report = report;
  }

  override add(uri: string): this {
    if (this.has(uri)) return this;
    super.add(uri);
    this.#report({ field: 'subscribe', uri });
    return this;
  }

  override delete(uri: string): boolean {
    if (!super.delete(uri)) return false;
    this.#report({ field: 'unsubscribe', uri });
    return true;
  }

  override clear(): void {
    for (const uri of [...this]) this.delete(uri);
  }
}

export class LegacySession {
  /**
   * MCP 2025-11-25 transports "Session Management": globally unique and cryptographically secure,
   * visible ASCII only. 24 random bytes (192 bits) as base64url.
   */
  readonly id: string;
  readonly createdAt = Date.now();
  lastActivity = Date.now();

  protocolVersion: LegacyVersion | undefined;
  clientCapabilities: ClientCapabilities = {};
  clientInfo: Implementation | undefined;
  #initialized = false;
  #logLevel: LoggingLevel | undefined;
  #subscriptions: Set<string> = new Set();
  #observer: ((change: SessionChange) => void) | undefined;
  /**
   * The principal that created the session (the guard binds it, MCP security best practices
   * "Session Hijacking"): a request with another principal's token gets no access.
   */
  principal: Principal | undefined;
  /** The standalone GET stream (or, for HTTP+SSE 2024-11-05 and stdio, the only stream). */
  standalone: Outbound | undefined;
  closed = false;

  /**
   * Prefix of the ids of server-to-client requests. Where several processes share the session, each
   * puts its own tag here, so ids never collide and a response reaching another process can be
   * routed back to the one that waits for it.
   */
  requestIdPrefix = 'srv-';

  readonly #pending = new Map<JsonRpcId, Pending>();
  #nextId = 0;
  readonly #onClose = new Set<() => void>();

  /** Set by `notifications/initialized`. */
  get initialized(): boolean {
    return this.#initialized;
  }

  set initialized(value: boolean) {
    if (value === this.#initialized) return;
    this.#initialized = value;
    this.#observer?.({ field: 'initialized' });
  }

  /** logging/setLevel; undefined means the server's default (send everything). */
  get logLevel(): LoggingLevel | undefined {
    return this.#logLevel;
  }

  set logLevel(level: LoggingLevel | undefined) {
    if (level === this.#logLevel) return;
    this.#logLevel = level;
    this.#observer?.({ field: 'logLevel', level });
  }

  /** resources/subscribe URIs. */
  get subscriptions(): Set<string> {
    return this.#subscriptions;
  }

  /**
   * Reports every later change of `initialized`, `logLevel` and `subscriptions` to `observer` (one
   * observer; sessions that live in one process have none and pay nothing).
   */
  observe(observer: (change: SessionChange) => void): void {
    this.#observer = observer;
    this.#subscriptions = new ObservedSet(this.#subscriptions, observer);
  }

  /** Takes the state another process's copy of the session holds, without reporting it as a change. */
  restore(state: SessionState): void {
    if (state.protocolVersion !== undefined) this.protocolVersion = state.protocolVersion;
    if (state.clientCapabilities !== undefined) this.clientCapabilities = state.clientCapabilities;
    if (state.clientInfo !== undefined) this.clientInfo = state.clientInfo;
    this.#initialized = state.initialized;
    this.#logLevel = state.logLevel;
    const current = this.#subscriptions;
    const wanted = new Set(state.subscriptions);
    // Set.prototype methods, so an ObservedSet does not report what another process already wrote.
    for (const uri of [...current]) if (!wanted.has(uri)) Set.prototype.delete.call(current, uri);
    for (const uri of wanted) Set.prototype.add.call(current, uri);
  }

  /** `id`: another process's copy of an existing session (the HTTP session backplane); new otherwise. */
  constructor(id?: string) {
    this.id = id ?? randomBytes(24).toString('base64url');
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /**
   * Sends a server-to-client request (sampling, elicitation, roots) on `outbound` and waits for the
   * client's response, which arrives as a separate message through `deliverResponse`.
   */
  request(
    outbound: Outbound,
    method: string,
    params: JsonObject | undefined,
    signal: AbortSignal,
  ): Promise<JsonObject> {
    if (this.closed) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, 'session closed'));
    const id = `${this.requestIdPrefix}${++this.#nextId}`;
    return new Promise<JsonObject>((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(id);
        outbound.send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'aborted' },
        });
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      const msg =
        params === undefined
          ? { jsonrpc: '2.0' as const, id, method }
          : { jsonrpc: '2.0' as const, id, method, params };
      if (!outbound.send(msg)) {
        this.#pending.delete(id);
        signal.removeEventListener('abort', onAbort);
        reject(new McpError(ErrorCode.ConnectionClosed, 'the stream to the client is closed'));
      }
    });
  }

  /** Routes a client's response to the server request that awaits it. False if none does. */
  deliverResponse(response: JsonRpcResponse): boolean {
    if (response.id === null) return false;
    const p = this.#pending.get(response.id);
    if (!p) return false;
    this.#pending.delete(response.id);
    if ('error' in response)
      p.reject(new McpError(response.error.code, response.error.message, response.error.data));
    else p.resolve(response.result);
    return true;
  }

  onClose(fn: () => void): () => void {
    this.#onClose.add(fn);
    return () => this.#onClose.delete(fn);
  }

  /** Ends the session: pending server requests fail, listeners run, the GET stream is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.#pending.values())
      p.reject(new McpError(ErrorCode.ConnectionClosed, 'session closed'));
    this.#pending.clear();
    this.standalone = undefined;
    for (const fn of this.#onClose) fn();
    this.#onClose.clear();
  }
}
