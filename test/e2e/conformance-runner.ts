// Running the official conformance CLIs from the e2e tests: a child process on the project's Node whose
// output can be watched (and acted on) while it runs, and the checks.json files it writes.

import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** @modelcontextprotocol/conformance 0.1.16 */
export const CONFORMANCE = path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
/** @modelcontextprotocol/conformance 0.2.0-alpha.12 (the pre-release) */
export const CONFORMANCE_NEXT = path.join(ROOT, 'node_modules/conformance-next/dist/index.js');

export interface Check {
  id: string;
  name?: string;
  status: string;
  errorMessage?: string;
}

export interface Run {
  code: number | null;
  output: string;
}

/**
 * Runs a conformance CLI; never rejects unless `onOutput` throws. `onOutput` sees the output so far
 * after each chunk until it returns true (it may act, e.g. complete an authorization the runner waits for).
 */
export function runCli(
  cli: string,
  args: readonly string[],
  options: { timeoutMs: number; onOutput?: (output: string) => Promise<boolean> },
): Promise<Run> {
  const { timeoutMs, onOutput } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let acting = false;
    let done = onOutput === undefined;
    const look = () => {
      if (done || acting) return;
      acting = true;
      const seen = output.length;
      onOutput!(output).then(
        (finished) => {
          done = finished;
          acting = false;
          // Output that arrived meanwhile is looked at too.
          if (output.length > seen) look();
        },
        (err: unknown) => {
          done = true;
          child.kill('SIGKILL');
          reject(err);
        },
      );
    };
    const onChunk = (chunk: string) => {
      output += chunk;
      look();
    };
    child.stdout.setEncoding('utf8').on('data', onChunk);
    child.stderr.setEncoding('utf8').on('data', onChunk);
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Scenario names printed by `conformance list ...` ("  - name [versions]"). */
export function scenarioNames(output: string): string[] {
  return [...output.matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1]!);
}

/**
 * checks.json of every scenario under `dir`, keyed by scenario name (result directories are named
 * `<kind>-<scenario>-<ISO time>`, e.g. server-tools-list-2026-…Z).
 */
export async function readChecks(dir: string, prefix: string): Promise<Map<string, Check[]>> {
  const out = new Map<string, Check[]>();
  for (const entry of await readdir(dir, { recursive: true })) {
    if (path.basename(entry) !== 'checks.json') continue;
    const name = path
      .basename(path.dirname(entry))
      .replace(new RegExp(`^${prefix}-`), '')
      .replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
    out.set(name, JSON.parse(await readFile(path.join(dir, entry), 'utf8')) as Check[]);
  }
  return out;
}

/** One line per failing check, or per expected scenario that produced no results at all. */
export function failures(expected: readonly string[], results: Map<string, Check[]>): string[] {
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

/** WARNING and SKIPPED checks, for the test's diagnostics. */
export function notes(results: Map<string, Check[]>): string[] {
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
