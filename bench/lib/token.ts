// The token-endpoint suite: POST /token throughput of a whole Keyhole (keyhole-oauth-server.ts) on
// SQLite and on PostgreSQL + Redis, for the two grants a client uses all day:
//   authorization_code  a fresh code per request (PKCE S256, resource), from a pool minted in the server
//                       before the timed window exactly as the authorization endpoint stores codes;
//   refresh_token       each worker owns one grant (one code exchange before the load) and refreshes it
//                       in a loop with the newest refresh token (rotation: every reply carries a new one).
// Load: closed-loop workers (closed-loop.ts); every reply is checked to be a complete token response.
// Around the load the suite proves the tokens are real: the access token serves `tools/call`, a replayed
// code is refused, and a rotated refresh token presented again is refused and ends its grant.

import { fileURLToPath } from 'node:url';
import { ECHO_SCOPE } from './auth-protocol.ts';
import { cpuProfileArgs, type ServerProcess, startServer } from './child.ts';
import { closedLoop, type LoopResult } from './closed-loop.ts';
import {
  type AuthServerInfo,
  checkTokenResponse,
  codeExchangeBody,
  expectOAuthError,
  mintCodes,
  postForm,
  refreshBody,
  registerPublicClient,
  serverInfo,
} from './oauth-client.ts';
import type { MintedCode } from './oauth-protocol.ts';
import type { BenchOptions } from './options.ts';
import { openServices, type ScaleOutServices } from './services.ts';
import { modernRequest, verify } from './targets.ts';

export const OAUTH_SCRIPT = fileURLToPath(new URL('../keyhole-oauth-server.ts', import.meta.url));

export type TokenStorage = 'sqlite' | 'postgres';
export type TokenGrant = 'authorization_code' | 'refresh_token';
export const TOKEN_GRANTS: readonly TokenGrant[] = ['authorization_code', 'refresh_token'];

export interface TokenResult extends LoopResult {
  grant: TokenGrant;
}

export interface TokenReport {
  storage: TokenStorage;
  description: string;
  /** What the checks before and after the load found. */
  checks: string[];
  error?: string;
  results: TokenResult[];
}

/**
 * The bench's settings on top of `keyhole serve`'s defaults: the per-minute rate limit on /token is far
 * above what one client IP sends here (the limiter still counts every request, as in production), codes
 * live 10 minutes, so a pool minted before a long measured run does not expire in it, and the log keeps
 * warnings only: an info line per token issued would make the runner, which drains the server's stderr,
 * part of the measurement (the audit trail in storage is written as always).
 */
export const OAUTH_BENCH_ENV = {
  KEYHOLE_RATE_LIMIT_PER_MINUTE: '1000000',
  KEYHOLE_CODE_TTL_SEC: '600',
  KEYHOLE_LOG_LEVEL: 'warn',
};

/** What makes `keyhole serve` a replica on these services (README "Several replicas"). */
export function scaleOutEnv(services: ScaleOutServices): Record<string, string> {
  return {
    KEYHOLE_DATABASE_URL: services.databaseUrl,
    KEYHOLE_REDIS_URL: services.redisUrl,
    KEYHOLE_REDIS_PREFIX: services.redisPrefix,
  };
}

/** Codes minted for a warm-up whose rate is not known yet, per second of warm-up. */
const WARMUP_CODES_PER_S = 2000;

const log = (line: string) => process.stderr.write(`${line}\n`);

interface Live {
  server: ServerProcess;
  info: AuthServerInfo;
  clientId: string;
  tokenUrl: string;
}

const DESCRIPTIONS: Record<TokenStorage, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL + Redis' };

async function exchange(live: Live, minted: MintedCode) {
  const res = await postForm(live.tokenUrl, codeExchangeBody(live.clientId, live.info.resource, minted));
  const tokens = checkTokenResponse(res.status, res.text, ECHO_SCOPE);
  if (typeof tokens === 'string') throw new Error(`code exchange: ${tokens}`);
  return tokens;
}

/** A token from /token serves tools/call at the MCP endpoint (the guard verifies it for real). */
async function checkAccessToken(live: Live, accessToken: string, what: string): Promise<string> {
  const request = modernRequest();
  const found = await verify(
    live.server.url,
    { headers: { ...request.headers, authorization: `Bearer ${accessToken}` }, body: request.body },
    'modern',
  );
  return `${what} serves tools/call (${found})`;
}

async function checkBefore(live: Live): Promise<string[]> {
  const [minted] = await mintCodes(live.server, live.clientId, 1);
  const tokens = await exchange(live, minted!);
  return [
    'code exchange: 200 token response',
    await checkAccessToken(live, tokens.accessToken, 'its access token'),
    // RFC 6749 §4.1.2: a code is single-use.
    await expectOAuthError(
      'the same code again',
      live.tokenUrl,
      codeExchangeBody(live.clientId, live.info.resource, minted!),
      'invalid_grant',
    ),
  ];
}

