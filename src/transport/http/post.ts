// POST on the MCP endpoint: the HTTP checks both eras share, then the era of the message decides who
// answers (MCP 2026-07-28 basic/versioning: one endpoint may serve both; a request with the modern
// `_meta` is stateless, `initialize` and Mcp-Session-Id mean a legacy session).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../protocol/contract.ts';
import { classify, ErrorCode, isObject } from '../../protocol/jsonrpc.ts';
import { isModernVersion, META } from '../../protocol/versions.ts';
import { isJsonContentType, REJECTED, readJson } from './body.ts';
import type { HttpContext } from './context.ts';
import { sendRpcError, TransportError } from './errors.ts';
import { handleLegacyPost, sessionIdOf } from './legacy.ts';
import { handleModernNotification, handleModernRequest } from './modern.ts';

/** "Sending Messages" 2: the client lists both response types it must support. */
export function acceptsJsonAndSse(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  if (accept.includes('application/json') && accept.includes('text/event-stream')) return true;
  const a = accept.toLowerCase();
  return a.includes('application/json') && a.includes('text/event-stream');
}

export async function handleMcpPost(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  principal: Principal | undefined,
): Promise<void> {
  const headers = req.headers;
  if (!acceptsJsonAndSse(headers.accept)) {
    sendRpcError(
      res,
      406,
      null,
      TransportError.BadRequest,
      'Not Acceptable: Client must accept both application/json and text/event-stream',
    );
    return;
  }
  if (!isJsonContentType(headers['content-type'])) {
    sendRpcError(
      res,
      415,
      null,
      TransportError.BadRequest,
      'Unsupported Media Type: Content-Type must be application/json',
    );
    return;
  }
  const value = await readJson(req, res, ctx.options.maxBodyBytes);
  if (value === REJECTED) return;

  const modernHeader = isModernVersion(headers['mcp-protocol-version']);
  const legacySession = !modernHeader && sessionIdOf(req) !== undefined;
  if (Array.isArray(value)) {
    if (legacySession) {
      handleLegacyPost(ctx, req, res, value, principal);
      return;
    }
    // MCP 2026-07-28 streamable-http "Sending Messages" 4: a single request or notification.
    sendRpcError(
      res,
      400,
      null,
      ErrorCode.InvalidRequest,
      'Invalid Request: JSON-RPC batches are not supported',
    );
    return;
  }
  const c = classify(value);
  switch (c.kind) {
    case 'invalid':
      sendRpcError(res, 400, c.id, ErrorCode.InvalidRequest, `Invalid Request: ${c.reason}`);
      return;
    case 'response':
      if (legacySession) handleLegacyPost(ctx, req, res, c, principal);
      // "Sending Messages" 4: modern clients MUST NOT send responses.
      else
        sendRpcError(
          res,
          400,
          null,
          ErrorCode.InvalidRequest,
          'Invalid Request: clients must not send JSON-RPC responses',
        );
      return;
    default: {
      const meta = c.message.params?._meta;
      const modern = modernHeader || (isObject(meta) && meta[META.protocolVersion] !== undefined);
      if (!modern) handleLegacyPost(ctx, req, res, c, principal);
      else if (c.kind === 'request') handleModernRequest(ctx, req, res, c.message, principal);
      else handleModernNotification(ctx, res, c.message, principal);
    }
  }
}
