// The `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) with the protected-resource metadata URL
// (RFC 9728 §5.1), and the HTTP refusals that carry it.

import { ErrorCode } from '../protocol/jsonrpc.ts';
import type { GuardRejection } from '../transport/http/app.ts';

export type ChallengeError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface ChallengeOptions {
  /** The scopes the request needs; default: the guard's configured scopes. */
  scopes?: readonly string[];
  error?: ChallengeError;
  description?: string;
}

/**
 * JSON-RPC error codes of the guard's refusals. Every 4xx from an MCP endpoint carries a JSON-RPC error
 * body (see transport/http/errors.ts); these sit in the implementation-defined range -32000..-32019
 * (MCP 2026-07-28 schema "MCP error codes"), clear of the transport's -32000 and -32001.
 */
export const GuardRpcError = {
  /** 401: no token, or not a valid one; 400: a malformed bearer request. */
  Unauthorized: ErrorCode.Unauthorized,
  /** 403: the token lacks a scope the operation needs. */
  InsufficientScope: ErrorCode.InsufficientScope,
} as const;

const OFFLINE_ACCESS = 'offline_access';
// RFC 6749 §3.3 scope-token.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** `Bearer resource_metadata="…", scope="…"[, error="…", error_description="…"]`. */
export function buildChallenge(resourceMetadataUrl: string, options: ChallengeOptions = {}): string {
  let value = `Bearer resource_metadata="${quotable(resourceMetadataUrl)}"`;
  const scope = challengeScope(options.scopes ?? []);
  if (scope !== '') value += `, scope="${scope}"`;
  if (options.error !== undefined) {
    value += `, error="${options.error}"`;
    if (options.description !== undefined) value += `, error_description="${quotable(options.description)}"`;
  }
  return value;
}

/**
 * MCP 2026-07-28 authorization "Refresh Tokens": no offline_access in the challenged scope (refresh
 * tokens are not a resource requirement). Duplicates and anything that is not a scope-token go too.
 */
export function challengeScope(scopes: readonly string[]): string {
  const out: string[] = [];
  for (const s of scopes) {
    if (s !== OFFLINE_ACCESS && SCOPE_TOKEN.test(s) && !out.includes(s)) out.push(s);
  }
  return out.join(' ');
}

/**
 * RFC 6750 §3: error_description (and by the same grammar the other values) are limited to
 * %x20-21 / %x23-5B / %x5D-7E — no quote, no backslash, nothing a header could be split on.
 */
function quotable(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '');
}

/** A complete refusal: the status, the challenge, and a JSON-RPC error body naming the OAuth error. */
export function refusal(
  status: 400 | 401 | 403,
  challenge: string,
  message: string,
  oauth?: { error: ChallengeError; description?: string },
): GuardRejection {
  const code = status === 403 ? GuardRpcError.InsufficientScope : GuardRpcError.Unauthorized;
  const error =
    oauth === undefined
      ? { code, message }
      : {
          code,
          message,
          data:
            oauth.description === undefined
              ? { error: oauth.error }
              : { error: oauth.error, error_description: oauth.description },
        };
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error });
  // Shared by every request refused for the same reason: frozen, so no caller can alter the next one's.
  return Object.freeze({
    status,
    headers: Object.freeze({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      // RFC 6750 §3 / RFC 6749 §5.1: nothing about credentials is cached.
      'cache-control': 'no-store',
      'www-authenticate': challenge,
    }),
    body,
  });
}
