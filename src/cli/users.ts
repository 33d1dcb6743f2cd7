// `keyhole users add|list|remove|passwd`: the local accounts people sign in with on the authorization
// server's login page. Passwords come from standard input (never argv, which other local users can
// read in the process list), hidden and asked twice on a terminal, else the first line of a pipe.

import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  createUser,
  deleteUser,
  ensureDevUser,
  MAX_PASSWORD_LENGTH,
  passwordProblem,
  setUserPassword,
  UserError,
  usernameProblem,
} from '../authserver/users.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { loadConfig } from '../config/load.ts';
import type { Storage, UserRecord } from '../storage/types.ts';
import { type StorageDeps, withStorage } from './clients.ts';
import type { CliIo } from './run.ts';

export { ensureDevUser };

export const USERS_USAGE = `Usage: keyhole users <add|list|remove|passwd> [options]

  keyhole users add NAME
      Creates a user. The password is read from standard input: asked twice (not echoed) on a
      terminal, otherwise the first line, e.g.  printf '%s\\n' "$PASSWORD" | keyhole users add alice
      At least 8 characters.
  keyhole users list [--json]
      Lists the users.
  keyhole users remove NAME
      Deletes the user and revokes every grant (refresh and access tokens) issued to them.
  keyhole users passwd NAME
      Sets a new password (read like add). Ends the user's sign-in sessions.

Options:
  --config FILE       JSON configuration file (finds the database)
  --data-dir DIR      State directory holding keyhole.db
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;
/** Seconds beyond the access-token lifetime a revocation is kept (the guard's clock-skew leeway). */
const SKEW_MARGIN_SEC = 120;

/** Standard input as the command sees it: a stream, and on a terminal the raw-mode switch. */
export type PasswordInput = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export interface UsersDeps extends StorageDeps {
  /** Where passwords are read from (default process.stdin). */
  stdin?: PasswordInput;
}

type Values = Record<string, string | boolean | undefined>;

/** `argv` is what follows `keyhole users`. */
export async function run(argv: readonly string[], io: CliIo, deps: UsersDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(USERS_USAGE);
    return 0;
  }
  if (sub !== 'add' && sub !== 'list' && sub !== 'remove' && sub !== 'passwd') {
    return usageError(
      io,
      sub === undefined
        ? 'users: missing command (add, list, remove or passwd)'
        : `unknown users command "${sub}"`,
    );
  }
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...(sub === 'list' ? { json: { type: 'boolean' } } : {}),
      },
      strict: true,
      allowPositionals: sub !== 'list',
    }) as { values: Values; positionals: string[] });
  } catch (err) {
    return usageError(io, (err as Error).message);
  }
  if (values.help) {
    io.stdout(USERS_USAGE);
    return 0;
  }
  const expected = sub === 'list' ? 0 : 1;
  if (positionals.length !== expected) {
    return usageError(io, `users ${sub}: expected ${expected === 0 ? 'no arguments' : 'a user name'}`);
  }
  const name = positionals[0] ?? '';
  if (sub !== 'list') {
    const problem = usernameProblem(name);
    if (problem) return usageError(io, `users ${sub}: ${problem}`);
  }
  const now = deps.now ?? Date.now;

  // The password is read before the database is opened: a typo at the prompt leaves nothing half-done.
  let password: string | undefined;
  if (sub === 'add' || sub === 'passwd') {
    const read = await readNewPassword(deps.stdin ?? process.stdin, io, name);
    if (!read.ok) {
      io.stderr(`keyhole: ${read.message}\n`);
      return 1;
    }
    password = read.password;
  }

  return withStorage(values, io, deps, async (storage) => {
    try {
      switch (sub) {
        case 'add': {
          const user = await createUser(storage, name, password!, { now });
          // The server is not running here, so the audit row is written directly (same shape as the event).
          await storage.audit.append(
            'user.created',
            { userId: user.id, username: user.username },
            user.createdAt,
          );
          io.stdout(`Created user ${user.username}\n`);
          return 0;
        }
        case 'passwd':
          await setUserPassword(storage, name, password!);
          io.stdout(`Password of ${name} changed; their sign-in sessions have ended.\n`);
          return 0;
        case 'remove': {
          const ttl =
            deps.storage === undefined ? configuredTokenTtl(values, io) : DEFAULTS.auth.accessTokenTtlSec;
          const at = now();
          const { user, grantsRevoked } = await deleteUser(storage, name, {
            revocationTtlSec: ttl + SKEW_MARGIN_SEC,
            now: () => at,
          });
          await storage.audit.append('user.deleted', { userId: user.id }, at);
          io.stdout(
            `Removed user ${user.username}${grantsRevoked > 0 ? ` and revoked ${grantsRevoked} grant(s)` : ''}\n`,
          );
          return 0;
        }
        case 'list':
          return list(storage, values, io);
      }
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      io.stderr(`keyhole: ${err.message}\n`);
      return 1;
    }
  });
}

async function list(storage: Storage, values: Values, io: CliIo): Promise<number> {
  const users = await storage.users.list();
  if (values.json) {
    for (const u of users) io.stdout(`${JSON.stringify(describe(u))}\n`);
    return 0;
  }
  if (users.length === 0) {
    io.stdout('No users. Add one with: keyhole users add NAME\n');
    return 0;
  }
  const width = Math.max(...users.map((u) => u.username.length));
  for (const u of users) {
    const created = new Date(u.createdAt).toISOString();
    io.stdout(`${u.username.padEnd(width)}  ${u.id}  ${created}${u.disabled ? '  disabled' : ''}\n`);
  }
  return 0;
}

/** A user as `list --json` shows it: never the password hash. */
function describe(u: UserRecord): Record<string, unknown> {
  return {
    id: u.id,
    username: u.username,
    created_at: new Date(u.createdAt).toISOString(),
    disabled: u.disabled === true,
  };
}

/** The access-token lifetime of the configuration `keyhole serve` would use. */
function configuredTokenTtl(values: Values, io: CliIo): number {
  const flags: Record<string, string> = {};
  if (typeof values.config === 'string') flags.config = values.config;
  if (typeof values['data-dir'] === 'string') flags['data-dir'] = values['data-dir'];
  // Already validated by withStorage, which loaded the same sources.
  return loadConfig({ flags, env: io.env, cwd: io.cwd }).auth.accessTokenTtlSec;
}

type PasswordRead = { ok: true; password: string } | { ok: false; message: string };

async function readNewPassword(stdin: PasswordInput, io: CliIo, name: string): Promise<PasswordRead> {
  let password: string;
  if (stdin.isTTY && typeof stdin.setRawMode === 'function') {
    const first = await readHidden(stdin, io, `Password for ${name}: `);
    if (first === undefined) return { ok: false, message: 'interrupted' };
    const second = await readHidden(stdin, io, 'Repeat the password: ');
    if (second === undefined) return { ok: false, message: 'interrupted' };
    if (first !== second) return { ok: false, message: 'the passwords do not match' };
    password = first;
  } else {
    const line = await readFirstLine(stdin);
    if (line === undefined)
      return { ok: false, message: 'no password on standard input (pipe it, or run on a terminal)' };
    password = line;
  }
  if (password === '') return { ok: false, message: 'the password is empty' };
  const problem = passwordProblem(password);
  return problem ? { ok: false, message: problem } : { ok: true, password };
}

/** The first line of a piped stdin (without its line ending); undefined when stdin is empty. */
async function readFirstLine(stdin: Readable): Promise<string | undefined> {
  let text = '';
  // A password line is short; stop reading once past any acceptable length.
  const limit = MAX_PASSWORD_LENGTH * 4 + 2;
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    if (text.includes('\n') || text.length > limit) break;
  }
  if (text === '') return undefined;
  const end = text.indexOf('\n');
  const line = end < 0 ? text : text.slice(0, end);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Reads one line from a terminal in raw mode without echoing it; undefined on Ctrl-C. */
function readHidden(stdin: PasswordInput, io: CliIo, prompt: string): Promise<string | undefined> {
  io.stderr(prompt);
  return new Promise((resolve) => {
    let chars: string[] = [];
    const finish = (value: string | undefined) => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr('\n');
      resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(chars.join(''));
        if (ch === '\u0003') return finish(undefined);
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch >= ' ') chars.push(ch);
      }
    };
    stdin.setRawMode?.(true);
    stdin.on('data', onData);
    stdin.resume();
  });
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`keyhole: ${message}\n\n${USERS_USAGE}`);
  return EXIT_USAGE;
}
