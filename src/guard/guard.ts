// The resource-server guard on every MCP endpoint (/mcp, /sse, /messages): a bearer access token from
// the Authorization header, verified per RFC 9068 §4 for exactly this resource (RFC 8707), not revoked,
// becomes the request's Principal; anything else is refused with a Bearer challenge pointing at the
// protected-resource metadata (RFC 9728 §5.1). Verified tokens are cached until they expire, so a
// repeat request costs a Map lookup; revocation is still honoured on every request.

import type { IncomingMessage } from 'node:http';
import { type VerifyFailure, verifyAccessToken } from '../authserver/access-token.ts';
import type { KeySource } from '../authserver/keys.ts';
import type { EventBus } from '../observability/events.ts';
import { type Logger, silentLogger } from '../observability/logger.ts';
import type { Principal } from '../protocol/contract.ts';
import type { ChangeFeed, RevocationStore } from '../storage/types.ts';
import type { Guard, GuardRejection, GuardResult } from '../transport/http/app.ts';
import { hasQueryToken, isB64Token, readCredentials } from './bearer.ts';
import { buildChallenge, type ChallengeOptions, refusal } from './challenge.ts';
import { resourceMetadataUrl as defaultMetadataUrl } from './metadata.ts';
import { GRANT_PREFIX, RevocationCache } from './revocation-cache.ts';
import { type CachedToken, TokenCache } from './token-cache.ts';

export interface GuardOptions {
  keys: Pick<KeySource, 'verificationKey' | 'verifies'>;
  /** The authorization server's issuer identifier: tokens must carry it as `iss`. */
  issuer: string;
  /** This MCP endpoint's URL: tokens must carry exactly it as `aud`. */
  resource: string;
  /** Where the RFC 9728 document is; default: the path-suffixed well-known URL of `resource`. */
  resourceMetadataUrl?: string;
  revocations: RevocationStore;
  /** Revocations by other processes as they happen (Redis); without it they arrive with the periodic sync. */
  changes?: ChangeFeed | undefined;
  events: EventBus;
  /** Scopes named in the 401 challenge (MCP "Scope Selection Strategy"); offline_access is left out. */
  scopes?: readonly string[];
  /** Tolerance for exp/nbf/iat. Default 30 s. */
  clockSkewSec?: number;
  /** Epoch ms. */
  now?: () => number;
  /** The longest access-token lifetime the server issues (bounds revocations learnt from events). Default 1 day. */
  maxTokenTtlSec?: number;
  /** Verified tokens kept. Default 10,000. */
  cacheSize?: number;
  /** Revocations made by other processes are seen within this period. Default 30 s; 0 = no timer. */
  revocationSyncSec?: number;
  logger?: Logger;
}

export interface ResourceGuard {
  /** For createHttpApp({ guard }). */
  readonly guard: Guard;
  /** The WWW-Authenticate value: `Bearer resource_metadata="…", scope="…"[, error=…]`. */
  challenge(options?: ChallengeOptions): string;
  /** A 403 insufficient_scope refusal naming every scope the operation needs (RFC 6750 §3.1). */
  insufficientScope(scopes: readonly string[], description?: string): GuardRejection;
  /** Resolves once the revocation cache is warm (the guard waits for it too); rejects if storage fails. */
  ready(): Promise<void>;
  /** Whether the revocation view is current; while it is not, token-bearing requests get 503. */
  revocationsCurrent(): boolean;
  close(): void;
}

/** Safe descriptions for the client (RFC 6750 §3: error_description is for developers). */
const DESCRIPTIONS: Record<VerifyFailure | 'revoked', string> = {
  malformed: 'The access token is malformed',
  unknown_kid: 'The access token was not signed by a known key',
  alg_not_allowed: 'The access token uses an algorithm its key does not allow',
  bad_signature: 'The access token signature is invalid',
  wrong_typ: 'The token is not an access token (typ at+jwt)',
  wrong_issuer: 'The access token was issued by another authorization server',
  wrong_audience: 'The access token was not issued for this resource',
  expired: 'The access token expired',
  not_yet_valid: 'The access token is not valid yet',
  invalid_claims: 'The access token claims are invalid',
  revoked: 'The access token was revoked',
};

