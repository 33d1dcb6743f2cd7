// The steps /authorize, /login and /consent share: the browser-held state (session cookie, CSRF, the
// sealed pending request), what comes after a valid request (sign in, consent, or the code), and the
// authorization response itself, always with `iss` (RFC 9207 §2).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientRecord, UserRecord } from '../../storage/types.ts';
import { type BrowserSession, BrowserSessions, Signer } from '../browser-session.ts';
import { matchRedirectUri } from '../clients/redirect-uri.ts';
import { AS_PATHS, type AuthServerContext, endpointUrl } from '../context.ts';
import { CSRF_FIELD, Csrf } from '../csrf.ts';
import { outageError, type Params, readForm, sendJson } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';
import type { CodeChallengeMethod } from '../pkce.ts';
import { hashSecret, randomSecret } from '../secrets.ts';
import { consentPage } from '../ui/consent.ts';
import { errorPage } from '../ui/error.ts';
import { loginPage } from '../ui/login.ts';
import { cspSourceOf, sendPage, sendRedirect } from '../ui/page.ts';

/**
 * The context the front channel needs. `frontChannelSecret` (32+ bytes) keys the HMACs of session
 * cookies, CSRF tokens and pending requests; when absent a random per-process key is used, so sign-ins
 * end with the process and several replicas cannot share them.
 */
export type FrontChannelContext = AuthServerContext & { readonly frontChannelSecret?: Uint8Array };

/** A validated authorization request waiting for the user (RFC 6749 §4.1.1 parameters, checked). */
export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state?: string;
  codeChallenge: string;
  codeChallengeMethod: CodeChallengeMethod;
  resource: string;
}

export interface FrontChannel {
  readonly signer: Signer;
  readonly sessions: BrowserSessions;
  readonly csrf: Csrf;
}

const channels = new WeakMap<object, FrontChannel>();

/** The front channel's keys and cookie handlers of a context, made once per context. */
export function frontChannel(ctx: FrontChannelContext): FrontChannel {
  let channel = channels.get(ctx);
  if (channel === undefined) {
    const signer = ctx.frontChannelSecret ? new Signer(ctx.frontChannelSecret) : Signer.random();
    const secure = ctx.config.secureCookies;
    channel = {
      signer,
      sessions: new BrowserSessions(signer, { ttlSec: ctx.config.loginSessionTtlSec, secure }),
      csrf: new Csrf(signer, { secure }),
    };
    channels.set(ctx, channel);
  }
  return channel;
}

const PENDING_PURPOSE = 'pending authorization';
/** How long the sign-in and consent pages stay usable: long enough to type a password, short enough to expire. */
const PENDING_TTL_MS = 10 * 60_000;

interface SealedPending {
  p: PendingAuthorization;
  /** The user the consent page was shown to (consent form only). */
  u?: string;
}

/**
 * The pending request as a hidden form field: sealed with an HMAC, so what comes back from the browser
 * is exactly what /authorize validated (the pages never trust unsigned parameters).
 */
export function sealPending(
  ctx: FrontChannelContext,
  pending: PendingAuthorization,
  userId?: string,
): string {
  const value: SealedPending = userId === undefined ? { p: pending } : { p: pending, u: userId };
  return frontChannel(ctx).signer.seal(PENDING_PURPOSE, value, ctx.now() + PENDING_TTL_MS);
}

export function openPending(
  ctx: FrontChannelContext,
  token: string | undefined,
): { pending: PendingAuthorization; userId?: string } | undefined {
  const value = frontChannel(ctx).signer.open(PENDING_PURPOSE, token, ctx.now()) as SealedPending | undefined;
  if (!value || typeof value !== 'object' || typeof value.p?.clientId !== 'string') return undefined;
  return value.u === undefined ? { pending: value.p } : { pending: value.p, userId: value.u };
}

/** Path (as the browser sees it) of an endpoint, for form actions: same-origin whatever host name was used. */
function actionPath(ctx: FrontChannelContext, path: string): string {
  return new URL(endpointUrl(ctx.config, path)).pathname;
}

/** `form-action` sources for a page whose form is answered by a redirect to the client. */
function formTargets(redirectUri: string): string[] {
  const source = cspSourceOf(redirectUri);
  return source === undefined ? [] : [source];
}

export interface Continuation {
  /** 302 after GET /authorize, 303 after a form POST. */
  redirectStatus: 302 | 303;
  /** Set-Cookie values to send with whatever comes next (a fresh session). */
  cookies?: string[];
}

/**
 * After a valid request: the sign-in page without a session; the code when the user already consented
 * to this client, redirect URI and scopes; the consent page otherwise.
 */
