// The authorization endpoint (OAuth 2.1 §4.1.1, RFC 6749 §4.1.1; GET, and POST per RFC 6749 §3.1).
// Code flow only, PKCE required (RFC 7636), one resource (RFC 8707), `iss` in every response (RFC 9207).
// The order is the RFC's: until the client and its redirect URI are known to be genuine, nothing is
// redirected (RFC 6749 §4.1.2.1, an open redirector otherwise); after that every error goes back to
// the client by redirect.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord } from '../../storage/types.ts';
import { readBody } from '../../transport/http/body.ts';
import { matchRedirectUri } from '../clients/redirect-uri.ts';
import { clientIp, isFormContentType, MAX_BODY_BYTES } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';
import { type CodeChallengeMethod, isCodeChallenge } from '../pkce.ts';
import { checkRateLimit } from '../rate-limit.ts';
import { checkResource } from '../resource.ts';
import { clientScopes, parseScope, requireSubset } from '../scopes.ts';
import {
  type FrontChannelContext,
  frontChannel,
  internalError,
  type PendingAuthorization,
  proceed,
  redirectError,
  sendErrorPage,
} from './authorization-flow.ts';

/** Request parameters with every value kept, so repeats can be refused where RFC 6749 §3.1 says so. */
type RawParams = Map<string, string[]>;

/** The client and the redirect URI responses may go to: established before anything is redirected. */
interface Target {
  client: ClientRecord;
  redirectUri: string;
}

export async function handleAuthorize(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
): Promise<void> {
  try {
    await authorize(req, res, ctx);
  } catch (err) {
    internalError(req, res, ctx, err);
  }
}

async function authorize(req: IncomingMessage, res: ServerResponse, ctx: FrontChannelContext): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'POST') {
    sendErrorPage(
      req,
      res,
      new OAuthError('invalid_request', 'The authorization endpoint takes GET or POST.', {
        status: 405,
        headers: { allow: 'GET, POST' },
      }),
    );
    return;
  }
  const limited = await checkRateLimit(ctx, 'authorize', { ip: clientIp(req, ctx.trustedProxies) });
  if (limited) {
    sendErrorPage(req, res, limited);
    return;
  }
  const params = req.method === 'GET' ? queryParams(req) : await formParams(req);
  if (params instanceof OAuthError) {
    sendErrorPage(req, res, params);
    return;
  }
  const target = await checkClientAndRedirect(ctx, params);
  if (target instanceof OAuthError) {
    sendErrorPage(req, res, target);
    return;
  }
  // A repeated state has no one value to echo, and is refused below; otherwise it goes back verbatim.
  const states = params.get('state');
  const state = states?.length === 1 ? states[0] : undefined;
  const status = req.method === 'GET' ? 302 : 303;
  let pending: PendingAuthorization;
  try {
    pending = checkRequest(ctx, params, target, state);
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    redirectError(res, ctx, target.redirectUri, err, state, status);
    return;
  }
  const session = await frontChannel(ctx).sessions.read(req, ctx.storage, ctx.now());
  await proceed(req, res, ctx, pending, target.client, session, { redirectStatus: status });
}

/** RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted". */
function parseRaw(text: string): RawParams {
  const params: RawParams = new Map();
  for (const [name, value] of new URLSearchParams(text)) {
    if (value === '') continue;
    const values = params.get(name);
    if (values === undefined) params.set(name, [value]);
    else values.push(value);
  }
  return params;
}

function queryParams(req: IncomingMessage): RawParams {
  const target = req.url ?? '';
  const q = target.indexOf('?');
  return q < 0 ? new Map() : parseRaw(target.slice(q + 1));
}

async function formParams(req: IncomingMessage): Promise<RawParams | OAuthError> {
  if (!isFormContentType(req.headers['content-type'])) {
    return new OAuthError('invalid_request', 'An authorization request sent by POST must be a form.', {
      status: 415,
    });
  }
  const body = await readBody(req, MAX_BODY_BYTES);
  if (!body.ok) {
    return body.reason === 'too-large'
      ? new OAuthError('invalid_request', 'The request is too large.', {
          status: 413,
          headers: { connection: 'close' },
        })
      : new OAuthError('invalid_request', 'The request was not received in full.');
  }
  return parseRaw(body.text);
}

function single(params: RawParams, name: string): string | undefined | OAuthError {
  const values = params.get(name);
  if (values === undefined) return undefined;
  // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
  if (values.length > 1)
    return new OAuthError('invalid_request', `The ${name} parameter is included more than once.`);
  return values[0];
}

/**
 * RFC 6749 §4.1.2.1: a missing, unknown or invalid client, or a missing, unregistered or repeated
 * redirect URI, is shown to the person and never redirected.
 */
