// `keyhole users add|list|remove|passwd|disable|enable`: the local accounts people sign in with on the
// authorization server's login page. Passwords come from standard input (never argv, which other local
// users can read in the process list), hidden and asked twice on a terminal, else the first line of a
// pipe.

import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  createUser,
  deleteUser,
  disableUser,
  enableUser,
  ensureDevUser,
  MAX_PASSWORD_LENGTH,
  passwordProblem,
  setUserPassword,
  UserError,
  usernameProblem,
} from '../authserver/users.ts';
import { DEFAULTS } from '../config/defaults.ts';
import { loadConfig } from '../config/load.ts';
import { EventBus, type SecurityEvent } from '../observability/events.ts';
import type { Storage, UserRecord } from '../storage/types.ts';
import { type StorageDeps, withStorage } from './clients.ts';
import type { CliIo } from './run.ts';

export { ensureDevUser };

export const USERS_USAGE = `Usage: keyhole users <add|list|remove|passwd|disable|enable> [options]

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
  keyhole users disable NAME
      Stops the user from signing in and getting tokens, and revokes every grant issued to them:
      refresh tokens and sign-in sessions stop working at once; access tokens are refused by every
      running server within a second with PostgreSQL or Redis (with SQLite, at the server's next
      revocation sync, 30 s). Disabling a disabled user changes nothing.
  keyhole users enable NAME
      Lets a disabled user sign in again. Grants revoked by disable stay revoked: the user signs in
      and consents again to get new tokens.

Options:
  --config FILE       JSON configuration file (finds the database)
  --data-dir DIR      State directory holding keyhole.db
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;
/** Seconds beyond the access-token lifetime a revocation is kept (the guard's clock-skew leeway). */
const SKEW_MARGIN_SEC = 120;
const COMMANDS = ['add', 'list', 'remove', 'passwd', 'disable', 'enable'] as const;
type Command = (typeof COMMANDS)[number];

function isCommand(sub: string | undefined): sub is Command {
  return (COMMANDS as readonly (string | undefined)[]).includes(sub);
}

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
  if (!isCommand(sub)) {
    return usageError(
      io,
      sub === undefined
        ? `users: missing command (${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)})`
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
          const at = now();
          const { user, grantsRevoked } = await audited(storage, (events) =>
            deleteUser(storage, name, {
              revocationTtlSec: revocationTtl(values, io, deps),
              events,
              now: () => at,
            }),
          );
          io.stdout(
            `Removed user ${user.username}${grantsRevoked > 0 ? ` and revoked ${grantsRevoked} grant(s)` : ''}\n`,
          );
          return 0;
        }
        case 'disable': {
          const at = now();
          const { user, changed, grantsRevoked } = await audited(storage, (events) =>
            disableUser(storage, name, {
              revocationTtlSec: revocationTtl(values, io, deps),
              events,
              now: () => at,
            }),
          );
          const revoked = `revoked ${grantsRevoked} grant(s)`;
          if (changed)
            io.stdout(`Disabled user ${user.username}${grantsRevoked > 0 ? ` and ${revoked}` : ''}\n`);
          else
            io.stdout(
              `User ${user.username} was already disabled${grantsRevoked > 0 ? `; ${revoked} still live` : ''}\n`,
            );
          return 0;
        }
        case 'enable': {
          const at = now();
          const { user, changed } = await audited(storage, (events) =>
            enableUser(storage, name, { events, now: () => at }),
          );
          io.stdout(
            changed
              ? `Enabled user ${user.username}; grants revoked while disabled stay revoked (they sign in again)\n`
              : `User ${user.username} was not disabled\n`,
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

/**
 * Runs `action` with an event bus and writes what it emitted to the audit table: the server is not
 * running here, so its audit subscriber is not either (the rows have the same shape as its). Events
 * of an action that failed half-way are written too: the audit trail shows what did happen.
 */
async function audited<T>(storage: Storage, action: (events: EventBus) => Promise<T>): Promise<T> {
  const events = new EventBus();
  const emitted: SecurityEvent[] = [];
  events.on((event) => emitted.push(event));
  try {
    return await action(events);
  } finally {
    for (const e of emitted) {
      await storage.audit.append(e.type, e.data as unknown as Record<string, unknown>, e.time);
    }
  }
}

/** How long a grant revocation is kept: the access-token lifetime `keyhole serve` uses, plus leeway. */
function revocationTtl(values: Values, io: CliIo, deps: StorageDeps): number {
  const ttl = deps.storage === undefined ? configuredTokenTtl(values, io) : DEFAULTS.auth.accessTokenTtlSec;
  return ttl + SKEW_MARGIN_SEC;
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
