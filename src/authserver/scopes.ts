// Scope values (RFC 6749 §3.3): parsing, formatting, and the subset rules every grant applies.

import type { ClientRecord } from '../storage/types.ts';
import { OAuthError } from './oauth-error.ts';

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), tokens separated by one space.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Parses a `scope` parameter into distinct tokens, in order. Absent stays undefined (the grant picks
 * its default, RFC 6749 §3.3); a malformed value is `invalid_scope`.
 */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const tokens = value.split(' ').filter((t) => t !== '');
  if (tokens.length === 0) return undefined;
  for (const token of tokens) {
    if (!SCOPE_TOKEN.test(token)) throw new OAuthError('invalid_scope', 'the scope parameter is malformed');
  }
  return [...new Set(tokens)];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/** The tokens of `requested` that `allowed` lacks. */
export function missingScopes(requested: readonly string[], allowed: readonly string[]): string[] {
  const set = new Set(allowed);
  return requested.filter((s) => !set.has(s));
}

/**
 * What a client may ask for: its registered `scope` (RFC 7591 §2) within what the server supports, or
 * every supported scope when it registered none.
 */
export function clientScopes(client: ClientRecord, supported: readonly string[]): string[] {
  const registered = client.scope === undefined ? undefined : parseScopeLenient(client.scope);
  if (registered === undefined) return [...supported];
  const set = new Set(supported);
  return registered.filter((s) => set.has(s));
}

/** Throws `invalid_scope` (RFC 6749 §5.2) naming what `requested` has beyond `allowed`. */
export function requireSubset(requested: readonly string[], allowed: readonly string[], what: string): void {
  const extra = missingScopes(requested, allowed);
  if (extra.length > 0) {
    throw new OAuthError('invalid_scope', `${what} does not include: ${formatScope(extra)}`);
  }
}

/** Registered metadata is validated at registration; here a bad token is simply dropped. */
function parseScopeLenient(value: string): string[] {
  return [...new Set(value.split(' ').filter((t) => SCOPE_TOKEN.test(t)))];
}
