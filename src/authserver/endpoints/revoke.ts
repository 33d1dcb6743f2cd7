// POST /revoke — token revocation (RFC 7009). A refresh token revokes its whole grant and with it the
// access tokens minted from it (RFC 7009 §2.1 "SHOULD also invalidate all access tokens based on the
// same authorization grant"); an access token is revoked by its jti until it expires. The answer is
// 200 for anything that is not a client error — unknown, expired, already revoked, or another client's
// token alike (RFC 7009 §2.2), so the endpoint tells a client nothing about tokens it does not own.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord } from '../../storage/types.ts';
import { authenticateBackChannel } from '../client-auth.ts';
import type { AuthServerContext } from '../context.ts';
import { lookupToken } from '../grants/lookup.ts';
import { requireParam } from '../grants/params.ts';
import { accessTokenRevocationExpiry, revokeGrant } from '../grants/revoke.ts';
import { sendEmpty, sendOAuthError } from '../http.ts';

const REASON = 'revoked by the client';

export async function revoke(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: AuthServerContext,
): Promise<void> {
  try {
    // RFC 7009 §2.1: a form POST; the client authenticates as at the token endpoint (public clients by
    // client_id).
    const { params, client } = await authenticateBackChannel(req, ctx, 'revoke');
    const token = requireParam(params, 'token');
    // RFC 7009 §2.1: token_type_hint is only a hint; an unknown value is not an error (§2.2.1's
    // unsupported_token_type is for token types the server cannot revoke, and it revokes both kinds).
    await revokeToken(ctx, client, token, params.get('token_type_hint'));
    // RFC 7009 §2.2: "The content of the response body is ignored by the client".
    sendEmpty(res, 200);
  } catch (err) {
    sendOAuthError(res, err, ctx.logger);
  }
}

async function revokeToken(
  ctx: AuthServerContext,
  client: ClientRecord,
  token: string,
  hint: string | undefined,
): Promise<void> {
  const now = ctx.now();
  const found = await lookupToken(ctx, token, hint, now);
  switch (found.kind) {
    case 'refresh_token':
      // RFC 7009 §2.1: "verifies whether the token was issued to the client making the revocation request".
      if (found.grant.clientId !== client.clientId)
        return ignored(ctx, client, 'refresh token of another client');
      await revokeGrant(ctx, found.grant, REASON, now);
      return;
    case 'access_token': {
      const { claims } = found;
      if (claims.client_id !== client.clientId) return ignored(ctx, client, 'access token of another client');
      if (await ctx.storage.revocations.isRevoked(claims.jti, now)) return;
      await ctx.storage.revocations.revoke(claims.jti, accessTokenRevocationExpiry(claims.exp));
      ctx.events.emit(
        'token.revoked',
        { clientId: client.clientId, what: 'access_token', id: claims.jti, reason: REASON },
        now,
      );
      return;
    }
    default:
      // Unknown, not ours, or expired: RFC 7009 §2.2 "invalid tokens do not cause an error response".
      return;
  }
}

function ignored(ctx: AuthServerContext, client: ClientRecord, why: string): void {
  ctx.logger.info('revocation request ignored', { clientId: client.clientId, why });
}
