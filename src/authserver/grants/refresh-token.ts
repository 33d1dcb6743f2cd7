// grant_type=refresh_token (RFC 6749 §6) with rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): every use
// returns a new refresh token and retires the old one; presenting a retired token again is reuse, a sign
// that the family leaked, and revokes the whole grant.
//
// Grace window (config.auth.refreshGraceSec, off by default): a client that sends two refreshes at once
// (two tabs, a retry after a lost response) presents the same token twice. Within the window after its
// rotation, the second presentation is refused with invalid_grant but does NOT revoke the family. The
// window never issues a second token: the loser of the race gets an error either way, only the grant
// survives; after the window, the same presentation counts as reuse.

import type { GrantRecord, RefreshTokenRecord } from '../../storage/types.ts';
import type { AuthServerContext } from '../context.ts';
import { OAuthError } from '../oauth-error.ts';
import { checkResource } from '../resource.ts';
import { parseScope, requireSubset } from '../scopes.ts';
import { hashSecret } from '../secrets.ts';
import type { Grant, TokenRequest, TokenResponse } from './grant.ts';
import { newRefreshToken, requireActiveUser, signAccessToken, tokenResponse } from './issue.ts';
import { requireParam } from './params.ts';
import { revokeGrant } from './revoke.ts';

export const refreshToken: Grant = {
  grantType: 'refresh_token',
  parameters: ['refresh_token', 'scope', 'resource'],
  handle,
};

const INVALID = 'the refresh token is invalid, expired or revoked';

async function handle(ctx: AuthServerContext, request: TokenRequest): Promise<TokenResponse> {
  const { client, params, now } = request;
  const presented = requireParam(params, 'refresh_token');
  const requestedScopes = parseScope(params.get('scope'));
  const resources = params.all('resource');
  const tokenHash = hashSecret(presented);

  // Look before rotating: a request that fails its checks must leave the family as it was.
  const found = await ctx.storage.grants.findRefresh(tokenHash);
  if (found === undefined || found.token.expiresAt <= now) throw new OAuthError('invalid_grant', INVALID);
  const { token, grant } = found;
  // RFC 6749 §6: "validate the refresh token ... was issued to the authenticated client".
  if (grant.clientId !== client.clientId) throw new OAuthError('invalid_grant', INVALID);
  if (grant.revokedAt !== undefined || grant.expiresAt <= now) throw new OAuthError('invalid_grant', INVALID);
  if (token.rotatedAt !== undefined) return onReuse(ctx, grant, token.rotatedAt, now);
  // RFC 6749 §6: the requested scope "MUST NOT include any scope not originally granted".
  const scopes = requestedScopes ?? grant.scopes;
  if (requestedScopes !== undefined) requireSubset(requestedScopes, grant.scopes, 'the grant');
  // RFC 8707 §2.2: the token can only be for the resource the grant was bound to.
  checkResource(resources, grant.resource);
  // client_credentials grants carry no refresh token, so the subject here is always a user.
  await requireActiveUser(ctx, grant.subject, INVALID);

  const next = newRefreshToken(grant, now);
  const rotated = await ctx.storage.grants.rotate(tokenHash, next.record, now);
  switch (rotated.status) {
    case 'ok':
      return issue(ctx, rotated.grant, scopes, next, now);
    case 'reused':
      // Lost a race with a concurrent refresh of the same token.
      return onReuse(ctx, rotated.grant, rotated.rotatedAt, now);
    default:
      throw new OAuthError('invalid_grant', INVALID);
  }
}

/** RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the grant, unless inside the grace window. */
async function onReuse(
  ctx: AuthServerContext,
  grant: GrantRecord,
  rotatedAt: number,
  now: number,
): Promise<never> {
  const graceMs = ctx.config.refreshGraceSec * 1000;
  if (graceMs > 0 && now - rotatedAt <= graceMs) {
    ctx.logger.info('rotated refresh token presented within the grace window', {
      clientId: grant.clientId,
      grantId: grant.id,
    });
    throw new OAuthError('invalid_grant', 'the refresh token has already been used');
  }
  ctx.events.emit(
    'refresh.reuse_detected',
    { clientId: grant.clientId, subject: grant.subject, grantId: grant.id },
    now,
  );
  await revokeGrant(ctx, grant, 'refresh token reused', now);
  throw new OAuthError('invalid_grant', 'the refresh token has already been used');
}

async function issue(
  ctx: AuthServerContext,
  grant: GrantRecord,
  scopes: readonly string[],
  next: { token: string; record: RefreshTokenRecord },
  now: number,
): Promise<TokenResponse> {
  const access = await signAccessToken(ctx, grant, scopes, now);
  ctx.events.emit(
    'token.refreshed',
    { clientId: grant.clientId, subject: grant.subject, grantId: grant.id, jti: access.jti },
    now,
  );
  return tokenResponse(ctx, access.token, scopes, next.token);
}
