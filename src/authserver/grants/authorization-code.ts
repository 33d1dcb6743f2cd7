// grant_type=authorization_code (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3): exchange a one-time code, bound
// to the client, the redirect URI, a PKCE challenge and the resource, for an access token and (when
// the client may refresh) a refresh token starting a new grant.

import type { AuthorizationCodeRecord, ClientRecord } from '../../storage/types.ts';
import type { AuthServerContext } from '../context.ts';
import type { Params } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';
import { isCodeVerifier, verifyCodeVerifier } from '../pkce.ts';
import { checkResource } from '../resource.ts';
import { hashSecret } from '../secrets.ts';
import type { Grant, TokenRequest, TokenResponse } from './grant.ts';
import {
  newGrant,
  newRefreshToken,
  requireActiveUser,
  type SignedAccessToken,
  signAccessToken,
  tokenResponse,
} from './issue.ts';
import { requireParam } from './params.ts';
import { grantRevocationId, revokeGrant } from './revoke.ts';

export const authorizationCode: Grant = {
  grantType: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier', 'resource'],
  handle,
};

const INVALID_CODE = 'the authorization code is invalid, expired or was issued to another client';

/**
 * Storage failures (issue #4 "Failure"; StorageUnavailableError → 503 at the edge) leave no usable
 * token, and the code in one of two states. Before `consume` succeeds (the client lookup, the consume
 * itself) nothing changed: the same request succeeds once storage is back. After it, the code is spent,
 * as single use requires (RFC 6749 §4.1.2): a retry gets invalid_grant (and revokes any grant the code
 * already names), and the client starts a new authorization.
 */
async function handle(ctx: AuthServerContext, request: TokenRequest): Promise<TokenResponse> {
  const { client, params, now } = request;
  // Everything that can be checked without the code is checked first: a malformed request must not burn it.
  const input = checkRequest(ctx, client, params);
  const consumed = await ctx.storage.codes.consume(input.codeHash, now);
  if (consumed.status === 'missing') throw new OAuthError('invalid_grant', INVALID_CODE);
  if (consumed.status === 'replayed') {
    await onReplay(ctx, consumed.record, now);
    throw new OAuthError('invalid_grant', 'the authorization code has already been used');
  }
  // From here the code is spent: a failed check leaves it unusable, which is what single use means
  // (RFC 6749 §4.1.2) and denies anyone a second guess at the verifier.
  const code = consumed.record;
  checkCode(client, code, input);
  // The account may have been disabled or deleted since the user signed in.
  await requireActiveUser(ctx, code.userId, INVALID_CODE);
  return issueTokens(ctx, client, code, input.codeHash, now);
}

interface CheckedRequest {
  codeHash: string;
  verifier: string;
  redirectUri: string;
  resources: readonly string[];
}

function checkRequest(ctx: AuthServerContext, client: ClientRecord, params: Params): CheckedRequest {
  const code = requireParam(params, 'code');
  // OAuth 2.1 §4.1.3: code_verifier is REQUIRED (PKCE for every client).
  const verifier = requireParam(params, 'code_verifier');
  // RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
  if (!isCodeVerifier(verifier)) {
    throw new OAuthError('invalid_request', 'code_verifier must be 43 to 128 unreserved characters');
  }
  // RFC 6749 §4.1.3: redirect_uri is required when the authorization request carried it; it could
  // only have been left out there if the client has exactly one registered redirect URI.
  const given = params.get('redirect_uri');
  const only = client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
  const redirectUri = given ?? only;
  if (redirectUri === undefined)
    throw new OAuthError('invalid_request', 'missing required parameter: redirect_uri');
  // RFC 8707 §2: this server has one resource; anything else is refused before the code is touched.
  const resources = params.all('resource');
  checkResource(resources, ctx.config.resource);
  return { codeHash: hashSecret(code), verifier, redirectUri, resources };
}

function checkCode(client: ClientRecord, code: AuthorizationCodeRecord, input: CheckedRequest): void {
  // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated confidential
  // client, or if the client is public, ensure that the code was issued to client_id in the request".
  if (code.clientId !== client.clientId) throw new OAuthError('invalid_grant', INVALID_CODE);
  // RFC 6749 §4.1.3: the redirect URI must be identical to the one of the authorization request.
  if (input.redirectUri !== code.redirectUri) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  }
  // RFC 7636 §4.6: the recomputed challenge must equal the one bound to the code.
  if (!verifyCodeVerifier(input.verifier, code.codeChallenge, code.codeChallengeMethod)) {
    throw new OAuthError(
      'invalid_grant',
      'PKCE verification failed: code_verifier does not match code_challenge',
    );
  }
  // RFC 8707 §2.2: a resource named at the token endpoint must be one the grant covers.
  checkResource(input.resources, code.resource);
}

/**
 * RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST
 * deny the request and SHOULD revoke (when possible) all tokens previously issued based on that code."
 */
async function onReplay(ctx: AuthServerContext, code: AuthorizationCodeRecord, now: number): Promise<void> {
  ctx.events.emit(
    'code.replay_detected',
    { clientId: code.clientId, subject: code.userId, ...(code.grantId ? { grantId: code.grantId } : {}) },
    now,
  );
  if (code.grantId !== undefined) {
    await revokeGrant(ctx, { id: code.grantId, clientId: code.clientId }, 'authorization code replayed', now);
  }
}

async function issueTokens(
  ctx: AuthServerContext,
  client: ClientRecord,
  code: AuthorizationCodeRecord,
  codeHash: string,
  now: number,
): Promise<TokenResponse> {
  const grant = newGrant({
    clientId: client.clientId,
    subject: code.userId,
    scopes: code.scopes,
    resource: code.resource,
    authTime: code.authTime,
    expiresAt: now + ctx.config.refreshTokenTtlSec * 1000,
    now,
  });
  // The code names its grant before the grant exists, so a replay from this moment on can revoke it.
  await ctx.storage.codes.markRedeemed(codeHash, grant.id);
  // Refresh tokens only for clients registered for the refresh_token grant (RFC 7591 §2 grant_types).
  const refresh = client.grantTypes.includes('refresh_token') ? newRefreshToken(grant, now) : undefined;
  await ctx.storage.grants.create(grant, refresh?.record);
  let access: SignedAccessToken;
  try {
    // A replay that arrived between markRedeemed and create found no grant to revoke, only left the
    // revocation entry: honour it now, before anything is handed out. An unknown answer (storage
    // unreachable) is not "not revoked": it fails the exchange.
    if (await ctx.storage.revocations.isRevoked(grantRevocationId(grant.id), now)) {
      await revokeGrant(ctx, grant, 'authorization code replayed', now);
      throw new OAuthError('invalid_grant', 'the authorization code has already been used');
    }
    access = await signAccessToken(ctx, grant, grant.scopes, now);
  } catch (err) {
    // Issue #4 "Failure": nothing was handed out, so the grant just stored must not outlive the failed
    // exchange (its refresh token exists only as a hash, but the grant would still list as active).
    // Best effort: a later replay of the code (it names this grant) revokes it all the same.
    if (!(err instanceof OAuthError)) {
      await ctx.storage.grants.revoke(grant.id, 'token issuance failed', now).catch(() => {});
    }
    throw err;
  }
  ctx.events.emit(
    'token.issued',
    {
      grantType: 'authorization_code',
      clientId: client.clientId,
      subject: grant.subject,
      grantId: grant.id,
      jti: access.jti,
      scopes: grant.scopes,
      resource: grant.resource,
    },
    now,
  );
  return tokenResponse(ctx, access.token, grant.scopes, refresh?.token);
}
