// `keyhole migrate`: brings the configured database to the schema this version needs and exits — the
// step a deployment runs before rolling out new replicas (issue #4 "Adapters"). `keyhole serve` runs
// the same migrations at start, so this is for pipelines that want schema changes as their own step.
// PostgreSQL migrations take an advisory lock: replicas and this command can start together safely.

import { parseArgs } from 'node:util';
import { databasePath } from '../app/storage.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import { isStorageUnavailable } from '../storage/errors.ts';
import type { CliIo } from './run.ts';

export const MIGRATE_USAGE = `Usage: keyhole migrate [options]

Migrates the configured database (PostgreSQL when KEYHOLE_DATABASE_URL / storage.databaseUrl is set,
otherwise the SQLite file in the data directory) to the newest schema and prints the versions.
\`keyhole serve\` does the same at start; run this to migrate as a separate deployment step.

Options:
  --config FILE       JSON configuration file
  --data-dir DIR      State directory holding keyhole.db (SQLite)
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;

/** `argv` is what follows `keyhole migrate`. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    io.stderr(`keyhole: ${(err as Error).message}\n\n${MIGRATE_USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout(MIGRATE_USAGE);
    return 0;
  }
  const flags: Record<string, string | undefined> = {};
  if (typeof values.config === 'string') flags.config = values.config;
  if (typeof values['data-dir'] === 'string') flags['data-dir'] = values['data-dir'];
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ flags, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`keyhole: invalid configuration\n${err.issues.map((i) => `  ${i}`).join('\n')}\n`);
    return EXIT_USAGE;
  }
  try {
    if (config.storage.databaseUrl !== undefined) {
      const { migrate } = await import('../storage/postgres/index.ts');
      const { from, to } = await migrate(config.storage.databaseUrl);
      io.stdout(report('PostgreSQL', from, to));
    } else {
      const { ensureDataDir } = await import('../app/data-dir.ts');
      const { createLogger } = await import('../observability/logger.ts');
      const { openSqliteStorage } = await import('../storage/sqlite/index.ts');
      if (config.storage.sqlitePath === undefined) {
        ensureDataDir(config.server.dataDir, createLogger({ level: 'warn', write: io.stderr }));
      }
      const storage = openSqliteStorage(databasePath(config));
      const { from, to } = storage.schema;
      await storage.close();
      io.stdout(report(`SQLite ${databasePath(config)}`, from, to));
    }
    return 0;
  } catch (err) {
    // Unreachable server, or a schema newer than this version: the message names the server only.
    io.stderr(`keyhole: migrate: ${isStorageUnavailable(err) ? err.message : (err as Error).message}\n`);
    return 1;
  }
}

function report(what: string, from: number, to: number): string {
  return from === to
    ? `${what}: schema at version ${to}, nothing to do\n`
    : `${what}: schema migrated from version ${from} to ${to}\n`;
}
