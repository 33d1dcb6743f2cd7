// Bench settings: CLI flags override environment variables, which override the defaults.

import { parseArgs } from 'node:util';
import { TARGET_IDS, type TargetId } from './targets.ts';

/** The local services of the scale-out suites (the machine's standard ports, trust auth). */
export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * targets: tools/call of the targets below and the idle-session memory check; token: POST /token on
 * SQLite and on PostgreSQL + Redis; replicas: authenticated tools/call across two Keyhole processes
 * sharing PostgreSQL + Redis.
 */
export type SuiteId = 'targets' | 'token' | 'replicas';
export const SUITE_IDS: readonly SuiteId[] = ['targets', 'token', 'replicas'];

export interface BenchOptions {
  suites: SuiteId[];
  targets: TargetId[];
  connections: number[];
  warmupS: number;
  durationS: number;
  /** Measurement rounds over all targets; each row reports its best round. */
  rounds: number;
  /** Idle sessions for the memory measurement; 0 skips it. */
  sessions: number;
  json: string;
  /** Runs the servers under --cpu-prof and summarises the profiles. */
  profile: boolean;
  /** Exit status 1 when a check fails. */
  check: boolean;
  /** Admin URL of the PostgreSQL server the token and replicas suites create their database on. */
  postgresUrl: string;
  /** The Redis server of the token and replicas suites (their keys under a prefix of their own). */
  redisUrl: string;
}

export const USAGE = `usage: node bench/run.ts [options]
  --suite=a,b          ${SUITE_IDS.join(',')} (env BENCH_SUITES; default all):
                         targets   tools/call on the targets below + idle-session memory
                         token     POST /token (code exchange, refresh) on SQLite and PostgreSQL + Redis
                         replicas  authenticated tools/call across two replicas on PostgreSQL + Redis
  --targets=a,b        ${TARGET_IDS.join(',')} (env BENCH_TARGETS; default all)
  --connections=1,10   connection counts; closed-loop workers for token (env BENCH_CONNECTIONS; default 1,10,100)
  --duration=5         measured seconds per run (env BENCH_DURATION)
  --warmup=2           warm-up seconds before each run (env BENCH_WARMUP)
  --rounds=1           rounds over all targets (and the replicas); each row keeps its best (env BENCH_ROUNDS)
  --sessions=500       idle 2025-11-25 sessions for the memory check; 0 skips it (env BENCH_SESSIONS)
  --json=path          results file (default bench/results/latest.json)
  --profile            run the servers with --cpu-prof (all suites); print their top self-time functions
  --check              exit 1 when a check fails
  --postgres=url       PostgreSQL admin URL; token/replicas create and drop a database there
                       (env BENCH_POSTGRES_URL; default ${DEFAULT_POSTGRES_URL})
  --redis=url          Redis; token/replicas use a key prefix of their own and delete its keys
                       (env BENCH_REDIS_URL; default ${DEFAULT_REDIS_URL})
  --help`;

function number(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

function list(raw: string | undefined): string[] | undefined {
  return raw === undefined || raw === ''
    ? undefined
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      suite: { type: 'string' },
      targets: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      sessions: { type: 'string' },
      json: { type: 'string' },
      profile: { type: 'boolean' },
      check: { type: 'boolean' },
      postgres: { type: 'string' },
      redis: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const suites = list(values.suite ?? env.BENCH_SUITES) ?? [...SUITE_IDS];
  for (const s of suites) {
    if (!(SUITE_IDS as readonly string[]).includes(s))
      throw new Error(`unknown suite "${s}" (${SUITE_IDS.join(', ')})`);
  }
  const targets = list(values.targets ?? env.BENCH_TARGETS) ?? [...TARGET_IDS];
  for (const t of targets) {
    if (!(TARGET_IDS as readonly string[]).includes(t))
      throw new Error(`unknown target "${t}" (${TARGET_IDS.join(', ')})`);
  }
  const connections = (list(values.connections ?? env.BENCH_CONNECTIONS) ?? ['1', '10', '100']).map((c) =>
    number('connections', c, 1, 1),
  );
  return {
    suites: SUITE_IDS.filter((s) => suites.includes(s)),
    targets: targets as TargetId[],
    connections: connections.map(Math.floor),
    durationS: number('duration', values.duration ?? env.BENCH_DURATION, 5, 1),
    warmupS: number('warmup', values.warmup ?? env.BENCH_WARMUP, 2, 0),
    rounds: Math.floor(number('rounds', values.rounds ?? env.BENCH_ROUNDS, 1, 1)),
    sessions: Math.floor(number('sessions', values.sessions ?? env.BENCH_SESSIONS, 500, 0)),
    json: values.json ?? 'bench/results/latest.json',
    profile: values.profile ?? false,
    check: values.check ?? false,
    postgresUrl: values.postgres ?? env.BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL,
    redisUrl: values.redis ?? env.BENCH_REDIS_URL ?? DEFAULT_REDIS_URL,
  };
}