export async function proceed(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
  pending: PendingAuthorization,
  client: ClientRecord,
  session: BrowserSession | undefined,
  next: Continuation,
): Promise<void> {
  if (session === undefined) {
    renderLogin(req, res, ctx, pending, client, { status: 200, cookies: next.cookies });
    return;
  }
  // MCP security best practices "Confused Deputy": consent is remembered per client and redirect URI.
  const consent = await ctx.storage.consents.get(session.user.id, client.clientId, pending.redirectUri);
  if (consent !== undefined && pending.scopes.every((s) => consent.scopes.includes(s))) {
    await respondWithCode(res, ctx, pending, session, next);
    return;
  }
  renderConsent(req, res, ctx, pending, client, session.user, { status: 200, cookies: next.cookies });
}

export interface RenderOptions {
  status: number;
  cookies?: string[] | undefined;
  error?: string;
  username?: string;
  headers?: Record<string, string>;
}

export function renderLogin(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
  pending: PendingAuthorization,
  client: ClientRecord,
  options: RenderOptions,
): void {
  const csrf = frontChannel(ctx).csrf.prepare(req);
  const document = loginPage({
    action: actionPath(ctx, AS_PATHS.login),
    csrf: csrf.token,
    request: sealPending(ctx, pending),
    serverHost: new URL(ctx.config.issuer).host,
    clientName: client.clientName ?? client.clientId,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.error !== undefined ? { error: options.error } : {}),
  });
  // The login POST ends in a redirect to the client when consent is already remembered.
  sendPage(res, options.status, document, {
    formTargets: formTargets(pending.redirectUri),
    cookies: [...(options.cookies ?? []), ...(csrf.setCookie ? [csrf.setCookie] : [])],
    ...(options.headers ? { headers: options.headers } : {}),
  });
}

export function renderConsent(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
  pending: PendingAuthorization,
  client: ClientRecord,
  user: UserRecord,
  options: RenderOptions,
): void {
  const csrf = frontChannel(ctx).csrf.prepare(req);
  const document = consentPage({
    action: actionPath(ctx, AS_PATHS.consent),
    csrf: csrf.token,
    request: sealPending(ctx, pending, user.id),
    username: user.username,
    clientId: client.clientId,
    clientName: client.clientName,
    source: client.source,
    redirectUri: pending.redirectUri,
    scopes: pending.scopes,
    resource: pending.resource,
  });
  sendPage(res, options.status, document, {
    formTargets: formTargets(pending.redirectUri),
    cookies: [...(options.cookies ?? []), ...(csrf.setCookie ? [csrf.setCookie] : [])],
  });
}

/**
 * RFC 6749 §4.1.2: a fresh code (32 random bytes, stored only as its SHA-256) bound to the client,
 * redirect URI, user, scopes, resource (RFC 8707) and PKCE challenge (RFC 7636 §4.4), then the redirect.
 */
export async function respondWithCode(
  res: ServerResponse,
  ctx: FrontChannelContext,
  pending: PendingAuthorization,
  session: BrowserSession,
  next: Continuation,
): Promise<void> {
  const code = randomSecret();
  const now = ctx.now();
  await ctx.storage.codes.put({
    codeHash: hashSecret(code),
    clientId: pending.clientId,
    userId: session.user.id,
    redirectUri: pending.redirectUri,
    scopes: [...pending.scopes],
    resource: pending.resource,
    codeChallenge: pending.codeChallenge,
    codeChallengeMethod: pending.codeChallengeMethod,
    authTime: session.authTime,
    // RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued".
    expiresAt: now + ctx.config.codeTtlSec * 1000,
  });
  ctx.logger.debug('authorization code issued', { clientId: pending.clientId, userId: session.user.id });
  const location = authorizationResponse(ctx, pending.redirectUri, { code }, pending.state);
  sendRedirect(res, next.redirectStatus, location, next.cookies);
}

/** RFC 6749 §4.1.2.1: an error sent back to the client's redirect URI, with `state` and `iss`. */
export function redirectError(
  res: ServerResponse,
  ctx: FrontChannelContext,
  redirectUri: string,
  error: OAuthError,
  state: string | undefined,
  status: 302 | 303,
  cookies?: readonly string[],
): void {
  const params: Record<string, string> = { error: error.error };
  if (error.description !== undefined) params.error_description = error.description;
  sendRedirect(res, status, authorizationResponse(ctx, redirectUri, params, state), cookies);
}

/**
 * The redirect URI with the response parameters added to its query (RFC 6749 §4.1.2: the query
 * component of the redirect URI is retained), `state` echoed exactly, and `iss` (RFC 9207 §2).
 */
