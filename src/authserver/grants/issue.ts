// Minting what the grants hand out: grant records, opaque refresh tokens (stored as hashes) and the
// RFC 9068 access token, and the RFC 6749 §5.1 response that carries them.

import { randomUUID } from 'node:crypto';
import type { GrantRecord, RefreshTokenRecord } from '../../storage/types.ts';
import { issueAccessToken } from '../access-token.ts';
import type { AuthServerContext } from '../context.ts';
import { OAuthError } from '../oauth-error.ts';
import { formatScope } from '../scopes.ts';
import { hashSecret, randomSecret } from '../secrets.ts';
import type { TokenResponse } from './grant.ts';

export interface NewGrant {
  clientId: string;
  subject: string;
  scopes: readonly string[];
  resource: string;
  authTime: number;
  /** Absolute end of the grant, epoch ms. */
  expiresAt: number;
  now: number;
}

export function newGrant(input: NewGrant): GrantRecord {
  return {
    id: randomUUID(),
    clientId: input.clientId,
    subject: input.subject,
    scopes: [...input.scopes],
    resource: input.resource,
    authTime: input.authTime,
    createdAt: input.now,
    expiresAt: input.expiresAt,
  };
}

/** A fresh refresh token of the grant's family; it lives no longer than the grant (rotation does not extend it). */
export function newRefreshToken(
  grant: GrantRecord,
  now: number,
): { token: string; record: RefreshTokenRecord } {
  const token = randomSecret();
  return {
    token,
    record: { tokenHash: hashSecret(token), grantId: grant.id, createdAt: now, expiresAt: grant.expiresAt },
  };
}

export interface SignedAccessToken {
  token: string;
  jti: string;
}

/** An RFC 9068 access token for the grant, with `scopes` (the grant's, or fewer on a narrowed refresh). */
export async function signAccessToken(
  ctx: AuthServerContext,
  grant: GrantRecord,
  scopes: readonly string[],
  now: number,
): Promise<SignedAccessToken> {
  const { token, jti } = await issueAccessToken({
    keys: ctx.keys,
    issuer: ctx.config.issuer,
    subject: grant.subject,
    clientId: grant.clientId,
    scopes: [...scopes],
    resource: grant.resource,
    grantId: grant.id,
    ttlSec: ctx.config.accessTokenTtlSec,
    authTime: grant.authTime,
    now,
  });
  return { token, jti };
}

/** RFC 6749 §5.1; `scope` always stated (§5.1 allows omitting it only when it equals the request). */
export function tokenResponse(
  ctx: AuthServerContext,
  accessToken: string,
  scopes: readonly string[],
  refreshToken?: string,
): TokenResponse {
  const body: TokenResponse = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: ctx.config.accessTokenTtlSec,
  };
  if (scopes.length > 0) body.scope = formatScope(scopes);
  if (refreshToken !== undefined) body.refresh_token = refreshToken;
  return body;
}

/** Tokens are not issued for a user who no longer exists or whose account is disabled (invalid_grant). */
export async function requireActiveUser(
  ctx: AuthServerContext,
  userId: string,
  description: string,
): Promise<void> {
  const user = await ctx.storage.users.get(userId);
  if (user === undefined || user.disabled) {
    throw new OAuthError('invalid_grant', description, { cause: 'the user is gone or disabled' });
  }
}
