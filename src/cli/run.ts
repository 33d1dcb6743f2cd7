// The `keyhole` command line: argument parsing and dispatch to a command. Exit codes: 0 success,
// 1 runtime failure, 2 bad usage or invalid configuration.

import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { KeyholeConfig } from '../config/types.ts';
import { MAIN_USAGE, SERVE_USAGE, STDIO_USAGE } from './usage.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  app: { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const COMMANDS = {
  serve: {
    usage: SERVE_USAGE,
    options: {
      ...COMMON,
      port: { type: 'string' },
      host: { type: 'string' },
      'public-url': { type: 'string' },
      'data-dir': { type: 'string' },
      auth: { type: 'string' },
      dev: { type: 'boolean' },
    } satisfies Options,
    // Loaded on use: `keyhole stdio` never loads the HTTP stack, `--help` loads neither.
    load: async (): Promise<CommandRunner> => (await import('./serve.ts')).serve,
  },
  stdio: {
    usage: STDIO_USAGE,
    options: COMMON,
    load: async (): Promise<CommandRunner> => (await import('./stdio.ts')).stdio,
  },
} as const;

/**
 * Administration commands: each parses its own arguments (`keyhole <name> <subcommand> ...`) and works
 * on the storage of the configuration `keyhole serve` would use. Loaded on use.
 */
const ADMIN_COMMANDS: Record<string, () => Promise<AdminRunner>> = {
  users: async () => (await import('./users.ts')).run,
  clients: async () => (await import('./clients.ts')).run,
  keys: async () => (await import('./keys.ts')).run,
  audit: async () => (await import('./audit.ts')).run,
  migrate: async () => (await import('./migrate.ts')).run,
};

export type AdminRunner = (argv: readonly string[], io: CliIo) => Promise<number>;

export type CommandRunner = (config: KeyholeConfig, warnings: string[], io: CliIo) => Promise<number>;

export const EXIT_USAGE = 2;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs one invocation; resolves with the process exit code once the command has finished. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const first = argv[0];
  if (first === '--version' || first === '-v') {
    io.stdout(`keyhole ${version()}\n`);
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.stdout(MAIN_USAGE);
    return 0;
  }
  const named = first !== undefined && !first.startsWith('-');
  const name = named ? first : 'serve';
  if (Object.hasOwn(ADMIN_COMMANDS, name)) {
    return (await ADMIN_COMMANDS[name]!())(argv.slice(1), io);
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    return usageError(io, `unknown command "${name}"`, MAIN_USAGE);
  }
  const command = COMMANDS[name as keyof typeof COMMANDS];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: named ? argv.slice(1) : [...argv],
      options: command.options,
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (err) {
    return usageError(io, (err as Error).message, command.usage);
  }
  if (values.help) {
    io.stdout(command.usage);
    return 0;
  }
  const warnings: string[] = [];
  let config: KeyholeConfig;
  try {
    config = loadConfig({ flags: values, env: io.env, cwd: io.cwd }, { onWarning: (w) => warnings.push(w) });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`keyhole: invalid configuration\n${err.issues.map((i) => `  ${i}`).join('\n')}\n`);
    return EXIT_USAGE;
  }
  return (await command.load())(config, warnings, io);
}

function usageError(io: CliIo, message: string, usage: string): number {
  io.stderr(`keyhole: ${message}\n\n${usage}`);
  return EXIT_USAGE;
}
