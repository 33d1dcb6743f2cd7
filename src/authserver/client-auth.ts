// Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3): `none`
// (a public client names itself with client_id), `client_secret_basic` and `client_secret_post`. One
// method per request, the one the client registered, secrets compared in constant time against the
// stored hash. Every failure is the same 401 invalid_client on the wire; the reason goes to the log.

import type { IncomingMessage } from 'node:http';
import type { ClientRecord } from '../storage/types.ts';
import type { AuthServerContext } from './context.ts';
import { clientIp, type Params, readForm } from './http.ts';
import { OAuthError } from './oauth-error.ts';
import { checkRateLimit } from './rate-limit.ts';
import { hashSecret, safeEqual } from './secrets.ts';

export type ClientAuthMethod = ClientRecord['tokenEndpointAuthMethod'];

/** What the request claims, before anything is checked. */
export interface ClientCredentials {
  readonly method: ClientAuthMethod;
  readonly clientId: string;
  /** Present for the two secret methods. */
  readonly secret?: string;
}

export interface AuthenticatedClient {
  readonly client: ClientRecord;
  readonly method: ClientAuthMethod;
}

export interface ClientAuthOptions {
  /** Refuse `none`: RFC 7662 §2.1 requires the introspection caller to authenticate. */
  confidentialOnly?: boolean;
}

/** Token endpoint request parameters that carry client credentials (RFC 6749 §2.3.1, RFC 7521 §4.2). */
export const CLIENT_AUTH_PARAMETERS: readonly string[] = Object.freeze([
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
]);

const FAILED = 'client authentication failed';

/**
 * Reads the client's credentials from the request. Throws `invalid_request` when more than one
 * method is used (RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request")
 * and `invalid_client` when none is or the one used is malformed or unsupported.
 */
export function readClientCredentials(
  req: IncomingMessage,
  params: Params,
  realm: string,
): ClientCredentials {
  const header = req.headers.authorization;
  const basic = header === undefined ? undefined : parseBasic(header, realm);
  const postId = params.get('client_id');
  const postSecret = params.get('client_secret');
  const assertion = params.has('client_assertion') || params.has('client_assertion_type');

  const methods = (basic ? 1 : 0) + (postSecret !== undefined ? 1 : 0) + (assertion ? 1 : 0);
  if (methods > 1) {
    throw new OAuthError('invalid_request', 'the client used more than one authentication method');
  }
  if (basic) {
    // A client_id beside HTTP Basic is tolerated when it names the same client, and nothing else.
    if (postId !== undefined && postId !== basic.clientId) {
      throw new OAuthError(
        'invalid_request',
        'client_id does not match the client authenticated with HTTP Basic',
      );
    }
    return { method: 'client_secret_basic', clientId: basic.clientId, secret: basic.secret };
  }
  if (assertion) {
    // RFC 7523 private_key_jwt is not offered (not in token_endpoint_auth_methods_supported).
    throw new OAuthError('invalid_client', 'unsupported client authentication method');
  }
  if (postId === undefined) {
    // RFC 6749 §5.2 invalid_client: "no client authentication included".
    throw new OAuthError(
      'invalid_client',
      postSecret === undefined ? 'client authentication is required' : 'client_secret without client_id',
    );
  }
  if (postSecret !== undefined) return { method: 'client_secret_post', clientId: postId, secret: postSecret };
  return { method: 'none', clientId: postId };
}

/**
 * Checks credentials against the registered client: it exists (CIMD URLs resolve through the
 * registry), uses the method it registered (RFC 7591 §2 token_endpoint_auth_method), and presents the
 * right, unexpired secret.
 */