async function checkClientAndRedirect(
  ctx: FrontChannelContext,
  params: RawParams,
): Promise<Target | OAuthError> {
  const clientId = single(params, 'client_id');
  if (clientId instanceof OAuthError) return clientId;
  if (clientId === undefined) return new OAuthError('invalid_request', 'The request has no client_id.');
  const found = await ctx.clients.lookup(clientId);
  if (found.status === 'unknown') {
    return new OAuthError(
      'invalid_client',
      'This application (client_id) is not registered with this server.',
      {
        status: 400,
      },
    );
  }
  if (found.status === 'invalid') {
    return new OAuthError(
      'invalid_client',
      `The application's client metadata document is not usable: ${found.reason}`,
      {
        status: 400,
      },
    );
  }
  const client = found.client;
  const requested = single(params, 'redirect_uri');
  if (requested instanceof OAuthError) return requested;
  if (requested === undefined) {
    // OAuth 2.1 §4.1.1: redirect_uri is optional only when the client registered exactly one.
    const only = client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
    if (only === undefined) {
      return new OAuthError(
        'invalid_request',
        'The request has no redirect_uri and the client has several registered.',
      );
    }
    return { client, redirectUri: only };
  }
  // OAuth 2.1 §4.1.1 / RFC 9700 §4.1.3: exact match; loopback IP ports may vary (RFC 8252 §7.3).
  if (!matchRedirectUri(client.redirectUris, requested)) {
    return new OAuthError('invalid_request', 'The redirect_uri is not registered for this application.');
  }
  return { client, redirectUri: requested };
}

/** Everything after the redirect target is known; errors thrown here are redirected to the client. */
function checkRequest(
  ctx: FrontChannelContext,
  params: RawParams,
  target: Target,
  state: string | undefined,
): PendingAuthorization {
  const { client, redirectUri } = target;
  const one = (name: string): string | undefined => {
    const value = single(params, name);
    if (value instanceof OAuthError) throw value;
    return value;
  };
  one('state');

  const responseType = one('response_type');
  if (responseType === undefined) throw new OAuthError('invalid_request', 'response_type is required');
  // OAuth 2.1 §4.1.1: the authorization code flow is the only one; RFC 6749 §4.1.2.1 error code.
  if (responseType !== 'code')
    throw new OAuthError('unsupported_response_type', 'only response_type=code is supported');
  if (!client.responseTypes.includes('code') || !client.grantTypes.includes('authorization_code')) {
    throw new OAuthError(
      'unauthorized_client',
      'the client is not registered for the authorization code flow',
    );
  }

  const codeChallengeMethod = checkPkceMethod(ctx, one('code_challenge_method'));
  const codeChallenge = one('code_challenge');
  // OAuth 2.1 §4.1.1 and RFC 7636 §4.4.1: a server that requires PKCE answers invalid_request.
  if (codeChallenge === undefined)
    throw new OAuthError('invalid_request', 'code_challenge is required (PKCE)');
  if (!isCodeChallenge(codeChallenge, codeChallengeMethod)) {
    throw new OAuthError('invalid_request', `code_challenge is not a valid ${codeChallengeMethod} challenge`);
  }

  // RFC 8707 §2; MCP 2026-07-28 authorization "Resource Parameter Implementation": clients MUST send it.
  const resources = params.get('resource') ?? [];
  if (resources.length === 0) throw new OAuthError('invalid_target', 'the resource parameter is required');
  const resource = checkResource(resources, ctx.config.resource)!;

  const scopes = checkScopes(ctx, client, one('scope'));
  return {
    clientId: client.clientId,
    redirectUri,
    scopes,
    ...(state !== undefined ? { state } : {}),
    codeChallenge,
    codeChallengeMethod,
    resource,
  };
}

function checkPkceMethod(ctx: FrontChannelContext, value: string | undefined): CodeChallengeMethod {
  // RFC 7636 §4.3: an absent method means plain.
  const method = value ?? 'plain';
  if (method === 'S256') return 'S256';
  if (method === 'plain') {
    // OAuth 2.1 §4.1.1, RFC 9700 §2.1.1: S256 only, unless the operator allowed plain.
    if (ctx.config.allowPlainPkce) return 'plain';
    throw new OAuthError('invalid_request', 'code_challenge_method S256 is required');
  }
  // RFC 7636 §4.4.1: "transform algorithm not supported".
  throw new OAuthError('invalid_request', 'transform algorithm not supported (use S256)');
}

/**
 * RFC 6749 §3.3: requested scopes must be supported and within what the client registered
 * (invalid_scope). Without a scope parameter the default is every scope the client may have except
 * offline_access, which a client has to ask for.
 */
function checkScopes(ctx: FrontChannelContext, client: ClientRecord, value: string | undefined): string[] {
  const requested = parseScope(value);
  const allowed = clientScopes(client, ctx.config.scopesSupported);
  if (requested === undefined) return allowed.filter((s) => s !== 'offline_access');
  requireSubset(requested, ctx.config.scopesSupported, 'scopes_supported');
  requireSubset(requested, allowed, "the client's registered scope");
  return requested;
}
