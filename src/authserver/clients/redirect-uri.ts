// Redirect URIs: which ones a client may register, and whether the one presented at /authorize is
// one of them. Registration allows https, loopback http and private-use schemes (MCP 2026-07-28
// basic/authorization "Communication Security"; RFC 8252 §7); matching is exact string comparison
// (OAuth 2.1 §4.1.1, RFC 9700 §4.1.3), except the port of loopback IP redirects (RFC 8252 §7.3).

export type RedirectUriKind = 'https' | 'loopback' | 'private-use';

export type RedirectUriCheck = { ok: true; kind: RedirectUriKind } | { ok: false; reason: string };

/** Longest accepted redirect URI: far beyond real ones, short enough to bound storage and headers. */
export const MAX_REDIRECT_URI_LENGTH = 2048;

/** Hosts that are the local machine for an http redirect (RFC 8252 §7.3, §8.3). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Schemes that are not an application's private-use scheme (RFC 8252 §7.1): script and data carriers
 * a browser would execute or render in place, local resources, and network protocols other than the
 * app hand-off. `http`/`https` have their own rules above.
 */
const FORBIDDEN_SCHEMES = new Set([
  'javascript',
  'vbscript',
  'data',
  'blob',
  'file',
  'filesystem',
  'about',
  'view-source',
  'ws',
  'wss',
  'ftp',
  'mailto',
  'tel',
  'sms',
  'urn',
]);

/** RFC 3986 §3.1 scheme, followed by the colon. */
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** Userinfo in the authority: `scheme://user@host` or `scheme://@host` (RFC 3986 §3.2.1). */
const USERINFO = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/;

/** Checks a redirect URI a client wants to register; the reason names the broken rule. */
export function checkRedirectUri(uri: string): RedirectUriCheck {
  if (uri.length === 0) return fail('must not be empty');
  if (uri.length > MAX_REDIRECT_URI_LENGTH)
    return fail(`is longer than ${MAX_REDIRECT_URI_LENGTH} characters`);
  // Visible ASCII only: the URL parser would silently drop tabs and newlines, so the stored string
  // and the parsed URL could differ; anything else must be percent-encoded (RFC 3986 §2.1).
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return fail('must be ASCII without spaces or control characters');
  }
  // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
  if (uri.includes('#')) return fail('must not contain a fragment (#)');
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return fail('must be an absolute URI');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return fail('is not a valid URI');
  }
  // Credentials in a redirect URI would leak to every party that sees the redirect.
  if (USERINFO.test(uri) || url.username !== '' || url.password !== '') {
    return fail('must not contain user credentials');
  }
  if (scheme === 'https') {
    if (url.hostname === '') return fail('must name a host');
    return { ok: true, kind: 'https' };
  }
  if (scheme === 'http') {
    // RFC 8252 §7.3 / §8.3: plain http only to the loopback interface.
    if (!LOOPBACK_HOSTS.has(url.hostname)) {
      return fail('uses http, which is allowed only for loopback (127.0.0.1, [::1], localhost); use https');
    }
    return { ok: true, kind: 'loopback' };
  }
  if (FORBIDDEN_SCHEMES.has(scheme)) return fail(`uses the scheme '${scheme}:', which is not allowed`);
  // RFC 8252 §7.1: a private-use scheme hands the response to the app that claims it.
  if (uri.length === scheme.length + 1) return fail('has nothing after the scheme');
  return { ok: true, kind: 'private-use' };
}

/** `http://127.0.0.1:port/rest` or `http://[::1]:port/rest`: the parts that must match besides the port. */
const LOOPBACK_IP = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?([/?][^#]*)?$/;

/**
 * Whether `presented` (from an authorization or token request) is one of the client's registered
 * redirect URIs. Simple string comparison (RFC 3986 §6.2.1; OAuth 2.1 §4.1.1); for http redirects to
 * a loopback IP literal the port is ignored, since native apps get an ephemeral one (RFC 8252 §7.3).
 * `localhost` gets no such exception (RFC 8252 §8.3: it may resolve elsewhere).
 */
export function matchRedirectUri(registered: readonly string[], presented: string): boolean {
  if (registered.includes(presented)) return true;
  const p = LOOPBACK_IP.exec(presented);
  if (p === null || !validPort(p[2])) return false;
  for (const candidate of registered) {
    const r = LOOPBACK_IP.exec(candidate);
    if (r !== null && r[1] === p[1] && (r[3] ?? '') === (p[3] ?? '')) return true;
  }
  return false;
}

/** True when the registered redirect URIs all point at this machine (shown as a warning on consent). */
export function isLoopbackOnly(redirectUris: readonly string[]): boolean {
  return (
    redirectUris.length > 0 &&
    redirectUris.every((u) => {
      const c = checkRedirectUri(u);
      return c.ok && c.kind === 'loopback';
    })
  );
}

function validPort(port: string | undefined): boolean {
  if (port === undefined) return true;
  const n = Number(port);
  return n >= 1 && n <= 65535;
}

function fail(reason: string): RedirectUriCheck {
  return { ok: false, reason };
}
