// The consent page: who is asking (the client's name, and its client id), where the answer goes (the
// redirect URI's host, prominently: MCP 2026-07-28 authorization security considerations "MUST clearly
// display the redirect URI hostname"), what for (the scopes), and Approve / Deny. Deny comes first: it is
// the button Enter submits (HTML "implicit submission" uses the form's first submit button).

import { html } from './html.ts';
import { layout } from './page.ts';

export interface ConsentView {
  action: string;
  csrf: string;
  request: string;
  username: string;
  clientId: string;
  clientName: string | undefined;
  /** How the client is known: registered by an operator, self-registered, or a metadata document. */
  source: 'dynamic' | 'static' | 'cimd';
  redirectUri: string;
  scopes: readonly string[];
  resource: string;
}

const SCOPE_TEXT: Record<string, string> = {
  offline_access: 'stay connected while you are away (refresh tokens)',
};

/** What the person should read as the destination: the host for web and loopback URIs, else the app scheme. */
export function redirectTarget(uri: string): { host: string; loopback: boolean; app: boolean } {
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
      return { host: url.host, loopback, app: false };
    }
    return { host: url.protocol, loopback: false, app: true };
  } catch {
    return { host: uri, loopback: false, app: false };
  }
}

export function consentPage(view: ConsentView): string {
  const target = redirectTarget(view.redirectUri);
  const name = view.clientName ?? view.clientId;
  const selfAsserted = view.source !== 'static';
  return layout(
    `Authorize ${name}`,
    html`<h1>Authorize <strong>${name}</strong>?</h1>
<p><strong>${name}</strong> wants to use <code>${view.resource}</code> as <strong>${view.username}</strong>.</p>
<p>After you answer, you will be sent to</p>
<p class="host">${target.host}</p>
${
  target.loopback
    ? html`<p class="warning" role="note">This address is a program on your own computer. Any program on this computer could claim to be ${name}: continue only if you just started this sign-in yourself.</p>`
    : target.app
      ? html`<p class="warning" role="note">This address opens an application installed on your device, not a website.</p>`
      : ''
}
<dl>
<dt>Permissions</dt>
<dd>${
      view.scopes.length === 0
        ? 'Basic access (no specific permissions requested)'
        : html`<ul>${view.scopes.map((s) => html`<li><code>${s}</code>${SCOPE_TEXT[s] === undefined ? '' : html`: ${SCOPE_TEXT[s]}`}</li>`)}</ul>`
    }</dd>
<dt>Client ID</dt>
<dd><code>${view.clientId}</code></dd>
<dt>Redirect URI</dt>
<dd><code>${view.redirectUri}</code></dd>
</dl>
${
  selfAsserted
    ? html`<p class="muted">${
        view.source === 'cimd'
          ? html`The name was published by the application at its client ID address and is not verified by this server.`
          : html`The application registered itself; its name is not verified by this server.`
      }</p>`
    : ''
}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="request" value="${view.request}">
<div class="actions">
<button type="submit" name="decision" value="deny">Deny</button>
<button class="primary" type="submit" name="decision" value="approve">Approve</button>
</div>
<p class="muted">Not ${view.username}? <button class="link" type="submit" name="decision" value="switch">Sign in as someone else</button></p>
</form>`,
  );
}
