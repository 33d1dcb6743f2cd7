// grant_type=client_credentials (RFC 6749 §4.4): a confidential client acting on its own behalf. The
// token's subject is the client itself; there is no refresh token (RFC 6749 §4.4.3 "SHOULD NOT").

import type { AuthServerContext } from '../context.ts';
import { OAuthError } from '../oauth-error.ts';
import { checkResource } from '../resource.ts';
import { clientScopes, parseScope, requireSubset } from '../scopes.ts';
import type { Grant, TokenRequest, TokenResponse } from './grant.ts';
import { newGrant, signAccessToken, tokenResponse } from './issue.ts';

export const clientCredentials: Grant = {
  grantType: 'client_credentials',
  parameters: ['scope', 'resource'],
  handle,
};

async function handle(ctx: AuthServerContext, request: TokenRequest): Promise<TokenResponse> {
  const { client, authMethod, params, now } = request;
  // RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients."
  if (authMethod === 'none') {
    throw new OAuthError(
      'unauthorized_client',
      'the client_credentials grant requires a confidential client',
    );
  }
  const allowed = clientScopes(client, ctx.config.scopesSupported);
  const requested = parseScope(params.get('scope'));
  // RFC 6749 §3.3: without a scope parameter the client gets its registered (default) scope.
  const scopes = requested ?? allowed;
  if (requested !== undefined) requireSubset(requested, allowed, 'the scope registered for this client');
  const resource = checkResource(params.all('resource'), ctx.config.resource) ?? ctx.config.resource;

  // A grant record even without a refresh token: its id (`gid`) lets the tokens be revoked together,
  // e.g. when the client is deleted.
  const grant = newGrant({
    clientId: client.clientId,
    subject: client.clientId,
    scopes,
    resource,
    authTime: now,
    expiresAt: now + ctx.config.accessTokenTtlSec * 1000,
    now,
  });
  await ctx.storage.grants.create(grant);
  const access = await signAccessToken(ctx, grant, scopes, now);
  ctx.events.emit(
    'token.issued',
    {
      grantType: 'client_credentials',
      clientId: client.clientId,
      subject: grant.subject,
      grantId: grant.id,
      jti: access.jti,
      scopes,
      resource,
    },
    now,
  );
  return tokenResponse(ctx, access.token, scopes);
}
