// Revoking a grant: its refresh-token family dies in storage, and a `grant:<id>` revocation entry plus
// a `token.revoked` event reach the resource-server guard, so the access tokens already minted from it
// (they carry the grant id as `gid`) stop working before they expire (RFC 7009 §2.1, RFC 9700 §4.14.2).

import type { AuthServerContext } from '../context.ts';

/** Seconds added to the access-token lifetime so a revocation outlives the guard's clock-skew leeway. */
const SKEW_MARGIN_SEC = 120;

export function grantRevocationId(grantId: string): string {
  return `grant:${grantId}`;
}

/** How long a grant revocation entry is kept: until every access token minted before `now` has expired. */
export function grantRevocationExpiry(ctx: AuthServerContext, now: number): number {
  return now + (ctx.config.accessTokenTtlSec + SKEW_MARGIN_SEC) * 1000;
}

/**
 * Revokes the grant (idempotent). The revocation entry is written even when the grant is already gone
 * or not yet stored: a code replay racing the first exchange must still cover the tokens it issued.
 * Returns true if the grant was live; only then is the event emitted.
 *
 * The entry the guard reads goes first, the grant record second: if storage fails between the two
 * (issue #4 "Failure": the two may live in Redis and PostgreSQL), the grant is still live in the
 * record, so a retry of whatever revoked it (the same replay, reuse or /revoke call) runs both steps
 * again. The other order could leave a grant marked revoked whose access tokens the guard never hears
 * of, with no retry path left to tell it.
 */
export async function revokeGrant(
  ctx: AuthServerContext,
  grant: { id: string; clientId: string },
  reason: string,
  now: number,
): Promise<boolean> {
  await ctx.storage.revocations.revoke(grantRevocationId(grant.id), grantRevocationExpiry(ctx, now));
  const live = await ctx.storage.grants.revoke(grant.id, reason, now);
  if (live)
    ctx.events.emit('token.revoked', { clientId: grant.clientId, what: 'grant', id: grant.id, reason }, now);
  return live;
}

/** How long an access-token revocation is kept: past its `exp` (epoch seconds) plus the guard's leeway. */
export function accessTokenRevocationExpiry(expSec: number): number {
  return (expSec + SKEW_MARGIN_SEC) * 1000;
}
