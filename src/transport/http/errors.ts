// JSON and JSON-RPC error responses. Every 4xx on an MCP endpoint carries a JSON-RPC error body so a
// client can tell a modern server's answer from a legacy server's (MCP 2026-07-28 streamable-http
// "Backward Compatibility").

import type { ServerResponse } from 'node:http';
import { ErrorCode, type JsonRpcId } from '../../protocol/jsonrpc.ts';

/** Transport-level JSON-RPC error codes (implementation-defined range, as the MCP SDKs use them). */
export const TransportError = {
  /** Bad request at the HTTP level: missing session id, wrong method, media type, size, origin. */
  BadRequest: ErrorCode.ConnectionClosed, // -32000
  /** The session id is unknown, ended, or belongs to another principal. */
  SessionNotFound: -32001,
} as const;

/** Writes a complete JSON response in one socket write (headers and body together). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  extra?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent) {
    // A stream is already open: the only thing left to do is to end it.
    if (!res.writableEnded) res.end();
    return;
  }
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  };
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(body);
}

export function rpcErrorBody(id: JsonRpcId | null, code: number, message: string, data?: unknown): string {
  const error = data === undefined ? { code, message } : { code, message, data };
  return JSON.stringify({ jsonrpc: '2.0', id, error });
}

/** An HTTP error whose body is a JSON-RPC error response (`id` null when the request had none or was unreadable). */
export function sendRpcError(
  res: ServerResponse,
  status: number,
  id: JsonRpcId | null,
  code: number,
  message: string,
  extra?: Readonly<Record<string, string>>,
  data?: unknown,
): void {
  sendJson(res, status, rpcErrorBody(id, code, message, data), extra);
}

/** 202 Accepted with no body: an accepted notification or response (streamable-http "Sending Messages"). */
export function sendAccepted(res: ServerResponse): void {
  res.writeHead(202, { 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

/** Plain JSON for non-MCP paths (404, health). */
export function sendPlain(res: ServerResponse, status: number, value: unknown): void {
  sendJson(res, status, JSON.stringify(value));
}