export function authorizationResponse(
  ctx: FrontChannelContext,
  redirectUri: string,
  params: Record<string, string>,
  state: string | undefined,
): string {
  const query = new URLSearchParams(params);
  if (state !== undefined) query.set('state', state);
  // RFC 9207 §2: "iss" in every authorization response, errors included (MCP 2026-07-28 authorization).
  query.set('iss', ctx.config.issuer);
  const hash = redirectUri.indexOf('#');
  const base = hash < 0 ? redirectUri : redirectUri.slice(0, hash);
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${query.toString()}`;
}

/** Looks the client of a pending request up again and checks its redirect URI is still registered. */
export async function pendingClient(
  ctx: FrontChannelContext,
  pending: PendingAuthorization,
): Promise<ClientRecord | undefined> {
  const client = await ctx.clients.get(pending.clientId);
  if (client === undefined || !matchRedirectUri(client.redirectUris, pending.redirectUri)) return undefined;
  return client;
}

/** Whether the browser asked for HTML (default) or explicitly for JSON (API clients, tests). */
function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

const TITLES: Partial<Record<string, string>> = {
  slow_down: 'Too many requests',
  server_error: 'Something went wrong',
  temporarily_unavailable: 'Temporarily unavailable',
};

/**
 * An error that cannot (or must not) go back to the client: a page for the person (RFC 6749 §4.1.2.1
 * "SHOULD inform the resource owner"), or the OAuth JSON body when the caller asked for JSON.
 */
export function sendErrorPage(
  req: IncomingMessage,
  res: ServerResponse,
  error: OAuthError,
  title = TITLES[error.error] ?? 'Authorization request refused',
): void {
  if (wantsJson(req)) {
    sendJson(res, error.status, error.toJSON(), error.headers);
    return;
  }
  const message = error.description ?? 'The request could not be processed.';
  sendPage(res, error.status, errorPage({ title, message, error: error.error }), { headers: error.headers });
}

/**
 * Anything unexpected: logged with its cause, shown as server_error without it. A storage outage is a
 * 503 page with Retry-After instead (issue #4 "Failure"), not a redirect to the client with
 * temporarily_unavailable (RFC 6749 §4.1.2.1): the target may not be known yet, and a page the person
 * can reload keeps the authorization going once storage is back, where a redirect would end it.
 */
export function internalError(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
  err: unknown,
): void {
  if (err instanceof OAuthError) {
    sendErrorPage(req, res, err);
    return;
  }
  const outage = outageError(err);
  if (outage !== undefined) {
    ctx.logger.debug('storage unavailable: answered 503', { error: err });
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    sendErrorPage(req, res, outage);
    return;
  }
  ctx.logger.error('authorization front channel failed', { error: err });
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  sendErrorPage(req, res, new OAuthError('server_error', 'The server encountered an unexpected error.'));
}

/** Forms of our pages are tiny; anything bigger is not one of them. */
const MAX_FORM_BYTES = 16 * 1024;

/** A page's form POST with the pending authorization it carries, reopened and checked. */
export interface PageRequest {
  readonly form: Params;
  readonly pending: PendingAuthorization;
  /** The user the page was shown to, when it was shown to a signed-in user. */
  readonly userId?: string;
  readonly client: ClientRecord;
}

/**
 * Reads a login or consent form and reopens its sealed pending authorization, checking that the client
 * and its redirect URI are still valid. Answers the request itself (and returns undefined) otherwise.
 */
export async function openPageRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
): Promise<PageRequest | undefined> {
  const form = await readPageForm(req, res, ctx);
  if (form === undefined) return undefined;
  const opened = openPending(ctx, form.get('request'));
  const client = opened && (await pendingClient(ctx, opened.pending));
  if (opened === undefined || client === undefined) {
    sendErrorPage(req, res, expiredRequest());
    return undefined;
  }
  return { form, client, ...opened };
}

/** Reads a page's form POST; answers the request itself (and returns undefined) when it is not one. */
export async function readPageForm(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
): Promise<Params | undefined> {
  if (req.method !== 'POST') {
    sendErrorPage(
      req,
      res,
      new OAuthError('invalid_request', 'This address only accepts the form of the sign-in pages.', {
        status: 405,
        headers: { allow: 'POST' },
      }),
    );
    return undefined;
  }
  let form: Params;
  try {
    form = await readForm(req, { maxBytes: MAX_FORM_BYTES });
  } catch (err) {
    if (!(err instanceof OAuthError)) throw err;
    sendErrorPage(req, res, err);
    return undefined;
  }
  // RFC 6749 §10.12 / RFC 9700 §4.7: the form must come from our own page in this browser.
  if (!frontChannel(ctx).csrf.check(req, form.get(CSRF_FIELD))) {
    sendErrorPage(
      req,
      res,
      new OAuthError(
        'access_denied',
        'The form could not be verified (it may have expired). Start again from the application.',
        {
          status: 403,
        },
      ),
      'Form expired',
    );
    return undefined;
  }
  return form;
}

/** The sealed request is missing, altered, expired, or its client or redirect URI is gone. */
export function expiredRequest(): OAuthError {
  return new OAuthError(
    'invalid_request',
    'This sign-in page has expired or is no longer valid. Start again from the application.',
  );
}
