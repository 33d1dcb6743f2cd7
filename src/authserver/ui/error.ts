// The page shown when an authorization request cannot be sent back to the client: an unknown client
// or an unregistered redirect URI (RFC 6749 §4.1.2.1: inform the resource owner, never redirect), or
// an expired or tampered form.

import { html } from './html.ts';
import { layout } from './page.ts';

export interface ErrorView {
  title: string;
  message: string;
  /** The OAuth error code, for whoever has to debug the client. */
  error: string;
}

export function errorPage(view: ErrorView): string {
  return layout(
    view.title,
    html`<h1>${view.title}</h1>
<p role="alert">${view.message}</p>
<p class="muted">Error code: <code>${view.error}</code>. You can close this window and return to the application.</p>`,
  );
}
