// POST /consent: the consent page's target. CSRF-checked; needs the browser session of the user the
// page was shown to. Approve remembers the consent for this client and redirect URI (MCP security best
// practices "Confused Deputy") and issues the code; Deny sends access_denied back (RFC 6749 §4.1.2.1).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAuthError } from '../oauth-error.ts';
import {
  type FrontChannelContext,
  frontChannel,
  internalError,
  openPageRequest,
  redirectError,
  renderConsent,
  renderLogin,
  respondWithCode,
  sendErrorPage,
} from './authorization-flow.ts';

export async function handleConsent(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: FrontChannelContext,
): Promise<void> {
  try {
    await consent(req, res, ctx);
  } catch (err) {
    internalError(req, res, ctx, err);
  }
}

async function consent(req: IncomingMessage, res: ServerResponse, ctx: FrontChannelContext): Promise<void> {
  const opened = await openPageRequest(req, res, ctx);
  if (opened === undefined) return;
  const { form, pending, client } = opened;
  const session = await frontChannel(ctx).sessions.read(req, ctx.storage, ctx.now());
  if (session === undefined) {
    // The sign-in ended (expired, password changed, user removed) while the page was open.
    renderLogin(req, res, ctx, pending, client, {
      status: 200,
      error: 'Your session has ended. Sign in again to continue.',
    });
    return;
  }
  if (opened.userId !== session.user.id) {
    // The page was shown to another account than the one now signed in: ask this one.
    renderConsent(req, res, ctx, pending, client, session.user, { status: 200 });
    return;
  }

  const decision = form.get('decision');
  const who = { userId: session.user.id, clientId: client.clientId, redirectUri: pending.redirectUri };
  if (decision === 'deny') {
    ctx.events.emit('consent.denied', who, ctx.now());
    // RFC 6749 §4.1.2.1: "The resource owner or authorization server denied the request."
    redirectError(
      res,
      ctx,
      pending.redirectUri,
      new OAuthError('access_denied', 'the user denied the request'),
      pending.state,
      303,
    );
    return;
  }
  if (decision === 'switch') {
    // "Not you?": the session ends here and the sign-in page takes the same pending request.
    renderLogin(req, res, ctx, pending, client, {
      status: 200,
      cookies: [frontChannel(ctx).sessions.clear()],
    });
    return;
  }
  if (decision !== 'approve') {
    sendErrorPage(req, res, new OAuthError('invalid_request', 'Choose Approve or Deny.'));
    return;
  }
  const now = ctx.now();
  const previous = await ctx.storage.consents.get(who.userId, who.clientId, who.redirectUri);
  // Consent accumulates: approving more scopes keeps what was approved before.
  const scopes = [...new Set([...(previous?.scopes ?? []), ...pending.scopes])];
  await ctx.storage.consents.put({ ...who, scopes, grantedAt: now });
  ctx.events.emit('consent.granted', { ...who, scopes: [...pending.scopes] }, now);
  await respondWithCode(res, ctx, pending, session, { redirectStatus: 303 });
}
