// Builds the one KeyholeConfig from its sources, lowest to highest precedence:
// defaults < config file (`--config FILE` or KEYHOLE_CONFIG, JSON) < KEYHOLE_* environment < CLI flags.
// Everything is validated here, once, at start-up; every problem names the key it came from.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { redactUrl } from '../observability/redact-url.ts';
import { DEFAULTS } from './defaults.ts';
import { BY_KEY, CONFIG_FILE_ENV, OPTIONS, type OptionSpec } from './options.ts';
import type { KeyholeConfig } from './types.ts';

export interface ConfigSources {
  /** CLI flag values by long name (`port`, `data-dir`, `config`, ...), as node:util parseArgs returns them. */
  flags?: Readonly<Record<string, string | boolean | undefined>>;
  /** Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Base of relative paths from flags and the environment. Defaults to process.cwd(). */
  cwd?: string;
}

export interface LoadOptions {
  /** Non-fatal findings, such as an unknown KEYHOLE_* variable (likely a typo). */
  onWarning?: (message: string) => void;
}

/** Invalid configuration: one line per problem, each starting with the key that caused it. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(issues.join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

type Source = { kind: 'default' } | { kind: 'file'; dir: string } | { kind: 'env' } | { kind: 'flag' };

const SECTIONS = new Set(OPTIONS.map((o) => o.key.split('.')[0]!));

export function loadConfig(sources: ConfigSources = {}, options: LoadOptions = {}): KeyholeConfig {
  const env = sources.env ?? process.env;
  const flags = sources.flags ?? {};
  const cwd = sources.cwd ?? process.cwd();
  const issues: string[] = [];
  const values = new Map<string, { value: unknown; source: Source; label: string }>();

  const accept = (spec: OptionSpec, raw: unknown, source: Source, label: string, fromText: boolean) => {
    const r = spec.parser.parse(raw, fromText);
    if (!r.ok) {
      issues.push(
        spec.secret || spec.sensitive
          ? `${label}: ${r.expected}`
          : `${label}: ${r.expected}, got ${show(raw)}`,
      );
      return;
    }
    values.set(spec.key, { value: r.value, source, label });
  };

  // 1. Config file.
  const fileFlag = flags.config;
  const filePath = typeof fileFlag === 'string' ? fileFlag : nonEmpty(env[CONFIG_FILE_ENV]);
  if (fileFlag !== undefined && (typeof fileFlag !== 'string' || fileFlag.trim() === '')) {
    issues.push('--config: must be a path to a JSON file');
  } else if (filePath !== undefined) {
    const label = typeof fileFlag === 'string' ? '--config' : CONFIG_FILE_ENV;
    readFile(resolve(cwd, filePath), label, issues, (spec, raw, dir) =>
      accept(spec, raw, { kind: 'file', dir }, `config file ${spec.key}`, false),
    );
  }

  // 2. Environment.
  const known = new Set([...OPTIONS.map((o) => o.env), CONFIG_FILE_ENV]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('KEYHOLE_') && !known.has(name)) {
      const hint = closest(name, [...known]);
      options.onWarning?.(
        `${name}: unknown Keyhole setting, ignored${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
  }
  for (const spec of OPTIONS) {
    const raw = nonEmpty(env[spec.env]);
    if (raw !== undefined) accept(spec, raw, { kind: 'env' }, spec.env, true);
  }

  // 3. Flags.
  for (const spec of OPTIONS) {
    if (spec.flag === undefined) continue;
    const raw = flags[spec.flag];
    if (raw !== undefined) accept(spec, raw, { kind: 'flag' }, `--${spec.flag}`, true);
  }

  if (issues.length) throw new ConfigError(issues);

  const config = structuredClone(DEFAULTS);
  const target = config as unknown as Record<string, Record<string, unknown>>;
  for (const spec of OPTIONS) {
    const [section, field] = spec.key.split('.') as [string, string];
    const entry = values.get(spec.key);
    let value = entry ? entry.value : target[section]![field];
    if (spec.isPath && typeof value === 'string' && !isAbsolute(value)) {
      value = resolve(entry?.source.kind === 'file' ? entry.source.dir : cwd, value);
    }
    target[section]![field] = value;
  }

  crossCheck(config, (key) => values.get(key)?.label ?? key, issues);
  if (issues.length) throw new ConfigError(issues);
  return config;
}

function readFile(
  path: string,
  label: string,
  issues: string[],
  accept: (spec: OptionSpec, raw: unknown, dir: string) => void,
): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push(`${label}: cannot read ${JSON.stringify(path)} (${code})`);
    return;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    issues.push(`config file ${path}: invalid JSON (${(err as Error).message})`);
    return;
  }
  if (!isPlainObject(doc)) {
    issues.push(`config file ${path}: must contain a JSON object`);
    return;
  }
  const dir = dirname(path);
  for (const [section, body] of Object.entries(doc)) {
    // Editors use "$schema" to find a JSON Schema for completion; it is not a setting.
    if (section === '$schema') continue;
    if (!SECTIONS.has(section)) {
      issues.push(`config file ${section}: unknown key${hintFor(section, [...SECTIONS])}`);
      continue;
    }
    if (!isPlainObject(body)) {
      issues.push(`config file ${section}: must be an object`);
      continue;
    }
    for (const [field, raw] of Object.entries(body)) {
      const key = `${section}.${field}`;
      const spec = BY_KEY.get(key);
      if (!spec) {
        issues.push(`config file ${key}: unknown key${hintFor(key, [...BY_KEY.keys()])}`);
      } else if (spec.secret) {
        // Secrets stay out of files that get committed, copied and backed up.
        issues.push(`config file ${key}: secrets are read from the environment only (set ${spec.env})`);
      } else {
        accept(spec, raw, dir);
      }
    }
  }
}

function crossCheck(config: KeyholeConfig, label: (key: string) => string, issues: string[]): void {
  const { http } = config;
  // Node's http.Server rejects a headersTimeout above a non-zero requestTimeout.
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    issues.push(
      `${label('http.headersTimeoutMs')}: must not exceed http.requestTimeoutMs (${http.requestTimeoutMs}), got ${http.headersTimeoutMs}`,
    );
  }
  if (config.storage.databaseUrl !== undefined && config.storage.sqlitePath !== undefined) {
    issues.push(
      `${label('storage.sqlitePath')}: must not be set with storage.databaseUrl (PostgreSQL replaces SQLite)`,
    );
  }
  const paths: [string, string][] = [
    ['http.mcpPath', http.mcpPath],
    ['http.legacySsePath', http.legacySsePath],
    ['http.legacyMessagesPath', http.legacyMessagesPath],
  ];
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      const [ka, a] = paths[i]!;
      const [kb, b] = paths[j]!;
      if (a === b) issues.push(`${label(kb)}: must differ from ${ka}, both are ${JSON.stringify(a)}`);
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmpty(v: string | undefined): string | undefined {
  // An empty variable (`KEYHOLE_PUBLIC_URL=` in a compose file) means "not set".
  return v === undefined || v === '' ? undefined : v;
}

function show(raw: unknown): string {
  const s = JSON.stringify(raw) ?? String(raw);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function hintFor(name: string, candidates: string[]): string {
  const c = closest(name, candidates);
  return c ? ` (did you mean ${c}?)` : '';
}

/** The candidate within edit distance 3 of `name`, case-insensitively, if any. */
function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The configuration as it may be logged: secrets replaced by whether they are set, URLs without passwords. */
export function describeConfig(config: KeyholeConfig): Record<string, unknown> {
  const set = (v: string | undefined) => (v ? '[set]' : '[unset]');
  return {
    ...config,
    protocol: { ...config.protocol, stateSecret: set(config.protocol.stateSecret) },
    auth: {
      ...config.auth,
      hs256Secret: set(config.auth.hs256Secret),
      keySecret: set(config.auth.keySecret),
    },
    storage: {
      ...config.storage,
      databaseUrl: config.storage.databaseUrl && redactUrl(config.storage.databaseUrl),
      redisUrl: config.storage.redisUrl && redactUrl(config.storage.redisUrl),
    },
  };
}
