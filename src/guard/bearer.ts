// Reading a bearer token from a request: the Authorization header is the only place a token is
// accepted (MCP 2026-07-28 authorization "Token Requirements"; RFC 6750 §2.1).

/** What the Authorization header holds. */
export type Credentials =
  /** No header, or another scheme (RFC 6750 §3.1: then the challenge carries no error code). */
  | { kind: 'none' }
  /** `Bearer` with something that is not a b64token. */
  | { kind: 'malformed' }
  /** The token is not yet checked against the b64token syntax: see isB64Token (a cache hit needs no check). */
  | { kind: 'bearer'; token: string };

const NONE: Credentials = { kind: 'none' };
const MALFORMED: Credentials = { kind: 'malformed' };

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function readCredentials(authorization: string | undefined): Credentials {
  if (authorization === undefined) return NONE;
  // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`.
  const space = authorization.indexOf(' ');
  const scheme = space < 0 ? authorization : authorization.slice(0, space);
  if (scheme.length !== 6 || scheme.toLowerCase() !== 'bearer') return NONE;
  let start = space + 1;
  while (authorization.charCodeAt(start) === 0x20) start++;
  if (space < 0 || start >= authorization.length) return MALFORMED;
  return { kind: 'bearer', token: authorization.slice(start) };
}

export function isB64Token(token: string): boolean {
  return B64TOKEN.test(token);
}

/** RFC 6750 §2.3 (URI query parameter) is forbidden by MCP: its presence is an error, never a credential. */
export function hasQueryToken(query: string): boolean {
  return query !== '' && new URLSearchParams(query).has('access_token');
}
