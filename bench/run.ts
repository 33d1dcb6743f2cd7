// `npm run bench`: tools/call throughput and latency of Keyhole (2026-07-28 stateless and
// 2025-11-25 sessions) against a bare node:http floor and the official SDK v2, plus the memory of
// idle legacy sessions (suite `targets`); POST /token throughput on SQLite and on PostgreSQL + Redis
// (suite `token`); authenticated tools/call across two replicas sharing PostgreSQL + Redis (suite
// `replicas`). Progress goes to stderr; the Markdown report to stdout; JSON to a file.
//
// All servers start first; then, per connection count, the targets are measured one after another,
// so that a ratio compares runs minutes apart at most seconds apart (a busy machine slows all of
// them alike). With --rounds=N the whole matrix runs N times and each row keeps its best round.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { cpuProfileArgs, type ServerProcess, startServer } from './lib/child.ts';
import { type LoadResult, measure } from './lib/load.ts';
import { type MemoryResult, measureIdleSessions } from './lib/memory.ts';
import { type BenchOptions, parseOptions, USAGE } from './lib/options.ts';
import { formatSummary, summariseFile } from './lib/profile.ts';
import { REPLICA_NAMES, type ReplicaReport, runReplicaSuite } from './lib/replicas.ts';
import { evaluate, markdown, type TargetReport } from './lib/report.ts';
import { where } from './lib/services.ts';
import { type LoadRequest, TARGETS, verify } from './lib/targets.ts';
import { runTokenSuite, type TokenReport } from './lib/token.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Live {
  report: TargetReport;
  server?: ServerProcess;
  request?: LoadRequest;
}

async function start(live: Live, profileDir: string | undefined): Promise<void> {
  const { id } = live.report;
  try {
    live.server = await startServer(TARGETS[id].script, { execArgv: cpuProfileArgs(profileDir, id) });
    const target = TARGETS[id];
    live.request = await target.prepare(live.server);
    // A benchmark of an erroring server is worthless: the echo must come back before and after.
    live.report.verified = await verify(live.server.url, live.request, target.era);
    if (target.checkBefore) live.report.checks = [await target.checkBefore(live.server, live.request)];
    log(
      `  ${id}: ${live.server.url} verified (${[live.report.verified, ...(live.report.checks ?? [])].join('; ')})`,
    );
  } catch (err) {
    fail(live, err);
  }
}

function fail(live: Live, err: unknown): void {
  live.report.error = message(err);
  log(`  ${live.report.id}: FAILED: ${live.report.error}\n${live.server?.stderr().trim() ?? ''}`);
}

