// `keyhole audit tail [-n N] [--follow]`: the security audit trail (one row per security event) as
// JSON lines, oldest first; --follow keeps printing new rows until interrupted.

import { parseArgs } from 'node:util';
import type { AuditRecord } from '../storage/types.ts';
import { type StorageDeps, withStorage } from './clients.ts';
import type { CliIo } from './run.ts';

export const AUDIT_USAGE = `Usage: keyhole audit tail [-n N] [--follow]

Prints the newest N audit records (default 20) as JSON lines, oldest first: login success and
failure, consent, client registration, tokens issued, refreshed and revoked, refresh-token reuse,
code replay, rate limits. With --follow, keeps printing new records until interrupted.

Options:
  -n, --lines N       How many records (default 20)
  -f, --follow        Keep printing new records
  --config FILE       JSON configuration file (finds the database)
  --data-dir DIR      State directory holding keyhole.db
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;
const PAGE = 500;

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
    const first = await storage.audit.tail(lines);
    print(first);
    if (!values.follow) return 0;
    let last = first.at(-1)?.id ?? 0;
    const stop = deps.signal ?? interrupted();
    while (!stop.aborted) {
      await sleep(deps.pollMs ?? 1_000, stop);
      // Drain everything new, a page at a time.
      for (;;) {
        const rows = await storage.audit.tail(PAGE, last);
        if (rows.length === 0) break;
        print(rows);
        last = rows.at(-1)!.id;
        if (rows.length < PAGE) break;
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
