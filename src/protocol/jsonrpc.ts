// JSON-RPC 2.0 wire types and the MCP error codes (JSON-RPC 2.0 §5; MCP 2026-07-28 basic/index "Error codes").

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: unknown };

export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: JsonObject;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: JsonObject;
}

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: JsonObject;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined range (-32000..-32019): used for legacy session errors, as the SDKs do. */
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  /** Implementation-defined: no valid access token (HTTP 401), or a malformed bearer request (400). */
  Unauthorized: -32010,
  /**
   * Implementation-defined: the caller's token lacks a scope the operation needs. Sent with HTTP 403
   * and a `WWW-Authenticate: Bearer error="insufficient_scope"` challenge (RFC 6750 §3.1).
   */
  InsufficientScope: -32011,
  /** 2025-11-25 and earlier: resource not found (replaced by -32602 in 2026-07-28). */
  LegacyResourceNotFound: -32002,
  /** MCP 2026-07-28 streamable-http "Server Validation". */
  HeaderMismatch: -32020,
  /** MCP 2026-07-28 basic/index "Per-request protocol fields". */
  MissingRequiredClientCapability: -32021,
  /** MCP 2026-07-28 basic/versioning "Protocol Version Negotiation". */
  UnsupportedProtocolVersion: -32022,
} as const;

/**
 * An error that becomes a JSON-RPC error response. `message` is sent to the client: keep it safe.
 * `httpStatus` is set where the HTTP binding prescribes a status for a modern request (for example
 * 400 for a malformed `_meta`); otherwise the transport answers 200 with the error body.
 */
export class McpError extends Error {
  readonly code: number;
  readonly data: unknown;
  readonly httpStatus: number | undefined;
  constructor(code: number, message: string, data?: unknown, httpStatus?: number) {
    super(message);
    this.name = 'McpError';
    this.code = code;
    this.data = data;
    this.httpStatus = httpStatus;
  }
}

/** The principal's token lacks scopes an operation needs (MCP 2026-07-28 basic/authorization "Scope Challenge Handling"). */
export class InsufficientScopeError extends McpError {
  /** Every scope the operation needs, so the client can step up in one go. */
  readonly requiredScopes: readonly string[];
  constructor(requiredScopes: readonly string[]) {
    super(ErrorCode.InsufficientScope, 'Insufficient scope', { requiredScopes: [...requiredScopes] }, 403);
    this.name = 'InsufficientScopeError';
    this.requiredScopes = requiredScopes;
  }
}

export function errorResponse(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: unknown,
): JsonRpcFailure {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export function successResponse(id: JsonRpcId, result: JsonObject): JsonRpcSuccess {
  return { jsonrpc: '2.0', id, result };
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
}

export type Classified =
  | { kind: 'request'; message: JsonRpcRequest }
  | { kind: 'notification'; message: JsonRpcNotification }
  | { kind: 'response'; message: JsonRpcResponse }
  | { kind: 'invalid'; id: JsonRpcId | null; reason: string };

/** Classifies one parsed JSON value as a JSON-RPC message (JSON-RPC 2.0 §4, §5). */
export function classify(value: unknown): Classified {
  if (!isObject(value)) return { kind: 'invalid', id: null, reason: 'message must be a JSON object' };
  const id = isId(value.id) ? value.id : null;
  if (value.jsonrpc !== '2.0') return { kind: 'invalid', id, reason: 'jsonrpc must be "2.0"' };
  if ('method' in value) {
    if (typeof value.method !== 'string') return { kind: 'invalid', id, reason: 'method must be a string' };
    if (value.params !== undefined && !isObject(value.params)) {
      return { kind: 'invalid', id, reason: 'params must be an object' };
    }
    if (!('id' in value)) return { kind: 'notification', message: value as unknown as JsonRpcNotification };
    // MCP: request ids MUST be a string or integer and MUST NOT be null.
    if (!isId(value.id)) return { kind: 'invalid', id: null, reason: 'id must be a string or an integer' };
    return { kind: 'request', message: value as unknown as JsonRpcRequest };
  }
  if ('result' in value || 'error' in value) {
    if (!isId(value.id) && value.id !== null)
      return { kind: 'invalid', id: null, reason: 'response id is invalid' };
    if ('result' in value && !isObject(value.result)) {
      return { kind: 'invalid', id, reason: 'result must be an object' };
    }
    if ('error' in value && (!isObject(value.error) || typeof value.error.code !== 'number')) {
      return { kind: 'invalid', id, reason: 'error must be an object with a numeric code' };
    }
    return { kind: 'response', message: value as unknown as JsonRpcResponse };
  }
  return { kind: 'invalid', id, reason: 'not a request, notification or response' };
}
