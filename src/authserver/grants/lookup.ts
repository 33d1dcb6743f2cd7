// What a presented token is, for revocation (RFC 7009) and introspection (RFC 7662): one of our
// RFC 9068 access tokens (a JWT: verified, never merely decoded) or one of our opaque refresh tokens
// (found by hash). `token_type_hint` only decides which is tried first (RFC 7009 §2.1, RFC 7662 §2.1:
// the server "MAY ignore" it and "SHOULD" extend its search otherwise).

import type { GrantRecord, RefreshTokenRecord } from '../../storage/types.ts';
import { type AccessTokenClaims, verifyAccessToken } from '../access-token.ts';
import type { AuthServerContext } from '../context.ts';
import { hashSecret } from '../secrets.ts';

export type TokenLookup =
  | { kind: 'access_token'; claims: AccessTokenClaims }
  /** Validly signed for us but past `exp`: nothing left to revoke, inactive for introspection. */
  | { kind: 'expired_access_token'; claims?: undefined }
  | { kind: 'refresh_token'; token: RefreshTokenRecord; grant: GrantRecord }
  | { kind: 'unknown' };

const UNKNOWN: TokenLookup = Object.freeze({ kind: 'unknown' });

export async function lookupToken(
  ctx: AuthServerContext,
  token: string,
  hint: string | undefined,
  now: number,
): Promise<TokenLookup> {
  // A JWS compact serialization has three dot-separated parts; our refresh tokens are base64url, dot-free.
  const jwtShaped = token.split('.').length === 3;
  const accessFirst = hint === 'access_token' || (hint !== 'refresh_token' && jwtShaped);
  const tries = accessFirst ? [accessToken, refreshToken] : [refreshToken, accessToken];
  for (const attempt of tries) {
    const found = await attempt(ctx, token, now);
    if (found.kind !== 'unknown') return found;
  }
  return UNKNOWN;
}

async function accessToken(ctx: AuthServerContext, token: string, now: number): Promise<TokenLookup> {
  if (token.split('.').length !== 3) return UNKNOWN;
  const result = await verifyAccessToken(token, {
    keys: ctx.keys,
    issuer: ctx.config.issuer,
    // Only tokens for this server's resource (RFC 7662 §4: another audience is not active here).
    audience: ctx.config.resource,
    // The authorization server's own clock is authoritative for its tokens: no leeway.
    clockSkewSec: 0,
    now,
  });
  if (result.ok) return { kind: 'access_token', claims: result.claims };
  return result.reason === 'expired' ? { kind: 'expired_access_token' } : UNKNOWN;
}

async function refreshToken(ctx: AuthServerContext, token: string, now: number): Promise<TokenLookup> {
  const found = await ctx.storage.grants.findRefresh(hashSecret(token));
  if (found === undefined || found.token.expiresAt <= now) return UNKNOWN;
  return { kind: 'refresh_token', token: found.token, grant: found.grant };
}
