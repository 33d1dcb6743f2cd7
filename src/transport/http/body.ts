// Request bodies: bounded reading (a declared or actual size over the limit stops reading at once),
// the JSON media type, and parsing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../protocol/jsonrpc.ts';
import { sendRpcError, TransportError } from './errors.ts';

export type BodyResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly reason: 'too-large' | 'aborted' };

const TOO_LARGE: BodyResult = Object.freeze({ ok: false, reason: 'too-large' });
const ABORTED: BodyResult = Object.freeze({ ok: false, reason: 'aborted' });

/**
 * Reads the whole body as UTF-8 text, at most `maxBytes`. On `too-large` the caller should answer 413
 * with `Connection: close` (RFC 9110 §15.5.14): the rest of the body is never read.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    req.pause();
    return Promise.resolve(TOO_LARGE);
  }
  return new Promise<BodyResult>((resolve) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        resolve(TOO_LARGE);
        return;
      }
      if (first === undefined) first = chunk;
      else if (chunks === undefined) chunks = [first, chunk];
      else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      const text = chunks
        ? Buffer.concat(chunks, size).toString('utf8')
        : first
          ? first.toString('utf8')
          : '';
      resolve({ ok: true, text });
    };
    const onAbort = () => {
      cleanup();
      resolve(ABORTED);
    };
    const onClose = () => {
      if (!req.complete) onAbort();
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

/** MCP streamable-http "Sending Messages": the body is JSON (RFC 8259 media type, parameters allowed). */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === 'application/json') return true;
  if (value === undefined || value.length < 16) return false;
  if (value.slice(0, 16).toLowerCase() !== 'application/json') return false;
  if (value.length === 16) return true;
  // ';' or whitespace next: "application/json; charset=utf-8", but not "application/jsonx".
  const next = value.charCodeAt(16);
  return next === 0x3b || next === 0x20 || next === 0x09;
}

/** What the body readers answer when the request was already rejected. */
export const REJECTED: unique symbol = Symbol('rejected');

/**
 * Reads and parses a JSON body, answering 413 (too large) or 400 (-32700, not JSON) itself; the
 * caller gets the parsed value or REJECTED.
 */
export async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): Promise<unknown | typeof REJECTED> {
  const body = await readBody(req, maxBytes);
  if (!body.ok) {
    if (body.reason === 'too-large') {
      // RFC 9110 §15.5.14; the unread rest of the body is not worth keeping the connection for.
      sendRpcError(
        res,
        413,
        null,
        TransportError.BadRequest,
        `Payload Too Large: the limit is ${maxBytes} bytes`,
        {
          connection: 'close',
        },
      );
    } else if (!res.destroyed) {
      res.destroy();
    }
    return REJECTED;
  }
  try {
    return JSON.parse(body.text);
  } catch {
    // JSON-RPC 2.0 §5.1: invalid JSON is a parse error with a null id.
    sendRpcError(res, 400, null, ErrorCode.ParseError, 'Parse error: Invalid JSON');
    return REJECTED;
  }
}
