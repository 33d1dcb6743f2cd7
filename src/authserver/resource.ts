// Resource indicators (RFC 8707). This server protects one resource, the MCP endpoint, whose URL is the
// `aud` of every access token; a request may name it (possibly more than once) and nothing else.

import { OAuthError } from './oauth-error.ts';

/**
 * The canonical form of a resource indicator: an absolute URI without a fragment (RFC 8707 §2), with
 * scheme and host lower-cased and a default port dropped (RFC 3986 §6.2.2-6.2.3). Undefined if invalid.
 */
export function canonicalResource(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  // RFC 8707 §2: "MUST NOT include a fragment component".
  if (url.hash !== '' || value.includes('#')) return undefined;
  return url.href;
}

/**
 * Checks the `resource` values of a request against the one resource they may name. Returns undefined
 * when none was given; `invalid_target` (RFC 8707 §2) for a malformed value or any other resource.
 */
export function checkResource(values: readonly string[], expected: string): string | undefined {
  if (values.length === 0) return undefined;
  const want = canonicalResource(expected);
  for (const value of values) {
    const got = canonicalResource(value);
    if (got === undefined) {
      throw new OAuthError(
        'invalid_target',
        'the resource parameter must be an absolute URI without a fragment',
      );
    }
    if (got !== want) {
      throw new OAuthError(
        'invalid_target',
        'the requested resource is not served by this authorization server',
      );
    }
  }
  return expected;
}
