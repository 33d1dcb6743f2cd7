// How long a fetched document stays fresh, from its response headers (RFC 9111 §4.2.1): used for the
// Client ID Metadata Document cache ("SHOULD cache metadata respecting HTTP cache headers", MCP
// 2026-07-28 basic/authorization/client-registration). No revalidation: a stale entry is refetched.

import type { IncomingHttpHeaders } from 'node:http';

export interface FreshnessBounds {
  /** Lifetime when the response says nothing about caching (RFC 9111 §4.2.2 heuristic freshness). */
  defaultMs: number;
  /** Upper bound whatever the response says, so a changed document is seen eventually. */
  maxMs: number;
}

/** Freshness lifetime in ms; 0 means "do not store". */
export function freshnessLifetimeMs(
  headers: IncomingHttpHeaders,
  now: number,
  bounds: FreshnessBounds,
): number {
  const directives = parseCacheControl(headers['cache-control']);
  // RFC 9111 §5.2.2.5 no-store; §5.2.2.4 no-cache (would need revalidation on every use).
  if (directives.has('no-store') || directives.has('no-cache')) return 0;
  let lifetimeMs: number | undefined;
  const maxAge = directives.get('max-age'); // RFC 9111 §5.2.2.1
  if (maxAge !== undefined) {
    lifetimeMs = /^\d+$/.test(maxAge) ? Number(maxAge) * 1000 : 0; // an invalid max-age is stale (§4.2.1)
  } else if (headers.expires !== undefined) {
    // RFC 9111 §5.3: relative to the response's Date (or receipt); an invalid date means already expired.
    const expires = Date.parse(headers.expires);
    const date = headers.date !== undefined ? Date.parse(headers.date) : Number.NaN;
    lifetimeMs = Number.isNaN(expires) ? 0 : expires - (Number.isNaN(date) ? now : date);
  }
  if (lifetimeMs === undefined) lifetimeMs = bounds.defaultMs;
  // RFC 9111 §4.2.3: time the response already spent in caches on the way.
  const age = headers.age;
  if (age !== undefined && /^\d+$/.test(age)) lifetimeMs -= Number(age) * 1000;
  return Math.max(0, Math.min(lifetimeMs, bounds.maxMs));
}

function parseCacheControl(value: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (value === undefined) return out;
  for (const part of value.split(',')) {
    const [rawName, ...rest] = part.split('=');
    const name = rawName?.trim().toLowerCase();
    if (!name) continue;
    const arg = rest
      .join('=')
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (!out.has(name)) out.set(name, arg); // RFC 9111 §4.2.1: the first occurrence wins
  }
  return out;
}
