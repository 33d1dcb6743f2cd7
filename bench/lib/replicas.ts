// The replicas suite: two Keyhole processes (keyhole-oauth-server.ts) on different ports, one
// deployment — the same PostgreSQL database, the same Redis key prefix, the same KEYHOLE_KEY_SECRET (so
// both use the signing key stored in the shared keys table) and the same public URL (so both have one
// issuer and one resource identifier, RFC 8707 / RFC 9728, as replicas behind a load balancer have).
// The runner plays the load balancer: autocannon against both at once, the connections split evenly.
//
// The load token comes from the real endpoints, spread over the replicas: a code minted on B is
// exchanged at A's /token, and the refresh token that returns is refreshed at B's /token. Before the
// load the token must serve tools/call on both replicas (and no token must get 401 on both); after it,
// the token is revoked at A's /revoke and the suite times how long B keeps accepting it (issue #4
// "Replicas": within one second).

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { expectRefusal } from './auth.ts';
import { ECHO_SCOPE } from './auth-protocol.ts';
import { cpuProfileArgs, type ServerProcess, startServer } from './child.ts';
import { type LoadResult, measureSplit } from './load.ts';
import {
  type AuthServerInfo,
  checkTokenResponse,
  codeExchangeBody,
  mintCodes,
  postForm,
  refreshBody,
  registerPublicClient,
  serverInfo,
} from './oauth-client.ts';
import type { BenchOptions } from './options.ts';
import { openServices, type ScaleOutServices } from './services.ts';
import { type LoadRequest, MODERN_VERSION, modernRequest, verify } from './targets.ts';
import { OAUTH_BENCH_ENV, OAUTH_SCRIPT, scaleOutEnv } from './token.ts';

/** The replicas, in start order: A migrates the database and creates the signing key. */
export const REPLICA_NAMES = ['a', 'b'] as const;
/** How long the suite waits for the other replica to refuse a revoked token before calling it a miss. */
const REVOCATION_WAIT_MS = 5000;

export interface ReplicaReport {
  description: string;
  checks: string[];
  error?: string;
  results: LoadResult[];
  /**
   * Milliseconds from the revocation answer of replica A to the first refusal by replica B; null when
   * B still accepted the token after REVOCATION_WAIT_MS; undefined when not measured.
   */
  revocationMs?: number | null;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A port nothing listens on, for the public URL: the load balancer's address, which the runner plays. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function token(url: string, body: string, what: string) {
  const res = await postForm(url, body);
  const tokens = checkTokenResponse(res.status, res.text, ECHO_SCOPE);
  if (typeof tokens === 'string') throw new Error(`${what}: ${tokens}`);
  return tokens;
}

/** Polls `url` with the revoked token until it is refused with invalid_token; ms taken, or null. */
async function timeRefusal(url: string, request: LoadRequest): Promise<number | null> {
  const start = performance.now();
  while (performance.now() - start < REVOCATION_WAIT_MS) {
    const res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
    await res.arrayBuffer();
    if (res.status === 401 && (res.headers.get('www-authenticate') ?? '').includes('error="invalid_token"'))
      return performance.now() - start;
    if (res.status !== 200) throw new Error(`after the revocation: HTTP ${res.status}, expected 200 or 401`);
    await sleep(10);
  }
  return null;
}