export async function verifyClient(
  ctx: AuthServerContext,
  credentials: ClientCredentials,
  options: ClientAuthOptions = {},
): Promise<AuthenticatedClient> {
  const { method, clientId } = credentials;
  const challenge = challengeFor(method, ctx.config.issuer);
  const fail = (reason: string): never => {
    ctx.logger.info('client authentication failed', { clientId: printable(clientId), method, reason });
    throw new OAuthError('invalid_client', FAILED, { headers: challenge, cause: reason });
  };

  const client = await ctx.clients.get(clientId);
  if (client === undefined) return fail('unknown client');
  if (client.tokenEndpointAuthMethod !== method) {
    return fail(`method ${method} used, ${client.tokenEndpointAuthMethod} registered`);
  }
  if (options.confidentialOnly && method === 'none') return fail('public clients cannot use this endpoint');
  if (method !== 'none') {
    const { secretHash, secretExpiresAt } = client;
    if (secretHash === undefined || credentials.secret === undefined) return fail('client has no secret');
    // Hash first, then compare hashes in constant time: the stored value is never a secret itself.
    if (!safeEqual(hashSecret(credentials.secret), secretHash)) return fail('wrong client secret');
    // RFC 7591 §3.2.1 client_secret_expires_at (0 = never).
    if (secretExpiresAt !== undefined && secretExpiresAt !== 0 && secretExpiresAt <= ctx.now()) {
      return fail('client secret expired');
    }
  }
  return { client, method };
}

/** Both steps, for endpoints that need nothing in between. */
export async function authenticateClient(
  ctx: AuthServerContext,
  req: IncomingMessage,
  params: Params,
  options: ClientAuthOptions = {},
): Promise<AuthenticatedClient> {
  return verifyClient(ctx, readClientCredentials(req, params, ctx.config.issuer), options);
}

/**
 * RFC 6749 §2.3.1: HTTP Basic (RFC 7617) with client_id and client_secret each form-urlencoded
 * (Appendix B) before they are joined with ':' and base64-encoded.
 */
function parseBasic(header: string, realm: string): { clientId: string; secret: string } {
  const challenge = challengeFor('client_secret_basic', realm);
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  // RFC 9110 §11.1: the scheme name is case-insensitive.
  if (scheme.toLowerCase() !== 'basic') {
    throw new OAuthError('invalid_client', 'unsupported authentication scheme', { headers: challenge });
  }
  const token = header.slice(space + 1).trim();
  // RFC 7617 §2: token68 in the base64 alphabet (RFC 4648 §4).
  if (space < 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) {
    throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials', { headers: challenge });
  }
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const clientId = colon < 0 ? undefined : formDecode(decoded.slice(0, colon));
  const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
  if (!clientId || secret === undefined || secret === '') {
    throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials', { headers: challenge });
  }
  return { clientId, secret };
}

/** application/x-www-form-urlencoded decoding of one value; undefined when the escapes are invalid. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * RFC 6749 §5.2: after a failed HTTP Basic attempt, 401 with a WWW-Authenticate challenge for the
 * scheme the client used (RFC 7617 §2 requires `realm`).
 */
function challengeFor(method: ClientAuthMethod, realm: string): Record<string, string> {
  return method === 'client_secret_basic'
    ? { 'www-authenticate': `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"` }
    : {};
}

/** Client ids reach logs only as bounded printable text (a CIMD id is a URL chosen by anyone). */
function printable(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/**
 * The front of the client-authenticated back-channel endpoints (/revoke, /introspect): form body, client
 * credentials, the rate limit on the client the request claims to be (checked before the secret, so the
 * endpoint cannot be used to guess it), then client authentication as at the token endpoint.
 */
export async function authenticateBackChannel(
  req: IncomingMessage,
  ctx: AuthServerContext,
  endpoint: 'revoke' | 'introspect',
  options: ClientAuthOptions = {},
): Promise<{ params: Params; client: ClientRecord }> {
  const params = await readForm(req);
  const credentials = readClientCredentials(req, params, ctx.config.issuer);
  const limited = await checkRateLimit(ctx, endpoint, {
    ip: clientIp(req, ctx.trustedProxies),
    clientId: credentials.clientId,
  });
  if (limited) throw limited;
  const { client } = await verifyClient(ctx, credentials, options);
  return { params, client };
}
