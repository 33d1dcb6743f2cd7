// POST /introspect — token introspection (RFC 7662), for resource servers and clients holding a
// secret. The caller must authenticate (RFC 7662 §2.1; public clients cannot). Anything invalid,
// expired, revoked, for another audience or — for refresh tokens — of another client is simply
// `{"active": false}` (RFC 7662 §2.2), never an error that would tell why.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord } from '../../storage/types.ts';
import { authenticateBackChannel } from '../client-auth.ts';
import type { AuthServerContext } from '../context.ts';
import { lookupToken } from '../grants/lookup.ts';
import { requireParam } from '../grants/params.ts';
import { grantRevocationId } from '../grants/revoke.ts';
import { sendJson, sendOAuthError } from '../http.ts';
import { formatScope } from '../scopes.ts';

const INACTIVE = Object.freeze({ active: false });

export async function introspect(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: AuthServerContext,
): Promise<void> {
  try {
    // RFC 7662 §2.1: a form POST, and "the endpoint MUST also require some form of authorization"
    // (§2.3: 401 otherwise) — confidential clients only.
    const { params, client } = await authenticateBackChannel(req, ctx, 'introspect', {
      confidentialOnly: true,
    });
    const token = requireParam(params, 'token');
    const answer = await inspect(ctx, client, token, params.get('token_type_hint'));
    sendJson(res, 200, answer);
  } catch (err) {
    sendOAuthError(res, err, ctx.logger);
  }
}

async function inspect(
  ctx: AuthServerContext,
  client: ClientRecord,
  token: string,
  hint: string | undefined,
): Promise<Record<string, unknown>> {
  const now = ctx.now();
  const found = await lookupToken(ctx, token, hint, now);
  switch (found.kind) {
    case 'access_token': {
      const c = found.claims;
      const { revocations } = ctx.storage;
      if (await revocations.isRevoked(c.jti, now)) return INACTIVE;
      if (c.gid !== undefined && (await revocations.isRevoked(grantRevocationId(c.gid), now)))
        return INACTIVE;
      // RFC 7662 §2.2 top-level members; token_type per RFC 6749 §5.1.
      return {
        active: true,
        ...(c.scope ? { scope: c.scope } : {}),
        client_id: c.client_id,
        sub: c.sub,
        aud: c.aud,
        iss: c.iss,
        exp: c.exp,
        iat: c.iat,
        jti: c.jti,
        token_type: 'Bearer',
      };
    }
    case 'refresh_token': {
      const { token: record, grant } = found;
      // A refresh token is a credential of one client only (RFC 6749 §6): nobody else learns about it.
      if (grant.clientId !== client.clientId) return INACTIVE;
      if (record.rotatedAt !== undefined || grant.revokedAt !== undefined || grant.expiresAt <= now)
        return INACTIVE;
      return {
        active: true,
        ...(grant.scopes.length > 0 ? { scope: formatScope(grant.scopes) } : {}),
        client_id: grant.clientId,
        sub: grant.subject,
        aud: grant.resource,
        iss: ctx.config.issuer,
        exp: Math.floor(record.expiresAt / 1000),
        iat: Math.floor(record.createdAt / 1000),
        token_type: 'refresh_token',
      };
    }
    default:
      return INACTIVE;
  }
}