async function measureCodes(live: Live, workers: number, opts: BenchOptions): Promise<TokenResult> {
  const loop = async (pool: MintedCode[], durationS: number) => {
    let taken = 0;
    return closedLoop({
      url: live.tokenUrl,
      workers,
      durationS,
      cpuTimeMs: live.server.cpuTimeMs,
      next: () => {
        const minted = pool[taken++];
        if (minted === undefined) return undefined;
        return {
          body: codeExchangeBody(live.clientId, live.info.resource, minted),
          accept: (status, text) => {
            const r = checkTokenResponse(status, text, ECHO_SCOPE);
            return typeof r === 'string' ? r : undefined;
          },
        };
      },
    });
  };
  // The pool is sized from the warm-up's rate, with room to spare; a drained pool ends the run early
  // (reported), it never reuses a code.
  let rate = WARMUP_CODES_PER_S;
  if (opts.warmupS > 0) {
    const warm = await loop(
      await mintCodes(live.server, live.clientId, Math.ceil(WARMUP_CODES_PER_S * opts.warmupS)),
      opts.warmupS,
    );
    rate = Math.max(warm.rps, 100);
  }
  const size = Math.ceil(rate * opts.durationS * 1.6) + 10 * workers;
  const result = await loop(await mintCodes(live.server, live.clientId, size), opts.durationS);
  return { ...result, grant: 'authorization_code' };
}

interface Family {
  current: string;
  /** The refresh token before the current one (rotated: presenting it again is reuse). */
  previous?: string;
  accessToken: string;
}

async function measureRefresh(
  live: Live,
  workers: number,
  opts: BenchOptions,
): Promise<{ result: TokenResult; families: Family[] }> {
  const minted = await mintCodes(live.server, live.clientId, workers);
  const families: Family[] = await Promise.all(
    minted.map(async (m) => {
      const t = await exchange(live, m);
      return { current: t.refreshToken, accessToken: t.accessToken };
    }),
  );
  const loop = (durationS: number) =>
    closedLoop({
      url: live.tokenUrl,
      workers,
      durationS,
      cpuTimeMs: live.server.cpuTimeMs,
      next: (w) => {
        const family = families[w]!;
        return {
          body: refreshBody(live.clientId, family.current),
          accept: (status, text) => {
            const r = checkTokenResponse(status, text, ECHO_SCOPE);
            if (typeof r === 'string') return r;
            // OAuth 2.1 §4.3.1: a public client's refresh token is rotated on every use.
            if (r.refreshToken === family.current) return 'the refresh token was not rotated';
            family.previous = family.current;
            family.current = r.refreshToken;
            family.accessToken = r.accessToken;
            return undefined;
          },
        };
      },
    });
  if (opts.warmupS > 0) await loop(opts.warmupS);
  const result = await loop(opts.durationS);
  return { result: { ...result, grant: 'refresh_token' }, families };
}

async function checkAfter(live: Live, family: Family): Promise<string[]> {
  if (family.previous === undefined) throw new Error('the refresh loop never rotated its token');
  return [
    await checkAccessToken(live, family.accessToken, 'the last refreshed access token'),
    // RFC 9700 §4.14.2: a rotated refresh token presented again is reuse; the grant is revoked.
    await expectOAuthError(
      'a rotated refresh token again',
      live.tokenUrl,
      refreshBody(live.clientId, family.previous),
      'invalid_grant',
    ),
    await expectOAuthError(
      'then its newest token (grant revoked)',
      live.tokenUrl,
      refreshBody(live.clientId, family.current),
      'invalid_grant',
    ),
  ];
}

async function runOne(
  storage: TokenStorage,
  opts: BenchOptions,
  profileDir: string | undefined,
): Promise<TokenReport> {
  const report: TokenReport = { storage, description: DESCRIPTIONS[storage], checks: [], results: [] };
  let services: ScaleOutServices | undefined;
  let server: ServerProcess | undefined;
  try {
    if (storage === 'postgres') {
      services = await openServices(opts.postgresUrl, opts.redisUrl);
    }
    server = await startServer(OAUTH_SCRIPT, {
      execArgv: cpuProfileArgs(profileDir, `token-${storage}`),
      env: { ...OAUTH_BENCH_ENV, ...(services ? scaleOutEnv(services) : {}) },
      timeoutMs: 30_000,
    });
    const info = await serverInfo(server);
    const live: Live = {
      server,
      info,
      clientId: await registerPublicClient(info.origin),
      tokenUrl: `${info.origin}/token`,
    };
    report.checks.push(...(await checkBefore(live)));
    log(`  token ${storage}: ${server.url} verified (${report.checks.join('; ')})`);
    let last: Family | undefined;
    for (const c of opts.connections) {
      for (const grant of TOKEN_GRANTS) {
        let r: TokenResult;
        if (grant === 'authorization_code') r = await measureCodes(live, c, opts);
        else {
          const { result, families } = await measureRefresh(live, c, opts);
          r = result;
          last = families[0];
        }
        report.results.push(r);
        log(
          `  token ${storage} ${grant} @${c}: ${Math.round(r.rps)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, ` +
            `p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors${r.errorSamples.length ? ` (${r.errorSamples[0]})` : ''}` +
            `${r.drained ? `, code pool drained after ${r.durationS.toFixed(1)} s` : ''}, ` +
            `server CPU ${r.cpuUsPerRequest?.toFixed(1) ?? 'n/a'} µs/req`,
        );
      }
    }
    if (last) {
      const found = await checkAfter(live, last);
      report.checks.push(...found);
      log(`  token ${storage}: after load: ${found.join('; ')}`);
    }
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    log(`  token ${storage}: FAILED: ${report.error}\n${server?.stderr().trim() ?? ''}`);
  } finally {
    await server?.stop();
    await services?.dispose().catch((err: unknown) => log(`  token ${storage}: cleanup: ${String(err)}`));
  }
  return report;
}

/** `profileDir`: run the servers under --cpu-prof, into token-<storage>.cpuprofile there. */
export async function runTokenSuite(opts: BenchOptions, profileDir?: string): Promise<TokenReport[]> {
  const reports: TokenReport[] = [];
  for (const storage of ['sqlite', 'postgres'] as const)
    reports.push(await runOne(storage, opts, profileDir));
  return reports;
}
