// One request in flight: what the engine knows about it, and the HandlerContext handlers see.

import type { HandlerContext } from '../server/context.ts';
import {
  type ClientCapabilities,
  type Implementation,
  type InputRequest,
  type InputRequiredResult,
  LOGGING_LEVELS,
  type LoggingLevel,
} from '../server/types.ts';
import type { Outbound, Principal } from './contract.ts';
import type { JsonObject, JsonRpcId, JsonValue } from './jsonrpc.ts';
import type { LegacySession } from './session.ts';

const EMPTY: JsonObject = Object.freeze({}) as JsonObject;

export class Call implements HandlerContext {
  readonly era: 'modern' | 'legacy';
  readonly protocolVersion: string;
  readonly clientCapabilities: ClientCapabilities;
  readonly clientInfo: Implementation | undefined;
  readonly requestId: JsonRpcId;
  readonly meta: JsonObject;
  signal: AbortSignal;
  readonly principal: Principal | undefined;
  readonly outbound: Outbound;
  readonly session: LegacySession | undefined;
  readonly method: string;
  /** Minimum level for notifications/message, or undefined to send none (modern without logLevel). */
  readonly logThreshold: number | undefined;
  inputResponses: Readonly<Record<string, JsonObject>> | undefined;
  requestState: JsonValue | undefined;
  /** State returned by the handler with its last inputRequired(), before sealing. */
  pendingState: JsonValue | undefined;

  constructor(init: {
    era: 'modern' | 'legacy';
    protocolVersion: string;
    clientCapabilities: ClientCapabilities;
    clientInfo: Implementation | undefined;
    requestId: JsonRpcId;
    method: string;
    meta: JsonObject | undefined;
    signal: AbortSignal;
    principal: Principal | undefined;
    outbound: Outbound;
    session: LegacySession | undefined;
    logLevel: LoggingLevel | undefined;
    sendAllLogs: boolean;
  }) {
    this.era = init.era;
    this.protocolVersion = init.protocolVersion;
    this.clientCapabilities = init.clientCapabilities;
    this.clientInfo = init.clientInfo;
    this.requestId = init.requestId;
    this.method = init.method;
    this.meta = init.meta ?? EMPTY;
    this.signal = init.signal;
    this.principal = init.principal;
    this.outbound = init.outbound;
    this.session = init.session;
    this.logThreshold =
      init.logLevel !== undefined ? LOGGING_LEVELS.indexOf(init.logLevel) : init.sendAllLogs ? 0 : undefined;
    this.inputResponses = undefined;
    this.requestState = undefined;
    this.pendingState = undefined;
  }

  get sessionId(): string | undefined {
    return this.session?.id;
  }

  progress(progress: number, total?: number, message?: string): void {
    const token = this.meta.progressToken;
    // MCP basic/utilities/progress: only for requests that carried a progressToken.
    if ((typeof token !== 'string' && typeof token !== 'number') || this.signal.aborted) return;
    const params: JsonObject = { progressToken: token, progress };
    if (total !== undefined) params.total = total;
    if (message !== undefined) params.message = message;
    this.outbound.send({ jsonrpc: '2.0', method: 'notifications/progress', params });
  }

  closeStream(): boolean {
    return this.outbound.closeConnection?.() ?? false;
  }

  log(level: LoggingLevel, data: unknown, logger?: string): void {
    // MCP 2026-07-28 server/utilities/logging: no notifications/message for requests without logLevel.
    if (this.logThreshold === undefined || this.signal.aborted) return;
    const rank = LOGGING_LEVELS.indexOf(level);
    if (rank < 0 || rank < this.logThreshold) return;
    const params: JsonObject = { level, data };
    if (logger !== undefined) params.logger = logger;
    this.outbound.send({ jsonrpc: '2.0', method: 'notifications/message', params });
  }

  inputRequired(request: {
    inputRequests?: Record<string, InputRequest>;
    state?: JsonValue;
  }): InputRequiredResult {
    this.pendingState = request.state;
    const result: InputRequiredResult = { resultType: 'input_required' };
    if (request.inputRequests) result.inputRequests = request.inputRequests;
    // The engine replaces this marker with the sealed state before the result leaves the server.
    if (request.state !== undefined) result.requestState = '';
    return result;
  }
}

export function principalKey(p: Principal | undefined): string {
  return p ? `${p.subject}|${p.clientId}` : '';
}
