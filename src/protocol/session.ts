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

export class LegacySession {
  /**
   * MCP 2025-11-25 transports "Session Management": globally unique and cryptographically secure,
   * visible ASCII only. 24 random bytes (192 bits) as base64url.
   */
  readonly id: string = randomBytes(24).toString('base64url');
  readonly createdAt = Date.now();
  lastActivity = Date.now();

  protocolVersion: LegacyVersion | undefined;
  clientCapabilities: ClientCapabilities = {};
  clientInfo: Implementation | undefined;
  /** Set by `notifications/initialized`. */
  initialized = false;
  /** logging/setLevel; undefined means the server's default (send everything). */
  logLevel: LoggingLevel | undefined;
  /** resources/subscribe URIs. */
  readonly subscriptions = new Set<string>();
  /**
   * The principal that created the session (the guard binds it, MCP security best practices
   * "Session Hijacking"): a request with another principal's token gets no access.
   */
  principal: Principal | undefined;
  /** The standalone GET stream (or, for HTTP+SSE 2024-11-05 and stdio, the only stream). */
  standalone: Outbound | undefined;
  closed = false;

  readonly #pending = new Map<JsonRpcId, Pending>();
  #nextId = 0;
  readonly #onClose = new Set<() => void>();

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
    const id = `srv-${++this.#nextId}`;
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