export function createGuard(options: GuardOptions): ResourceGuard {
  const {
    keys,
    issuer,
    resource,
    revocations: store,
    events,
    scopes = [],
    clockSkewSec = 30,
    now = Date.now,
    maxTokenTtlSec = 24 * 3600,
    cacheSize = 10_000,
    revocationSyncSec = 30,
    logger = silentLogger,
  } = options;
  const metadataUrl = options.resourceMetadataUrl ?? defaultMetadataUrl(resource);
  const skewMs = clockSkewSec * 1000;
  const tokens = new TokenCache(cacheSize);
  const revoked = new RevocationCache({
    store,
    events,
    now,
    eventRetentionMs: (maxTokenTtlSec + clockSkewSec) * 1000,
    changes: options.changes,
    // Without a feed, three missed periodic syncs in a row make the view unknown.
    ...(revocationSyncSec > 0 ? { maxStalenessMs: 3 * revocationSyncSec * 1000 } : {}),
    onSyncError: (err) =>
      logger.error('guard: reloading revocations after reconnection failed', { error: err }),
  });

  const challenge = (o: ChallengeOptions = {}) =>
    buildChallenge(metadataUrl, { ...o, scopes: o.scopes ?? scopes });

  // RFC 6750 §3.1: a request without credentials gets a challenge with no error code.
  const missing = refusal(401, challenge(), 'Unauthorized: an access token is required');
  const invalid = new Map<VerifyFailure | 'revoked', GuardRejection>();
  const invalidToken = (reason: VerifyFailure | 'revoked'): GuardRejection => {
    let r = invalid.get(reason);
    if (r === undefined) {
      const description = DESCRIPTIONS[reason];
      r = refusal(
        401, // MCP "Token Handling": invalid or expired tokens MUST receive a 401
        challenge({ error: 'invalid_token', description }),
        `Unauthorized: ${description}`,
        { error: 'invalid_token', description },
      );
      invalid.set(reason, r);
    }
    return r;
  };
  const badRequest = (description: string) =>
    // RFC 6750 §3.1 invalid_request: malformed, or more than one method / an unsupported one.
    refusal(400, challenge({ error: 'invalid_request', description }), `Bad Request: ${description}`, {
      error: 'invalid_request',
      description,
    });
  // Issue #4 "Failure": with the revocation state unknown (Redis or the database unreachable) no token
  // is accepted, not even a cached one; RFC 9110 §15.6.4 503 with Retry-After, never stored.
  const unavailable: GuardRejection = Object.freeze({
    status: 503,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'retry-after': '1',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: 'Service Unavailable: token revocation state is unknown, try again' },
    }),
  });
  const queryToken = badRequest(
    'Access tokens are accepted in the Authorization header only, not in the URI',
  );
  const malformed = badRequest('The Authorization header is not a valid Bearer credential');

  let warm = false;
  let warming: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    warming ??= revoked.sync().then(
      () => {
        warm = true;
      },
      (err: unknown) => {
        warming = undefined; // the next request tries again
        throw err;
      },
    );
    return warming;
  };
  void ready().catch((err: unknown) => logger.error('guard: loading revocations failed', { error: err }));

  const timers: NodeJS.Timeout[] = [];
  if (revocationSyncSec > 0) {
    const sync = setInterval(() => {
      revoked
        .sync()
        .catch((err: unknown) => logger.error('guard: syncing revocations failed', { error: err }));
      tokens.sweep(now());
    }, revocationSyncSec * 1000);
    sync.unref();
    timers.push(sync);
  }

  const verify = async (token: string, at: number): Promise<GuardResult> => {
    const result = await verifyAccessToken(token, {
      keys,
      issuer,
      audience: resource,
      clockSkewSec,
      now: at,
    });
    if (!result.ok) {
      logger.debug('guard: access token refused', { reason: result.reason });
      return invalidToken(result.reason);
    }
    const { claims } = result;
    const grantKey = claims.gid === undefined ? undefined : GRANT_PREFIX + claims.gid;
    if (revoked.isRevoked(claims.jti, grantKey)) {
      logger.debug('guard: access token refused', { reason: 'revoked', jti: claims.jti });
      return invalidToken('revoked');
    }
    const principal: Principal = Object.freeze({
      subject: claims.sub,
      clientId: claims.client_id,
      scopes: Object.freeze(result.scopes),
      tokenId: claims.jti,
      expiresAt: claims.exp,
      claims: Object.freeze(claims),
    });
    const entry: CachedToken = {
      result: Object.freeze({ principal }),
      kid: result.kid,
      jti: claims.jti,
      grantKey,
      until: claims.exp * 1000 + skewMs,
    };
    tokens.set(token, entry);
    return entry.result;
  };

  // Synchronous on a cache hit (the common case): no promise turn on the hot path.
  const guard: Guard = (
    req: IncomingMessage,
    ctx: { readonly query: string },
  ): GuardResult | Promise<GuardResult> => {
    if (!warm)
      return ready().then(
        () => guard(req, ctx),
        () => unavailable,
      );
    // MCP 2026-07-28 authorization "Token Requirements" 2: never in the query string, not even alongside a header.
    if (hasQueryToken(ctx.query)) return queryToken;
    const credentials = readCredentials(req.headers.authorization);
    if (credentials.kind === 'none') return missing;
    if (credentials.kind === 'malformed') return malformed;
    if (!revoked.current()) return unavailable;
    const token = credentials.token;
    const at = now();
    const hit = tokens.get(token, at);
    if (hit !== undefined) {
      if (revoked.isRevoked(hit.jti, hit.grantKey)) {
        tokens.delete(token);
        return invalidToken('revoked');
      }
      // A key retired early (rotation with no overlap) takes its cached tokens with it.
      if (keys.verifies(hit.kid)) return hit.result;
      tokens.delete(token);
    }
    // Only verified tokens are cached, so the syntax check can wait for a miss.
    if (!isB64Token(token)) return malformed;
    return verify(token, at);
  };

  return {
    guard,
    challenge,
    insufficientScope: (needed, description = 'The access token lacks a scope this operation requires') =>
      refusal(
        403, // RFC 6750 §3.1 insufficient_scope
        challenge({ scopes: needed, error: 'insufficient_scope', description }),
        `Forbidden: ${description}`,
        { error: 'insufficient_scope', description },
      ),
    ready,
    revocationsCurrent: () => revoked.current(),
    close: () => {
      for (const t of timers) clearInterval(t);
      revoked.close();
      tokens.clear();
    },
  };
}
