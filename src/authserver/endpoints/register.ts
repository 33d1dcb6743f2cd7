// POST /register — OAuth 2.0 Dynamic Client Registration (RFC 7591). Deprecated by MCP 2026-07-28 in
// favour of Client ID Metadata Documents but still what most MCP clients use (MCP client-registration
// "Dynamic Client Registration"). Open registration, so it is rate-limited per IP; a client gets a
// random id and, when confidential, a secret that is shown once and stored only as a hash.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord } from '../../storage/types.ts';
import { metadataOf, REGISTRATION_RULES, validateClientMetadata } from '../clients/metadata.ts';
import type { AuthServerContext } from '../context.ts';
import { clientIp, readJsonBody, sendJson, sendOAuthError } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';
import { checkRateLimit } from '../rate-limit.ts';
import { hashSecret, newClientId, randomSecret } from '../secrets.ts';

export async function register(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: AuthServerContext,
): Promise<void> {
  try {
    checkEnabled(ctx);
    checkMethod(req);
    const ip = clientIp(req, ctx.trustedProxies);
    const limited = await checkRateLimit(ctx, 'register', { ip });
    if (limited) throw limited;
    const body = await readJsonBody(req); // RFC 7591 §3.1: a JSON document
    const client = newClient(body, ctx.now());
    const secret = issueSecret(client);
    await ctx.storage.clients.create(client);
    ctx.events.emit(
      'client.registered',
      { clientId: client.clientId, source: 'dynamic', redirectUris: client.redirectUris, ip },
      client.createdAt,
    );
    // RFC 7591 §3.2.1: 201 Created with the client id, the secret if any, and every registered field.
    sendJson(res, 201, registrationResponse(client, secret));
  } catch (err) {
    sendOAuthError(res, err, ctx.logger);
  }
}

/** Turned off by configuration (`auth.dynamicRegistration`): the endpoint does not exist (RFC 8414 §2). */
function checkEnabled(ctx: AuthServerContext): void {
  if (!ctx.config.dynamicRegistration) {
    throw new OAuthError('invalid_request', 'dynamic client registration is not enabled on this server', {
      status: 404,
    });
  }
}

function checkMethod(req: IncomingMessage): void {
  // RFC 7591 §3.1: "the client sends an HTTP POST to the client registration endpoint".
  if (req.method !== 'POST') {
    throw new OAuthError('invalid_request', 'the registration endpoint accepts POST only', {
      status: 405,
      headers: { allow: 'POST' },
    });
  }
}

/** RFC 7591 §2 validation; RFC 7591 §3.2.2 invalid_redirect_uri / invalid_client_metadata on failure. */
function newClient(body: unknown, now: number): ClientRecord {
  const checked = validateClientMetadata(body, REGISTRATION_RULES);
  if (!checked.ok) throw new OAuthError(checked.error, checked.description);
  const v = checked.value;
  return {
    // Not a secret (RFC 6749 §2.2), but unguessable so ids cannot be enumerated.
    clientId: newClientId(),
    source: 'dynamic',
    redirectUris: v.redirectUris,
    grantTypes: v.grantTypes,
    responseTypes: v.responseTypes,
    tokenEndpointAuthMethod: v.tokenEndpointAuthMethod,
    ...(v.scope !== undefined ? { scope: v.scope } : {}),
    ...(v.clientName !== undefined ? { clientName: v.clientName } : {}),
    metadata: v.metadata,
    createdAt: now,
  };
}

/** Confidential clients get a secret (RFC 7591 §3.2.1); only its hash is kept (RFC 6749 §10.3). */
function issueSecret(client: ClientRecord): string | undefined {
  if (client.tokenEndpointAuthMethod === 'none') return undefined;
  const secret = randomSecret();
  client.secretHash = hashSecret(secret);
  client.secretExpiresAt = 0;
  return secret;
}

function registrationResponse(client: ClientRecord, secret: string | undefined): Record<string, unknown> {
  return {
    client_id: client.clientId,
    ...(secret !== undefined
      ? // RFC 7591 §3.2.1: client_secret_expires_at is REQUIRED with a secret; 0 = it does not expire.
        { client_secret: secret, client_secret_expires_at: 0 }
      : {}),
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    ...metadataOf(client),
  };
}
