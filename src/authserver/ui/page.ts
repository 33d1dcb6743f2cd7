// The frame of every authorization-server page and the headers every front-channel response carries:
// not cacheable, not frameable, no script, no referrer, forms only to us (and to the client's redirect
// URI, which the consent POST answers with a redirect to).

import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { html, SafeHtml } from './html.ts';

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--accent:#0b5cad;--warn:#8a5a00;--warnbg:#fff8e5;--err:#b3261e;--errbg:#fdecea}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--card:#161b22;--line:#30363d;--accent:#58a6ff;--warn:#e3b341;--warnbg:#2b2111;--err:#ff7b72;--errbg:#2d1517}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:28rem;margin:3rem auto;padding:2rem;background:var(--card);border:1px solid var(--line);border-radius:12px}
h1{font-size:1.4rem;margin:0 0 1rem}
p{margin:.5rem 0}
.muted{color:var(--muted);font-size:.9rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;padding:.6rem .7rem;font:inherit;color:inherit;background:var(--bg);border:1px solid var(--line);border-radius:8px}
input:focus,button:focus{outline:3px solid var(--accent);outline-offset:2px}
.actions{display:flex;gap:.75rem;margin-top:1.5rem}
button{flex:1;padding:.65rem 1rem;font:inherit;font-weight:600;border-radius:8px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.link{flex:none;padding:0;border:0;background:none;color:var(--accent);font-weight:400;text-decoration:underline}
.host{font-size:1.25rem;font-weight:700;word-break:break-all}
dl{margin:1rem 0}dt{font-weight:600;margin-top:.75rem}dd{margin:0;word-break:break-all}
ul{margin:.25rem 0;padding-left:1.25rem}
code{font-size:.9em}
.warning{padding:.75rem;border-radius:8px;color:var(--warn);background:var(--warnbg)}
.error{padding:.75rem;border-radius:8px;color:var(--err);background:var(--errbg)}
`.trim();

/** CSP3 §8.3: an inline style is allowed by its hash, so no 'unsafe-inline' is needed. */
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`;

// A constant of this module, not input: it goes in verbatim (and must, for its hash in the CSP to match).
const TRUSTED_STYLE = new SafeHtml(STYLE);

/** A whole document: language, viewport and a title for assistive technology (WCAG 2.2 SC 2.4.2, 3.1.1). */
export function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<style>${TRUSTED_STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/**
 * A CSP source for where the client's redirect URI lives: its origin for http(s), its scheme for a
 * private-use scheme (CSP3 §2.3.1 scheme-source), since browsers apply `form-action` to the redirect
 * that answers a form submission.
 */
export function cspSourceOf(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
    return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? url.protocol : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Headers of every front-channel response. `formTargets` are extra `form-action` sources besides 'self'
 * (the redirect URI's origin); undefined means the page has no form (`form-action 'none'`).
 */
export function pageHeaders(formTargets?: readonly string[]): Record<string, string> {
  const formAction = formTargets === undefined ? "'none'" : ["'self'", ...formTargets].join(' ');
  return {
    'content-security-policy': `default-src 'none'; style-src ${STYLE_HASH}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    // RFC 7034: for browsers that predate CSP frame-ancestors (clickjacking of the consent page).
    'x-frame-options': 'DENY',
    // RFC 6749 §5.1 in spirit, RFC 9111 §5.2.2.5: pages with CSRF tokens and codes must not be cached.
    'cache-control': 'no-store',
    pragma: 'no-cache',
    // The authorization URL and its parameters must not leak to other sites in Referer (RFC 9700 §4.2.4).
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  };
}

export interface SendOptions {
  /** Extra `form-action` sources; undefined = the page has no form. */
  formTargets?: readonly string[];
  cookies?: readonly string[];
  headers?: Record<string, string>;
}

/** Sends an HTML page in one write. */
export function sendPage(
  res: ServerResponse,
  status: number,
  document: string,
  options: SendOptions = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = Buffer.from(document, 'utf8');
  const headers: Record<string, string | number | string[]> = {
    ...pageHeaders(options.formTargets),
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
    ...options.headers,
  };
  if (options.cookies?.length) headers['set-cookie'] = [...options.cookies];
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * A redirect of the browser (302 for GET; 303 after a form POST so the browser follows with GET, as
 * OAuth 2.1 §7.5.2 recommends over 307, which would re-post the password).
 */
export function sendRedirect(
  res: ServerResponse,
  status: 302 | 303,
  location: string,
  cookies: readonly string[] = [],
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const headers: Record<string, string | number | string[]> = {
    ...pageHeaders(),
    location,
    'content-length': 0,
  };
  if (cookies.length) headers['set-cookie'] = [...cookies];
  res.writeHead(status, headers);
  res.end();
}