async function loadAll(lives: Live[], opts: BenchOptions): Promise<void> {
  const rounds = new Map<Live, LoadResult[]>(lives.map((l) => [l, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const c of opts.connections) {
      for (const live of lives) {
        if (live.report.error || !live.server || !live.request) continue;
        try {
          const r = await measure(
            live.server.url,
            live.request,
            c,
            opts.warmupS,
            opts.durationS,
            live.server.cpuTimeMs,
          );
          rounds.get(live)!.push(r);
          log(
            `  ${live.report.id} @${c}${opts.rounds > 1 ? ` round ${round}` : ''}: ${Math.round(r.rps)} req/s, ` +
              `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors, ${r.non2xx} non-2xx, ` +
              `server CPU ${r.cpuUsPerRequest?.toFixed(1) ?? 'n/a'} µs/req`,
          );
        } catch (err) {
          fail(live, err);
        }
      }
    }
  }
  for (const [live, results] of rounds) {
    for (const c of opts.connections) {
      const best = results.filter((r) => r.connections === c).sort((a, b) => b.rps - a.rps)[0];
      if (best) live.report.results.push(best);
    }
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cpuList = cpus();
  const loadBefore = loadavg()[0]!;
  const jsonPath = resolve(opts.json);
  const profileDir = opts.profile ? join(dirname(jsonPath), 'profiles') : undefined;
  if (profileDir) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const withTargets = opts.suites.includes('targets');
  log(
    `bench: ${opts.suites.map((s) => (s === 'targets' ? `targets (${opts.targets.join(', ')})` : s)).join(', ')} ` +
      `@ ${opts.connections.join('/')} connections, ` +
      `${opts.warmupS} s + ${opts.durationS} s${opts.rounds > 1 ? `, ${opts.rounds} rounds` : ''}`,
  );

  const lives: Live[] = (withTargets ? opts.targets : []).map((id) => ({
    report: { id, description: TARGETS[id].description, results: [] },
  }));
  try {
    for (const live of lives) await start(live, profileDir);
    await loadAll(lives, opts);
    for (const live of lives) {
      if (live.report.error || !live.server || !live.request) continue;
      const target = TARGETS[live.report.id];
      try {
        await verify(live.server.url, live.request, target.era);
        if (target.checkAfter) {
          const found = await target.checkAfter(live.server, live.request);
          live.report.checks = [...(live.report.checks ?? []), found];
          log(`  ${live.report.id}: after load: ${found}`);
        }
      } catch (err) {
        fail(live, `after load: ${message(err)}`);
      }
    }
  } finally {
    await Promise.all(lives.map((l) => l.server?.stop()));
  }

  let memory: MemoryResult | { error: string } | undefined;
  if (withTargets && opts.sessions > 0 && opts.targets.some((t) => t.startsWith('keyhole'))) {
    log(`  memory: ${opts.sessions} idle 2025-11-25 sessions with a GET stream`);
    try {
      memory = await measureIdleSessions(TARGETS['keyhole-legacy'].script, opts.sessions);
      log(
        `  memory: ${(memory.heapPerSession / 1024).toFixed(1)} KB heap+external, ` +
          `${(memory.rssPerSession / 1024).toFixed(1)} KB rss per session (${memory.openStreams} streams open)`,
      );
    } catch (err) {
      memory = { error: message(err) };
      log(`  memory: FAILED: ${memory.error}`);
    }
  }

  // Right after the targets, so the two replicas compare with the single process at most minutes apart.
  let replicas: ReplicaReport | undefined;
  if (opts.suites.includes('replicas')) {
    log(`  replicas: two Keyhole processes on PostgreSQL + Redis`);
    replicas = await runReplicaSuite(opts, profileDir);
  }
  let token: TokenReport[] | undefined;
  if (opts.suites.includes('token')) {
    log(`  token: POST /token, code exchange and refresh, on SQLite and on PostgreSQL + Redis`);
    token = await runTokenSuite(opts, profileDir);
  }

  const env = {
    node: process.version,
    cpu: `${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown CPU'}`,
    warmupS: opts.warmupS,
    durationS: opts.durationS,
    rounds: opts.rounds,
    loadBefore,
    loadAfter: loadavg()[0]!,
  };
  const reports = lives.map((l) => l.report);
  const scaleOut = { token, replicas };
  const checks = evaluate(reports, memory, scaleOut);
  process.stdout.write(`${markdown(env, reports, memory, checks, scaleOut)}\n`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ date: new Date().toISOString(), env, options: { ...opts, postgresUrl: where(opts.postgresUrl), redisUrl: where(opts.redisUrl) }, targets: reports, memory, token, replicas, checks }, null, 2)}\n`,
  );
  log(`results written to ${jsonPath}`);

  if (profileDir) {
    // Every target, so Keyhole's profile reads against the floor's.
    const names = [
      ...reports.map((r) => r.id),
      ...(replicas ? REPLICA_NAMES.map((n) => `replica-${n}`) : []),
      ...(token ?? []).map((t) => `token-${t.storage}`),
    ];
    for (const name of names) {
      const file = join(profileDir, `${name}.cpuprofile`);
      try {
        process.stdout.write(`\n${formatSummary(`${name} CPU profile (${file})`, summariseFile(file))}\n`);
      } catch (err) {
        log(`  profile ${file}: ${message(err)}`);
      }
    }
  }
  return opts.check && checks.some((c) => c.pass === false) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`bench: ${message(err)}`);
    process.exit(2);
  },
);
