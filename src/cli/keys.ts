// `keyhole keys rotate|list`: the access-token signing keys kept in the server's storage. A rotation
// makes a new key active; the previous one keeps verifying for auth.keyRotationOverlapSec, so tokens
// already issued stay valid. A running server picks the new key up on its next key reload.

import { parseArgs } from 'node:util';
import { KeyConfigError, KeyDecryptionError } from '../authserver/key-encryption.ts';
import { effectiveStatus, KeyManager } from '../authserver/keys.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { KeyholeConfig } from '../config/types.ts';
import { subscribeAudit } from '../observability/audit.ts';
import { EventBus } from '../observability/events.ts';
import { createLogger } from '../observability/logger.ts';
import type { SigningKeyRecord, Storage } from '../storage/types.ts';
import { type StorageDeps, withStorage } from './clients.ts';
import type { CliIo } from './run.ts';

export const KEYS_USAGE = `Usage: keyhole keys <rotate|list> [options]

  keyhole keys rotate [--json]
      Creates a new signing key and makes it the active one. The previous key keeps verifying
      tokens for auth.keyRotationOverlapSec (KEYHOLE_KEY_ROTATION_OVERLAP_SEC), then retires.
      A running server starts signing with the new key within a minute.
      HS256 keys are the shared secret itself: rotate them by changing KEYHOLE_HS256_SECRET.
  keyhole keys list [--json]
      Lists the keys: kid, algorithm, status (active, retiring, retired), created, retires.

Options:
  --config FILE       JSON configuration file (finds the database and the key settings)
  --data-dir DIR      State directory holding keyhole.db and keys.secret
  -h, --help          Show this help
`;

const EXIT_USAGE = 2;

type Values = Record<string, string | boolean | undefined>;

/** `argv` is what follows `keyhole keys`. */
export async function run(argv: readonly string[], io: CliIo, deps: StorageDeps = {}): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(KEYS_USAGE);
    return 0;
  }
  if (sub !== 'rotate' && sub !== 'list') {
    return usageError(
      io,
      sub === undefined ? 'keys: missing command (rotate or list)' : `unknown keys command "${sub}"`,
    );
  }
  let values: Values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        json: { type: 'boolean' },
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }) as { values: Values });
  } catch (err) {
    return usageError(io, (err as Error).message);
  }
  if (values.help) {
    io.stdout(KEYS_USAGE);
    return 0;
  }
  let config: KeyholeConfig;
  try {
    const flags: Record<string, string> = {};
    if (typeof values.config === 'string') flags.config = values.config;
    if (typeof values['data-dir'] === 'string') flags['data-dir'] = values['data-dir'];
    config = loadConfig({ flags, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr(`keyhole: invalid configuration\n${err.issues.map((i) => `  ${i}`).join('\n')}\n`);
    return EXIT_USAGE;
  }
  const now = deps.now ?? Date.now;
  return withStorage(values, io, deps, async (storage) => {
    try {
      return sub === 'rotate'
        ? await rotate(storage, config, values, io, now)
        : await list(storage, values, io, now);
    } catch (err) {
      if (err instanceof KeyDecryptionError || err instanceof KeyConfigError) {
        io.stderr(`keyhole: ${(err as Error).message}\n`);
        return 1;
      }
      throw err;
    }
  });
}

async function rotate(
  storage: Storage,
  config: KeyholeConfig,
  values: Values,
  io: CliIo,
  now: () => number,
): Promise<number> {
  const auth = config.auth;
  const events = new EventBus();
  // The rotation is a security event: into the audit table like the server's own events.
  const audit = subscribeAudit(events, {
    logger: createLogger({ level: 'warn', write: io.stderr }),
    audit: storage.audit,
  });
  const hadKeys = (await storage.keys.list()).length > 0;
  const keys = await KeyManager.open(storage.keys, {
    alg: auth.signingAlg,
    hs256Secret: auth.hs256Secret,
    keySecret: auth.keySecret,
    dataDir: config.server.dataDir,
    overlapSec: auth.keyRotationOverlapSec,
    now,
    events,
    reloadIntervalSec: 0,
    // Running replicas reload at once (issue #4 "Replicas").
    ...(storage.changes ? { changes: storage.changes, followChanges: false } : {}),
  });
  try {
    // On an empty store, opening created the first key: there was nothing to rotate out.
    const result = hadKeys ? await keys.rotate() : { newKid: keys.signingKey().kid, retiringKids: [] };
    const records = await storage.keys.list();
    const retiring = records.filter((r) => result.retiringKids.includes(r.kid));
    if (values.json) {
      io.stdout(
        `${JSON.stringify({
          active: describe(records.find((r) => r.kid === result.newKid)!, now()),
          retiring: retiring.map((r) => describe(r, now())),
        })}\n`,
      );
      return 0;
    }
    io.stdout(`Active signing key: ${result.newKid} (${keys.signingKey().alg})\n`);
    if (!hadKeys) io.stdout('There was no signing key yet: this is the first one.\n');
    for (const r of retiring) {
      io.stdout(`Retiring: ${r.kid}, verifies until ${iso(r.retiresAt)}\n`);
    }
    if (hadKeys)
      io.stdout('A running server signs with the new key after its next key reload (within a minute).\n');
    return 0;
  } finally {
    keys.close();
    await audit.close();
  }
}

async function list(storage: Storage, values: Values, io: CliIo, now: () => number): Promise<number> {
  const records = await storage.keys.list();
  const rows = records.map((r) => describe(r, now()));
  if (values.json) {
    io.stdout(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout(
      'No signing keys yet: the server creates one when it first starts (or run "keyhole keys rotate").\n',
    );
    return 0;
  }
  const header = ['KID', 'ALG', 'STATUS', 'CREATED', 'RETIRES'];
  const table = [header, ...rows.map((r) => [r.kid, r.alg, r.status, r.created_at, r.retires_at ?? '-'])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table)
    io.stdout(
      `${row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}

/** A key as shown: never any key material, public or private. */
function describe(
  r: SigningKeyRecord,
  now: number,
): { kid: string; alg: string; status: string; created_at: string; retires_at?: string } {
  const status = effectiveStatus(r, now);
  const out: { kid: string; alg: string; status: string; created_at: string; retires_at?: string } = {
    kid: r.kid,
    alg: r.alg,
    status,
    created_at: iso(r.createdAt),
  };
  if (r.retiresAt !== undefined) out.retires_at = iso(r.retiresAt);
  return out;
}

function iso(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString();
}

function usageError(io: CliIo, message: string): number {
  io.stderr(`keyhole: ${message}\n\n${KEYS_USAGE}`);
  return EXIT_USAGE;
}
