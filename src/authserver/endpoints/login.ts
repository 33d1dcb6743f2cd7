// POST /login: the sign-in form's target. CSRF-checked, rate-limited per IP and per username, the
// password verified in constant time (unknown users cost the same), then the authorization continues
// with a fresh browser session: to the code if consent is remembered, else to the consent page.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientIp } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';
import { checkRateLimit } from '../rate-limit.ts';
import { verifyUser } from '../users.ts';
import {
  type FrontChannelContext,
  frontChannel,
  internalError,
  openPageRequest,
  proceed,
  renderLogin,
} from './authorization-flow.ts';

/** Usernames beyond this are cut in events and logs (the input is attacker-chosen). */
const MAX_LOGGED_USERNAME = 64;
const WINDOW_MS = 60_000;

export async function handleLogin(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
): Promise<void> {
  try {
    await login(req, res, ctx);
  } catch (err) {
    internalError(req, res, ctx, err);
  }
}

async function login(req: IncomingMessage, res: ServerResponse, ctx: FrontChannelContext): Promise<void> {
  const opened = await openPageRequest(req, res, ctx);
  if (opened === undefined) return;
  const { form, pending, client } = opened;
  const ip = clientIp(req, ctx.trustedProxies);
  const username = form.get('username') ?? '';
  const password = form.get('password') ?? '';

  const limited = await checkLoginRate(ctx, ip, username);
  if (limited) {
    renderLogin(req, res, ctx, pending, client, {
      status: 429,
      headers: limited.headers,
      username,
      error: 'Too many sign-in attempts. Wait a minute and try again.',
    });
    return;
  }
  if (username === '' || password === '') {
    renderLogin(req, res, ctx, pending, client, {
      status: 400,
      username,
      error: 'Enter your username and password.',
    });
    return;
  }

  const result = await verifyUser(ctx.storage, username, password);
  if (!result.ok) {
    ctx.events.emit(
      'login.failed',
      { username: username.slice(0, MAX_LOGGED_USERNAME), ip, reason: result.reason },
      ctx.now(),
    );
    // One message for every reason: the page must not tell which usernames exist.
    renderLogin(req, res, ctx, pending, client, {
      status: 400,
      username,
      error: 'Incorrect username or password.',
    });
    return;
  }
  const now = ctx.now();
  const { user } = result;
  ctx.events.emit('login.succeeded', { userId: user.id, username: user.username, ip }, now);
  const cookie = frontChannel(ctx).sessions.issue(user, now);
  await proceed(
    req,
    res,
    ctx,
    pending,
    client,
    { user, authTime: now },
    { redirectStatus: 303, cookies: [cookie] },
  );
}

/**
 * Per IP (through the shared limiter, which emits rate_limit.hit) and per username, so neither one
 * address nor many addresses can guess one account's password quickly (RFC 6749 §10.10).
 */
async function checkLoginRate(
  ctx: FrontChannelContext,
  ip: string,
  username: string,
): Promise<OAuthError | undefined> {
  const byIp = await checkRateLimit(ctx, 'login', { ip });
  if (byIp || username === '') return byIp;
  const name = username.slice(0, MAX_LOGGED_USERNAME);
  const now = ctx.now();
  const byUser = await ctx.rateLimit.hit(`login|user|${name}`, ctx.config.rateLimitPerMinute, WINDOW_MS, now);
  if (byUser.ok) return undefined;
  ctx.events.emit('rate_limit.hit', { endpoint: 'login', key: 'user', ip, username: name }, now);
  return new OAuthError('slow_down', 'too many sign-in attempts for this account', {
    status: 429,
    headers: { 'retry-after': String(byUser.retryAfterSec) },
  });
}
