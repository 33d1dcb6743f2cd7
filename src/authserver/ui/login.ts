// The sign-in page: a plain form (works without JavaScript) with `username` and `password`, the CSRF
// token and the sealed pending authorization request as hidden fields.

import { html } from './html.ts';
import { layout } from './page.ts';

export interface LoginView {
  /** Path of the form's target (POST). */
  action: string;
  csrf: string;
  /** The sealed pending authorization request. */
  request: string;
  /** Host of this authorization server, so the person sees where they are signing in. */
  serverHost: string;
  /** The application asking for access (its registered name, or its client id). */
  clientName: string;
  /** Prefilled after a failed attempt. */
  username?: string;
  /** Shown in an alert region (WAI-ARIA `role="alert"`), e.g. after a failed attempt. */
  error?: string;
}

export function loginPage(view: LoginView): string {
  return layout(
    'Sign in',
    html`<h1>Sign in to ${view.serverHost}</h1>
<p>to continue to <strong>${view.clientName}</strong></p>
${view.error === undefined ? '' : html`<p class="error" role="alert">${view.error}</p>`}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="request" value="${view.request}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${view.username ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button class="primary" type="submit">Sign in</button></div>
</form>`,
  );
}
