// Access tokens: JWTs per RFC 9068 ("JWT Profile for OAuth 2.0 Access Tokens"), issued by the token
// endpoint and verified by the resource-server guard and the introspection endpoint. Verification
// returns a tagged result: the reason goes to logs and audit, the client sees only `invalid_token`.

import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { KeySource } from './keys.ts';

/** RFC 9068 §2.1: the `typ` header value of an access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** RFC 9068 §2.2: claims every access token carries. */
const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];

export interface IssueAccessTokenInput {
  keys: Pick<KeySource, 'signingKey'>;
  issuer: string;
  /** The user id, or the client id for client_credentials. */
  subject: string;
  clientId: string;
  scopes: readonly string[];
  /** RFC 8707 resource: becomes `aud`. */
  resource: string;
  /** The grant the token belongs to (`gid`), so revoking the grant revokes the token. */
  grantId: string;
  ttlSec: number;
  /** When the user authenticated, epoch ms (becomes `auth_time`, RFC 9068 §2.2.1). */
  authTime?: number | undefined;
  /** Epoch ms; default Date.now(). */
  now?: number;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  /** Epoch ms (the `exp` claim times 1000). */
  expiresAt: number;
}

/** The claims of a verified access token. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  gid?: string;
  auth_time?: number;
}

export async function issueAccessToken(input: IssueAccessTokenInput): Promise<IssuedAccessToken> {
  const now = input.now ?? Date.now();
  const { kid, alg, key } = input.keys.signingKey();
  const iat = Math.floor(now / 1000);
  const exp = iat + input.ttlSec;
  // 128 random bits: unguessable, and unique across processes without coordination.
  const jti = randomBytes(16).toString('base64url');
  const claims: Record<string, unknown> = { client_id: input.clientId };
  // RFC 9068 §2.2.3: the granted scopes, space-separated (RFC 8693 §4.2).
  if (input.scopes.length > 0) claims.scope = input.scopes.join(' ');
  claims.gid = input.grantId;
  if (input.authTime !== undefined) claims.auth_time = Math.floor(input.authTime / 1000);
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYP }) // RFC 9068 §2.1
    .setIssuer(input.issuer)
    .setSubject(input.subject)
    .setAudience(input.resource) // RFC 9068 §3: the resource indicator
    .setJti(jti)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key);
  return { token, jti, expiresAt: exp * 1000 };
}

/** Why a token was refused; for logs and audit only (the wire says `invalid_token`). */
export type VerifyFailure =
  | 'malformed'
  | 'unknown_kid'
  | 'alg_not_allowed'
  | 'bad_signature'
  | 'wrong_typ'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'invalid_claims';

export type VerifyResult =
  | { ok: true; claims: AccessTokenClaims; scopes: string[]; kid: string }
  | { ok: false; reason: VerifyFailure };

export interface VerifyAccessTokenOptions {
  keys: Pick<KeySource, 'verificationKey'>;
  issuer: string;
  /** The resource the token must be for exactly; null only where any audience is acceptable (introspection). */
  audience: string | null;
  /** Tolerance for exp, nbf and iat. */
  clockSkewSec: number;
  /** Epoch ms. */
  now: number;
}

/** RFC 9068 §4 validation: key by kid with its pinned algorithm, signature, typ, iss, aud, exp, nbf, claims. */
export async function verifyAccessToken(
  token: string,
  options: VerifyAccessTokenOptions,
): Promise<VerifyResult> {
  let kid: unknown;
  let alg: unknown;
  try {
    ({ kid, alg } = decodeProtectedHeader(token));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof kid !== 'string' || kid === '') return { ok: false, reason: 'unknown_kid' };
  const key = await options.keys.verificationKey(kid);
  if (key === undefined) return { ok: false, reason: 'unknown_kid' };
  // RFC 8725 §3.1: the key's own algorithm, whatever the header says ("none", HS256 with a public key...).
  if (alg !== key.alg) return { ok: false, reason: 'alg_not_allowed' };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key.key, {
      algorithms: [key.alg],
      issuer: options.issuer, // RFC 9068 §4 step 3
      typ: ACCESS_TOKEN_TYP, // RFC 9068 §4 step 1 ("application/at+jwt" is equivalent)
      requiredClaims: REQUIRED_CLAIMS,
      clockTolerance: options.clockSkewSec,
      currentDate: new Date(options.now),
    }));
  } catch (err) {
    return { ok: false, reason: failure(err) };
  }
  // RFC 8707 §2, RFC 9068 §4 step 4, MCP "Token Handling": issued for this resource, and only for it,
  // so a token minted for another server is never accepted here (no token passthrough).
  if (options.audience !== null ? !audienceIs(payload.aud, options.audience) : !hasAudience(payload.aud)) {
    return { ok: false, reason: 'wrong_audience' };
  }
  if (!wellTyped(payload)) return { ok: false, reason: 'invalid_claims' };
  // An iat in the future means a broken or forged issuer clock; the skew covers honest drift.
  if (payload.iat > options.now / 1000 + options.clockSkewSec) return { ok: false, reason: 'invalid_claims' };
  return { ok: true, claims: payload, scopes: scopesOf(payload.scope), kid };
}

/** RFC 6749 §3.3: scope is a space-delimited list. */
export function scopesOf(scope: string | undefined): string[] {
  if (scope === undefined || scope === '') return [];
  return scope.split(' ').filter((s) => s !== '');
}

function audienceIs(aud: unknown, resource: string): boolean {
  if (typeof aud === 'string') return aud === resource;
  return Array.isArray(aud) && aud.length === 1 && aud[0] === resource;
}

function hasAudience(aud: unknown): boolean {
  if (typeof aud === 'string') return aud !== '';
  return Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== '');
}

function wellTyped(p: JWTPayload): p is AccessTokenClaims {
  return (
    typeof p.sub === 'string' &&
    p.sub !== '' &&
    typeof p.client_id === 'string' &&
    p.client_id !== '' &&
    typeof p.jti === 'string' &&
    p.jti !== '' &&
    typeof p.exp === 'number' &&
    typeof p.iat === 'number' &&
    (p.scope === undefined || typeof p.scope === 'string') &&
    (p.gid === undefined || (typeof p.gid === 'string' && p.gid !== '')) &&
    (p.auth_time === undefined || typeof p.auth_time === 'number')
  );
}

function failure(err: unknown): VerifyFailure {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return 'invalid_claims';
    switch (err.claim) {
      case 'iss':
        return 'wrong_issuer';
      case 'typ':
        return 'wrong_typ';
      case 'nbf':
        return 'not_yet_valid';
      default:
        return 'invalid_claims';
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  // JWSInvalid, JWTInvalid (non-JSON payload, non-numeric exp/nbf/iat), unsupported crit, ...
  return 'malformed';
}
