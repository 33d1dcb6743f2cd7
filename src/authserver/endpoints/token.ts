// POST /token — the token endpoint (RFC 6749 §3.2, OAuth 2.1 §3.2): authenticate the client, dispatch
// on grant_type to the grant's module, answer with the RFC 6749 §5.1 response or a §5.2 error.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLIENT_AUTH_PARAMETERS, readClientCredentials, verifyClient } from '../client-auth.ts';
import type { AuthServerContext } from '../context.ts';
import { GRANTS } from '../grants/index.ts';
import { requireParam } from '../grants/params.ts';
import { clientIp, readForm, sendJson, sendOAuthError } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';
import { checkRateLimit } from '../rate-limit.ts';

export async function token(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: AuthServerContext,
): Promise<void> {
  try {
    const ip = clientIp(req, ctx.trustedProxies);
    // RFC 6749 §3.2: "The client MUST use the HTTP POST method"; form parameters (§4.1.3, §6).
    const params = await readForm(req, { repeatable: ['resource'] });
    const grantType = requireParam(params, 'grant_type');
    const grant = GRANTS.get(grantType);
    // RFC 6749 §5.2: "The authorization grant type is not supported by the authorization server."
    if (grant === undefined) throw new OAuthError('unsupported_grant_type', 'unsupported grant_type');

    const credentials = readClientCredentials(req, params, ctx.config.issuer);
    // RFC 6749 §10.10: credential guessing is slowed per IP and per client, before the secret is checked.
    const limited = await checkRateLimit(ctx, 'token', { ip, clientId: credentials.clientId });
    if (limited) throw limited;
    const { client, method } = await verifyClient(ctx, credentials);
    // RFC 6749 §5.2 unauthorized_client: "not authorized to use this authorization grant type";
    // RFC 7591 §2 grant_types is what the client registered for.
    if (!client.grantTypes.includes(grant.grantType)) {
      throw new OAuthError('unauthorized_client', `the client is not registered for the ${grantType} grant`);
    }

    const body = await grant.handle(ctx, {
      client,
      authMethod: method,
      params: params.pick([...grant.parameters, ...CLIENT_AUTH_PARAMETERS]),
      ip,
      now: ctx.now(),
    });
    // RFC 6749 §5.1: 200, application/json, Cache-Control: no-store, Pragma: no-cache.
    sendJson(res, 200, body);
  } catch (err) {
    sendOAuthError(res, err, ctx.logger);
  }
}
