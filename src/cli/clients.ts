// `keyhole clients add|list|remove`: pre-registered OAuth clients (MCP 2026-07-28 client-registration
// "Pre-registration"), kept in the server's storage. A confidential client's secret is printed once and
// stored only as a hash.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { openConfiguredStorage } from '../app/storage.ts';
import { metadataOf, REGISTRATION_RULES, validateClientMetadata } from '../authserver/clients/metadata.ts';
import { hashSecret, newClientId, randomSecret } from '../authserver/secrets.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import { createLogger } from '../observability/logger.ts';
import { isStorageUnavailable } from '../storage/errors.ts';
import type { ClientRecord, Storage } from '../storage/types.ts';
import type { CliIo } from './run.ts';

export const CLIENTS_USAGE = `Usage: keyhole clients <add|list|remove> [options]

  keyhole clients add --name NAME --redirect-uri URI [--redirect-uri URI2 ...]
                      [--confidential] [--grant-type TYPE ...] [--scope "a b"] [--json]
      Registers a client and prints its client_id (and, for --confidential, its client_secret:
      shown only now, stored only as a hash). Grant types: authorization_code, refresh_token,
      client_credentials (default: authorization_code and refresh_token).
  keyhole clients list [--json]
      Lists the registered clients (dynamic and added here).
  keyhole clients remove CLIENT_ID
      Deletes a client and the consents given to it.

Options:
  --config FILE       JSON configuration file (finds the database)
  --data-dir DIR      State directory holding keyhole.db
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig['options']>;
const STORAGE_OPTIONS: Options = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export interface StorageDeps {
  /** Use this storage instead of the configured one (tests); it is not closed. */
  storage?: Storage;
  now?: () => number;
}

/** `argv` is what follows `keyhole clients`. */
export async function run(argv: readonly string[], io: CliIo, deps: StorageDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) return usageError(io, 'clients: missing command (add, list or remove)');
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(CLIENTS_USAGE);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, sub) ? COMMANDS[sub as keyof typeof COMMANDS] : undefined;
  if (command === undefined) return usageError(io, `unknown clients command "${sub}"`);
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...STORAGE_OPTIONS, ...command.options },
      strict: true,
      allowPositionals: command.positionals > 0,
    }) as typeof parsed;
  } catch (err) {
    return usageError(io, (err as Error).message);
  }
  if (parsed.values.help) {
    io.stdout(CLIENTS_USAGE);
    return 0;
  }
  if (parsed.positionals.length !== command.positionals) {
    return usageError(io, `clients ${sub}: expected ${command.positionals || 'no'} argument(s)`);
  }
  return withStorage(parsed.values, io, deps, (storage) =>
    command.run(storage, parsed.values, parsed.positionals, io, deps.now ?? Date.now),
  );
}

type Values = Record<string, string | boolean | string[] | undefined>;
type Command = {
  options: Options;
  positionals: number;
  run: (
    storage: Storage,
    values: Values,
    positionals: string[],
    io: CliIo,
    now: () => number,
  ) => Promise<number>;
};

const COMMANDS: Record<'add' | 'list' | 'remove', Command> = {
  add: {
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      confidential: { type: 'boolean' },
      'grant-type': { type: 'string', multiple: true },
      scope: { type: 'string' },
      json: { type: 'boolean' },
    },
    positionals: 0,
    run: add,
  },
  list: { options: { json: { type: 'boolean' } }, positionals: 0, run: list },
  remove: { options: {}, positionals: 1, run: remove },
};

async function add(
  storage: Storage,
  values: Values,
  _p: string[],
  io: CliIo,
  now: () => number,
): Promise<number> {
  const name = values.name;
  if (typeof name !== 'string') return usageError(io, 'clients add: --name is required');
  const confidential = values.confidential === true;
  const grantTypes = (values['grant-type'] as string[] | undefined) ?? [
    'authorization_code',
    'refresh_token',
  ];
  // The same rules as a registration request (RFC 7591 §2), so a CLI client is never laxer than a dynamic one.
  const checked = validateClientMetadata(
    {
      client_name: name,
      redirect_uris: values['redirect-uri'],
      grant_types: grantTypes,
      token_endpoint_auth_method: confidential ? 'client_secret_basic' : 'none',
      ...(typeof values.scope === 'string' ? { scope: values.scope } : {}),
    },
    REGISTRATION_RULES,
  );
  if (!checked.ok) return usageError(io, `clients add: ${checked.description}`);
  const v = checked.value;
  const secret = confidential ? randomSecret() : undefined;
  const client: ClientRecord = {
    clientId: newClientId(),
    ...(secret !== undefined ? { secretHash: hashSecret(secret), secretExpiresAt: 0 } : {}),
    source: 'static',
    redirectUris: v.redirectUris,
    grantTypes: v.grantTypes,
    responseTypes: v.responseTypes,
    tokenEndpointAuthMethod: v.tokenEndpointAuthMethod,
    ...(v.scope !== undefined ? { scope: v.scope } : {}),
    ...(v.clientName !== undefined ? { clientName: v.clientName } : {}),
    metadata: v.metadata,
    createdAt: now(),
  };
  await storage.clients.create(client);
  // The server is not running here, so the audit row is written directly (same shape as the event).
  await storage.audit.append(
    'client.registered',
    { clientId: client.clientId, source: 'static', redirectUris: client.redirectUris },
    client.createdAt,
  );
  if (values.json) {
    io.stdout(
      `${JSON.stringify({ client_id: client.clientId, ...(secret !== undefined ? { client_secret: secret } : {}), ...metadataOf(client) })}\n`,
    );
    return 0;
  }
  const lines = [`client_id      ${client.clientId}`];
  if (secret !== undefined) {
    lines.push(`client_secret  ${secret}`, '', 'The secret is shown only now: Keyhole keeps only its hash.');
  }
  io.stdout(`${lines.join('\n')}\n`);
  return 0;
}

async function list(storage: Storage, values: Values, _p: string[], io: CliIo): Promise<number> {
  const clients = await storage.clients.list();
  if (values.json) {
    for (const c of clients) io.stdout(`${JSON.stringify(describe(c))}\n`);
    return 0;
  }
  if (clients.length === 0) {
    io.stdout('No clients registered.\n');
    return 0;
  }
  for (const c of clients) {
    const kind = c.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential';
    io.stdout(
      `${c.clientId}  ${c.source.padEnd(7)}  ${kind.padEnd(12)}  ${JSON.stringify(c.clientName ?? '')}  ${c.redirectUris.join(' ')}\n`,
    );
  }
  return 0;
}

async function remove(storage: Storage, _v: Values, positionals: string[], io: CliIo): Promise<number> {
  const clientId = positionals[0]!;
  if (!(await storage.clients.delete(clientId))) {
    io.stderr(`keyhole: no client with id ${JSON.stringify(clientId)}\n`);
    return 1;
  }
  io.stdout(`Removed client ${clientId}\n`);
  return 0;
}

/** A client as shown by `list --json`: everything but the secret hash. */
function describe(c: ClientRecord): Record<string, unknown> {
  return {
    client_id: c.clientId,
    source: c.source,
    created_at: new Date(c.createdAt).toISOString(),
    confidential: c.secretHash !== undefined,
    ...metadataOf(c),
  };
}

/**
 * Runs `body` with the storage the server uses (SQLite in the data directory, or PostgreSQL and Redis,
 * per the same configuration sources as `keyhole serve`), closing it afterwards. Exit 1 with a clear
 * message when the database or Redis cannot be reached.
 */
export async function withStorage(
  values: Values,
  io: CliIo,
  deps: StorageDeps,
  body: (storage: Storage) => Promise<number>,
): Promise<number> {
  if (deps.storage !== undefined) return body(deps.storage);
  let storage: Storage;
  try {
    const flags: Record<string, string | undefined> = {};
    if (typeof values.config === 'string') flags.config = values.config;
    if (typeof values['data-dir'] === 'string') flags['data-dir'] = values['data-dir'];
    const config = loadConfig({ flags, env: io.env, cwd: io.cwd });
    storage = await openConfiguredStorage(config, {
      logger: createLogger({ level: 'warn', write: io.stderr }),
    });
  } catch (err) {
    if (isStorageUnavailable(err)) {
      io.stderr(`keyhole: ${err.message}\n`);
      return 1;
    }
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`keyhole: invalid configuration\n${err.issues.map((i) => `  ${i}`).join('\n')}\n`);
    return EXIT_USAGE;
  }
  try {
    return await body(storage);
  } finally {
    await storage.close();
  }
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`keyhole: ${message}\n\n${CLIENTS_USAGE}`);
  return EXIT_USAGE;
}
