// The official MCP conformance suites against the conformance fixture (examples/conformance), served
// in-process over HTTP on an ephemeral port. Each runner is a child process on the project's Node:
// - @modelcontextprotocol/conformance 0.1.16, every server scenario (the active suite plus the two it
//   still marks pending), on the session-based wire (initialize, Mcp-Session-Id, 2025-11-25);
// - 0.2.0-alpha.12 (conformance-next), every scenario tagged 2026-07-28 — the 37 that
//   requirements/2026-07-28.yaml scores plus json-schema-2020-12 and the two SEP-2243 header scenarios it
//   lists as pending — on the stateless wire. Extension scenarios (tasks-*, skills-*) are out of scope;
// - 0.2.0-alpha.12 again at 2025-11-25 (cumulative: every scenario up to that revision), session-based.
// No expected-failures baseline: every check of every scenario must be free of FAILURE.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createServer } from '../../examples/conformance/server.ts';
import { Engine } from '../../src/protocol/engine.ts';
import { createHttpApp } from '../../src/transport/http/app.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN_TIMEOUT_MS = 110_000;

interface Suite {
  readonly label: string;
  readonly cli: string;
  /** Arguments of `server` besides --url and --output-dir. */
  readonly select: readonly string[];
  /** Arguments of `list` naming the same scenarios. */
  readonly list: readonly string[];
}

const SUITES: readonly Suite[] = [
  {
    label: '@modelcontextprotocol/conformance 0.1.16, all server scenarios',
    cli: path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js'),
    select: ['--suite', 'all'],
    list: ['--server'],
  },
  {
    label: '@modelcontextprotocol/conformance 0.2.0-alpha.12, 2026-07-28 scenarios',
    cli: path.join(ROOT, 'node_modules/conformance-next/dist/index.js'),
    select: ['--suite', 'all', '--spec-version', '2026-07-28'],
    list: ['--server', '--spec-version', '2026-07-28'],
  },
  {
    // Beyond the issue's minimum: the same legacy wire as 0.1.16, but with 0.2's newer scenarios
    // (server-session-lifecycle) and its JSON-schema validation of every message the server sends.
    label: '@modelcontextprotocol/conformance 0.2.0-alpha.12, 2025-11-25 scenarios',
    cli: path.join(ROOT, 'node_modules/conformance-next/dist/index.js'),
    select: ['--suite', 'all', '--spec-version', '2025-11-25'],
    list: ['--server', '--spec-version', '2025-11-25'],
  },
];

interface Check {
  id: string;
  name?: string;
  status: string;
  errorMessage?: string;
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs a conformance CLI with the project's Node; never rejects, the caller asserts on the outcome. */
function runCli(cli: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      output += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      output += c;
    });
    const timer = setTimeout(() => {
      output += `\n[killed after ${RUN_TIMEOUT_MS} ms]`;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Scenario names printed by `conformance list` ("  - name [versions]"). */
async function listScenarios(suite: Suite): Promise<string[]> {
  const run = await runCli(suite.cli, ['list', ...suite.list]);
  assert.equal(run.code, 0, `conformance list failed:\n${run.output}`);
  const names = [...run.output.matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1]!);
  assert.ok(names.length > 0, `conformance list printed no scenarios:\n${run.output}`);
  return names;
}

/** checks.json of every scenario the runner wrote, keyed by scenario name (dir: server-<name>-<ISO time>). */
async function readResults(dir: string): Promise<Map<string, Check[]>> {
  const results = new Map<string, Check[]>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const name = entry.name.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
    const text = await readFile(path.join(dir, entry.name, 'checks.json'), 'utf8').catch(() => undefined);
    if (text !== undefined) results.set(name, JSON.parse(text) as Check[]);
  }
  return results;
}

/** SHOULD-level gaps (WARNING) and skipped checks: reported, not failed — some depend on timing. */
function notes(results: Map<string, Check[]>): string[] {
  const lines: string[] = [];
  for (const [scenario, checks] of results) {
    for (const c of checks) {
      if (c.status === 'WARNING' || c.status === 'SKIPPED') {
        lines.push(`${c.status} ${scenario}: ${c.id} — ${c.errorMessage ?? ''}`);
      }
    }
  }
  return lines;
}

/** One line per failing check, or per scenario that produced no results at all. */
function failures(expected: readonly string[], results: Map<string, Check[]>): string[] {
  const lines: string[] = [];
  for (const scenario of expected) {
    const checks = results.get(scenario);
    if (!checks) {
      lines.push(`${scenario}: no results (the scenario crashed or was not run)`);
      continue;
    }
    if (checks.length === 0) lines.push(`${scenario}: ran no checks`);
    for (const c of checks) {
      if (c.status === 'FAILURE')
        lines.push(`${scenario}: ${c.id} (${c.name ?? ''}) — ${c.errorMessage ?? ''}`);
    }
  }
  return lines;
}

describe('MCP conformance suites against examples/conformance', () => {
  let engine: Engine;
  let app: ReturnType<typeof createHttpApp>;
  let url: string;
  let outDir: string;

  before(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'keyhole-conformance-'));
    engine = new Engine(createServer());
    app = createHttpApp(engine, { host: '127.0.0.1', port: 0 });
    // A loopback URL: dns-rebinding-protection only runs against one, and sends its Host back.
    url = new URL('/mcp', await app.listen()).href;
  });

  after(async () => {
    engine?.close();
    await app?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  for (const suite of SUITES) {
    test(suite.label, { timeout: RUN_TIMEOUT_MS + 10_000 }, async (t) => {
      const expected = await listScenarios(suite);
      const dir = await mkdtemp(path.join(outDir, 'run-'));
      const run = await runCli(suite.cli, ['server', '--url', url, '--output-dir', dir, ...suite.select]);
      const results = await readResults(dir);
      for (const line of notes(results)) t.diagnostic(line);
      const failed = failures(expected, results);
      assert.ok(failed.length === 0, `${failed.length} failing check(s):\n${failed.join('\n')}`);
      // A zero exit code as well: the runner also fails on problems outside checks.json.
      assert.equal(run.code, 0, `runner exited with ${run.code}:\n${run.output.slice(-4000)}`);
    });
  }
});
