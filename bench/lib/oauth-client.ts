// The client side of the OAuth suites: a public client (RFC 7591 registration, RFC 6749 token requests
// with PKCE and RFC 8707 resource), and the checks every token response must pass.

import type { CodesAsk, CodesReply, InfoReply, MintedCode } from './oauth-protocol.ts';
import type { BenchServer } from './targets.ts';

/** A loopback redirect URI (RFC 8252 §7.3); nothing listens there: the codes are minted, not redirected. */
export const REDIRECT_URI = 'http://127.0.0.1:48123/callback';

export interface AuthServerInfo {
  /** Where this process answers /token, /register and /revoke (its bound address, not the public URL). */
  readonly origin: string;
  readonly issuer: string;
  /** The RFC 8707 resource: the public MCP endpoint URL. */
  readonly resource: string;
}

export async function serverInfo(server: BenchServer): Promise<AuthServerInfo> {
  const reply = await server.ask<InfoReply>({ op: 'info' });
  if (reply.issuer === undefined || reply.resource === undefined)
    throw new Error(`info: ${reply.error ?? 'no issuer'}`);
  return { origin: new URL(server.url).origin, issuer: reply.issuer, resource: reply.resource };
}

/** RFC 7591 registration of a public client that may refresh. */
export async function registerPublicClient(origin: string): Promise<string> {
  const res = await fetch(`${origin}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'keyhole-bench',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  });
  const body = (await res.json()) as { client_id?: string };
  if (res.status !== 201 || typeof body.client_id !== 'string')
    throw new Error(`registration: HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.client_id;
}

export async function mintCodes(server: BenchServer, clientId: string, count: number): Promise<MintedCode[]> {
  const ask: CodesAsk = { op: 'codes', clientId, redirectUri: REDIRECT_URI, count };
  const reply = await server.ask<CodesReply>(ask, 120_000);
  if (reply.codes?.length !== count) throw new Error(`minting codes failed: ${reply.error ?? 'too few'}`);
  return reply.codes;
}

/** RFC 6749 §4.1.3 + RFC 7636 §4.5 + RFC 8707 §2: a public client's code exchange. */
export function codeExchangeBody(clientId: string, resource: string, minted: MintedCode): string {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    code: minted.code,
    code_verifier: minted.verifier,
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    resource,
  }).toString();
}

/** RFC 6749 §6: a public client's refresh. */
export function refreshBody(clientId: string, refreshToken: string): string {
  return new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: clientId,
  }).toString();
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
}

/**
 * A successful token response (RFC 6749 §5.1): 200, JSON, a JWT access token (RFC 9068, three
 * base64url parts), token_type Bearer, expires_in, the echo scope, and a refresh token. Returns the
 * reason when it is anything else.
 */
export function checkTokenResponse(status: number, text: string, scope: string): IssuedTokens | string {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `HTTP ${status}: not JSON: ${text.slice(0, 120)}`;
  }
  if (status !== 200) return `HTTP ${status} ${String(body.error)}: ${String(body.error_description)}`;
  const { access_token, refresh_token, token_type, expires_in } = body;
  if (typeof access_token !== 'string' || access_token.split('.').length !== 3)
    return 'access_token is not a JWS compact serialisation';
  // RFC 6749 §7.1: the type is case-insensitive.
  if (typeof token_type !== 'string' || token_type.toLowerCase() !== 'bearer')
    return `token_type ${String(token_type)}`;
  if (typeof expires_in !== 'number' || expires_in <= 0) return `expires_in ${String(expires_in)}`;
  if (typeof refresh_token !== 'string' || refresh_token.length < 43) return 'no refresh_token';
  if (typeof body.scope === 'string' && !body.scope.split(' ').includes(scope))
    return `scope "${body.scope}" lacks ${scope}`;
  return { accessToken: access_token, refreshToken: refresh_token };
}

/** POSTs a form to the token endpoint; the raw status and body. */
export async function postForm(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** Expects an RFC 6749 §5.2 error response with `error`; returns a short description. */
export async function expectOAuthError(
  what: string,
  url: string,
  body: string,
  error: string,
): Promise<string> {
  const res = await postForm(url, body);
  let found: unknown;
  try {
    found = (JSON.parse(res.text) as { error?: unknown }).error;
  } catch {
    found = undefined;
  }
  if (res.status !== 400 || found !== error)
    throw new Error(`${what}: expected 400 ${error}, got HTTP ${res.status}: ${res.text.slice(0, 200)}`);
  return `${what}: 400 ${error}`;
}
