// Runner side of the keyhole-modern-auth target: the load request carries a bearer access token minted
// by the server, and the target proves it is really guarded: before the load, requests without a
// token, with a forged signature or without the tool's scope are refused; after it, revoking the load
// token refuses it at once, although it is cached as verified.

import {
  ECHO_SCOPE,
  type RevokeAsk,
  type RevokeReply,
  type TokenAsk,
  type TokenReply,
} from './auth-protocol.ts';
import type { BenchServer, LoadRequest } from './targets.ts';

async function mint(server: BenchServer, scopes?: string[]): Promise<{ token: string; jti: string }> {
  const ask: TokenAsk = scopes === undefined ? { op: 'token' } : { op: 'token', scopes };
  const reply = await server.ask<TokenReply>(ask);
  if (reply.token === undefined || reply.jti === undefined)
    throw new Error(`minting an access token failed: ${reply.error ?? 'no token'}`);
  return { token: reply.token, jti: reply.jti };
}

const bearer = (request: LoadRequest, token: string): Record<string, string> => ({
  ...request.headers,
  authorization: `Bearer ${token}`,
});

/** `request` with a fresh access token holding the echo tool's scope. */
export async function authorizedRequest(server: BenchServer, request: LoadRequest): Promise<LoadRequest> {
  const { token, jti } = await mint(server, [ECHO_SCOPE]);
  return { headers: bearer(request, token), body: request.body, tokenId: jti };
}

/**
 * Sends the request and expects a guard refusal: `status`, a Bearer challenge with the protected-resource
 * metadata URL (RFC 9728 §5.1) and `error` (none for a request without credentials, RFC 6750 §3.1), and a
 * JSON-RPC error body.
 */
export async function expectRefusal(
  what: string,
  url: string,
  headers: Record<string, string>,
  body: string,
  status: number,
  error?: string,
): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  const challenge = res.headers.get('www-authenticate') ?? '';
  let message: { jsonrpc?: unknown; error?: { code?: unknown } } | undefined;
  try {
    message = JSON.parse(text) as typeof message;
  } catch {
    message = undefined;
  }
  const ok =
    res.status === status &&
    challenge.startsWith('Bearer ') &&
    challenge.includes('resource_metadata="') &&
    (error === undefined ? !challenge.includes('error=') : challenge.includes(`error="${error}"`)) &&
    message?.jsonrpc === '2.0' &&
    typeof message.error?.code === 'number';
  if (!ok) {
    throw new Error(
      `${what}: expected HTTP ${status}${error ? ` ${error}` : ''}, got HTTP ${res.status} ` +
        `(WWW-Authenticate: ${challenge || 'none'}): ${text.slice(0, 300)}`,
    );
  }
  return `${what}: ${status}${error ? ` ${error}` : ''}`;
}

/** Flips one character in the middle of the JWS signature: a token that must fail verification. */
function forged(token: string): string {
  const dot = token.lastIndexOf('.');
  const at = dot + 1 + Math.floor((token.length - dot - 1) / 2);
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

export async function checkGuarded(server: BenchServer, request: LoadRequest): Promise<string> {
  const { authorization, ...anonymous } = request.headers;
  if (authorization === undefined) throw new Error('the load request carries no Authorization header');
  const token = authorization.slice('Bearer '.length);
  const { token: unscoped } = await mint(server, []);
  const found = [
    await expectRefusal('no token', server.url, anonymous, request.body, 401),
    await expectRefusal(
      'forged signature',
      server.url,
      bearer(request, forged(token)),
      request.body,
      401,
      'invalid_token',
    ),
    await expectRefusal(
      'no echo scope',
      server.url,
      bearer(request, unscoped),
      request.body,
      403,
      'insufficient_scope',
    ),
  ];
  return found.join(', ');
}

export async function checkRevocation(server: BenchServer, request: LoadRequest): Promise<string> {
  if (request.tokenId === undefined) throw new Error('the load request names no token id');
  const ask: RevokeAsk = { op: 'revoke', jti: request.tokenId };
  const reply = await server.ask<RevokeReply>(ask);
  if (reply.error !== undefined) throw new Error(`revoking the load token failed: ${reply.error}`);
  return expectRefusal('load token revoked', server.url, request.headers, request.body, 401, 'invalid_token');
}
