// `keyhole audit tail [-n N] [--follow]`: the security audit trail (one row per security event) as
// JSON lines, oldest first; --follow keeps printing new rows until interrupted, late-committing ones
// included (AuditFollower), and rides out storage outages.

import { parseArgs } from 'node:util';
import {
  type AuditBatch,
  AuditFollower,
  DEFAULT_GAP_WAIT_MS,
  formatIdRanges,
} from '../storage/audit-follow.ts';
import { isStorageUnavailable } from '../storage/errors.ts';
import type { AuditRecord } from '../storage/types.ts';
import { type StorageDeps, withStorage } from './clients.ts';
import type { CliIo } from './run.ts';

export const AUDIT_USAGE = `Usage: keyhole audit tail [-n N] [--follow]

Prints the newest N audit records (default 20) as JSON lines, oldest first: login success and
failure, consent, client registration, tokens issued, refreshed and revoked, refresh-token reuse,
code replay, rate limits. With --follow, keeps printing new records until interrupted: a record
that commits late (after a newer one, on PostgreSQL) is printed when it appears, out of id order;
if the database becomes unreachable meanwhile, it says so on stderr and keeps retrying.

Options:
  -n, --lines N       How many records (default 20)
  -f, --follow        Keep printing new records
  --config FILE       JSON configuration file (finds the database)
  --data-dir DIR      State directory holding keyhole.db
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;
const GAP_WAIT_S = DEFAULT_GAP_WAIT_MS / 1000;

export interface AuditDeps extends StorageDeps {
  /** Ends --follow (default: SIGINT or SIGTERM). */
  signal?: AbortSignal;
  /** --follow polling interval (default 1 s). */
  pollMs?: number;
}

/** `argv` is what follows `keyhole audit`. */
export async function run(argv: readonly string[], io: CliIo, deps: AuditDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(AUDIT_USAGE);
    return 0;
  }
  if (sub !== 'tail')
    return usageError(
      io,
      sub === undefined ? 'audit: missing command (tail)' : `unknown audit command "${sub}"`,
    );
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        lines: { type: 'string', short: 'n' },
        follow: { type: 'boolean', short: 'f' },
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    return usageError(io, (err as Error).message);
  }
  if (values.help) {
    io.stdout(AUDIT_USAGE);
    return 0;
  }
  const lines = values.lines === undefined ? 20 : Number(values.lines);
  if (!Number.isInteger(lines) || lines < 1 || lines > 100_000) {
    return usageError(io, `-n must be an integer 1-100000, got ${JSON.stringify(values.lines)}`);
  }
  return withStorage(values, io, deps, async (storage) => {
    const print = (rows: AuditRecord[]) => {
      for (const r of rows) io.stdout(`${JSON.stringify(line(r))}\n`);
    };
    if (!values.follow) {
      print(await storage.audit.tail(lines));
      return 0;
    }
    // deps.now (tests) is the clock that ages the ids the follower waits for.
    const follower = new AuditFollower(storage.audit, deps.now ? { now: deps.now } : {});
    const report = (batch: AuditBatch) => {
      print(batch.records);
      // Never silent: an id given up on is said so (stderr; stdout stays JSON lines).
      if (batch.gaveUp.length > 0)
        io.stderr(
          `keyhole: audit ids ${formatIdRanges(batch.gaveUp)} never appeared within ${GAP_WAIT_S} s; no longer ` +
            'waiting (an append that failed or rolled back leaves its id unused)\n',
        );
      if (batch.overflow.length > 0)
        io.stderr(
          `keyhole: audit ids ${formatIdRanges(batch.overflow)} missing; no longer waiting ` +
            '(too many missing ids at once)\n',
        );
    };
    report(await follower.start(lines));
    const pollMs = deps.pollMs ?? 1_000;
    const stop = deps.signal ?? interrupted();
    let down = false;
    while (!stop.aborted) {
      await sleep(pollMs, stop);
      if (stop.aborted) break;
      try {
        // Drain everything new, a page at a time.
        for (;;) {
          const batch = await follower.poll();
          report(batch);
          if (!batch.more || stop.aborted) break;
        }
        if (down) io.stderr('keyhole: audit storage answers again; following on\n');
        down = false;
      } catch (err) {
        // An outage: the follower kept its place (and its gaps); the next poll resumes there.
        if (!isStorageUnavailable(err)) throw err;
        if (!down) io.stderr(`keyhole: ${err.message}; retrying every ${pollMs / 1000} s\n`);
        down = true;
      }
    }
    return 0;
  });
}

function line(r: AuditRecord): Record<string, unknown> {
  return { id: r.id, time: new Date(r.time).toISOString(), type: r.type, data: r.data };
}

/** Aborted by the first SIGINT or SIGTERM (then --follow ends with exit code 0). */
function interrupted(): AbortSignal {
  const controller = new AbortController();
  const onSignal = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`keyhole: ${message}\n\n${AUDIT_USAGE}`);
  return EXIT_USAGE;
}
