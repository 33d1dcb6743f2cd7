// Running the `keyhole` command as a child process in tests: a clean environment, captured output,
// optional standard input, and the processes and temp directories a test file leaves are cleaned up.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcessWithoutNullStreams[] = [];
const temps: string[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** `node <args>` from the repository root; `stdin` is written and closed (default: closed at once). */
export function launch(args: string[], env: Record<string, string> = {}, stdin?: string): Run {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // A clean environment: no KEYHOLE_* from the machine running the tests.
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  child.stdin.end(stdin);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

export const cli = (args: string[], env?: Record<string, string>, stdin?: string) =>
  launch(['src/cli/main.ts', ...args], env, stdin);

/** Runs a command to its end. */
export async function complete(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = cli(args, options.env, options.stdin);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Waits for the "listening on" line; fails with stderr if the process exits first. */
export async function listening(run: Run): Promise<URL> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = /Keyhole MCP server listening on (\S+)/.exec(run.stdout());
      if (m) {
        run.child.stdout.off('data', check);
        resolve(new URL(m[1]!));
      }
    };
    run.child.stdout.on('data', check);
    check();
    void run.exited.then((code) =>
      reject(new Error(`exited with ${code} before listening:\n${run.stderr()}`)),
    );
  });
}

/** A temp directory removed after the test file. */
export function tempDir(prefix = 'keyhole-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** Every non-empty stderr line is one JSON log record. */
export function logLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
