// What a tool, resource, prompt or completion handler receives besides its arguments.

import type { Principal } from '../protocol/contract.ts';
import type { JsonObject, JsonValue } from '../protocol/jsonrpc.ts';
import type {
  ClientCapabilities,
  Implementation,
  InputRequest,
  InputRequiredResult,
  LoggingLevel,
} from './types.ts';

export interface HandlerContext {
  /** Aborted when the client cancels or disconnects (MCP 2026-07-28 basic/patterns/cancellation). */
  readonly signal: AbortSignal;
  /** The authenticated caller (user, client, scopes), when authorization is on. */
  readonly principal: Principal | undefined;
  /** 'modern' for stateless 2026-07-28 requests, 'legacy' for initialize-based sessions. */
  readonly era: 'modern' | 'legacy';
  readonly protocolVersion: string;
  readonly clientCapabilities: ClientCapabilities;
  readonly clientInfo: Implementation | undefined;
  /** The legacy session id, when there is one. */
  readonly sessionId: string | undefined;
  /** The JSON-RPC request id. */
  readonly requestId: string | number;
  /** The request's `_meta`, as sent. */
  readonly meta: JsonObject;

  /** Sends notifications/progress when the client asked for it (a `progressToken`); otherwise does nothing. */
  progress(progress: number, total?: number, message?: string): void;
  /**
   * Closes the connection of this request's SSE stream while the handler keeps running; the client
   * reconnects and resumes (MCP 2025-11-25 transports: servers MAY close a stream to make clients poll).
   * Returns false where the transport cannot (modern requests, stdio, older revisions).
   */
  closeStream(): boolean;
  /** Sends notifications/message if the client's log level admits `level`; otherwise does nothing. */
  log(level: LoggingLevel, data: unknown, logger?: string): void;

  /**
   * Multi round-trip requests (MCP 2026-07-28 basic/patterns/mrtr). On a retry, the client's answers
   * keyed as in `inputRequired({ inputRequests })`; undefined on a first attempt.
   */
  readonly inputResponses: Readonly<Record<string, JsonObject>> | undefined;
  /**
   * The state passed to `inputRequired({ state })` on the previous round, after its integrity, expiry,
   * principal and request binding were verified. Undefined on a first attempt.
   */
  readonly requestState: JsonValue | undefined;
  /**
   * Builds the interim result that asks the client for input; return it from the handler. In legacy
   * sessions the engine sends the input requests to the client itself and calls the handler again.
   */
  inputRequired(request: {
    inputRequests?: Record<string, InputRequest>;
    state?: JsonValue;
  }): InputRequiredResult;
}