/** `profileDir`: run the replicas under --cpu-prof, into replica-<a|b>.cpuprofile there. */
export async function runReplicaSuite(opts: BenchOptions, profileDir?: string): Promise<ReplicaReport> {
  const report: ReplicaReport = {
    description: `Keyhole × ${REPLICA_NAMES.length} replicas on PostgreSQL + Redis, ${MODERN_VERSION} stateless, bearer token`,
    checks: [],
    results: [],
  };
  let services: ScaleOutServices | undefined;
  const servers: ServerProcess[] = [];
  try {
    services = await openServices(opts.postgresUrl, opts.redisUrl);
    const env = {
      ...OAUTH_BENCH_ENV,
      ...scaleOutEnv(services),
      KEYHOLE_PUBLIC_URL: `http://127.0.0.1:${await freePort()}`,
      KEYHOLE_KEY_SECRET: randomBytes(32).toString('base64url'),
      KEYHOLE_STATE_SECRET: randomBytes(32).toString('base64url'),
    };
    // One after the other: the first migrates the database and creates the signing key, the next
    // finds both, as a rolling start does.
    for (const name of REPLICA_NAMES) {
      servers.push(
        await startServer(OAUTH_SCRIPT, {
          env,
          execArgv: cpuProfileArgs(profileDir, `replica-${name}`),
          timeoutMs: 30_000,
        }),
      );
    }
    const infos: AuthServerInfo[] = await Promise.all(servers.map(serverInfo));
    const [a, b] = infos as [AuthServerInfo, AuthServerInfo];
    if (a.resource !== b.resource || a.issuer !== b.issuer)
      throw new Error(`the replicas disagree: ${a.resource} vs ${b.resource}`);
    const clientId = await registerPublicClient(a.origin);
    const [minted] = await mintCodes(servers[1]!, clientId, 1);
    const first = await token(
      `${a.origin}/token`,
      codeExchangeBody(clientId, a.resource, minted!),
      'code from B at A',
    );
    const { accessToken } = await token(
      `${b.origin}/token`,
      refreshBody(clientId, first.refreshToken),
      'refresh of A at B',
    );
    const base = modernRequest();
    const request: LoadRequest = {
      headers: { ...base.headers, authorization: `Bearer ${accessToken}` },
      body: base.body,
    };
    report.checks.push('code minted on B exchanged at A, refreshed at B: 200 token responses');
    for (const [i, s] of servers.entries()) {
      const name = String.fromCharCode(65 + i);
      report.checks.push(
        `replica ${name}: the token serves tools/call (${await verify(s.url, request, 'modern')})`,
      );
      const { authorization: _, ...anonymous } = request.headers;
      report.checks.push(
        `replica ${name}: ${await expectRefusal('no token', s.url, anonymous, request.body, 401)}`,
      );
    }
    log(`  replicas: ${servers.map((s) => s.url).join(', ')} verified (${report.checks.join('; ')})`);

    const cpuTimeMs = () => {
      let sum = 0;
      for (const s of servers) {
        const t = s.cpuTimeMs();
        if (t === undefined) return undefined;
        sum += t;
      }
      return sum;
    };
    const urls = servers.map((s) => s.url);
    for (let round = 1; round <= opts.rounds; round++) {
      for (const c of opts.connections) {
        const r = await measureSplit(urls, request, c, opts.warmupS, opts.durationS, cpuTimeMs);
        const best = report.results.findIndex((x) => x.connections === r.connections);
        if (best === -1) report.results.push(r);
        else if (r.rps > report.results[best]!.rps) report.results[best] = r;
        log(
          `  replicas @${r.connections}${opts.rounds > 1 ? ` round ${round}` : ''}: ${Math.round(r.rps)} req/s, ` +
            `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors, ${r.non2xx} non-2xx, ` +
            `server CPU ${r.cpuUsPerRequest?.toFixed(1) ?? 'n/a'} µs/req (both replicas)`,
        );
      }
    }

    const after: string[] = [];
    for (const s of servers) await verify(s.url, request, 'modern');
    after.push('the token still serves tools/call on both replicas');
    // RFC 7009 §2.1: the public client revokes its access token at replica A.
    const revoked = await postForm(
      `${a.origin}/revoke`,
      new URLSearchParams({ token: accessToken, client_id: clientId }).toString(),
    );
    if (revoked.status !== 200) throw new Error(`revocation at A: HTTP ${revoked.status}: ${revoked.text}`);
    report.revocationMs = await timeRefusal(servers[1]!.url, request);
    after.push(
      report.revocationMs === null
        ? `revoked at A: replica B still served it after ${REVOCATION_WAIT_MS} ms`
        : `revoked at A: replica B refused it (401 invalid_token) after ${Math.round(report.revocationMs)} ms`,
    );
    after.push(
      `replica A: ${await expectRefusal('revoked token', servers[0]!.url, request.headers, request.body, 401, 'invalid_token')}`,
    );
    report.checks.push(...after);
    log(`  replicas: after load: ${after.join('; ')}`);
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    log(`  replicas: FAILED: ${report.error}\n${servers.map((s) => s.stderr().trim()).join('\n')}`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await services?.dispose().catch((err: unknown) => log(`  replicas: cleanup: ${String(err)}`));
  }
  return report;
}
