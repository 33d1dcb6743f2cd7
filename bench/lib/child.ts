// Runner-side half of the child protocol: starts a bench server in its own Node process (the same
// Node 24 that runs the runner), so the load generator never shares the server's event loop.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** A message over the IPC channel: `op` names it, and the reply carries the same `op`. */
export interface IpcMessage {
  op: string;
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /**
   * CPU time (user + system, all threads) the server has used so far, in ms; undefined where
   * /proc is not available. Less sensitive to a busy machine than throughput.
   */
  cpuTimeMs(): number | undefined;
  /** The server's stderr so far (the last 8 KB), for failure reports. */
  stderr(): string;
  /** Sends a message over the IPC channel and resolves with the first reply of the same `op`. */
  ask<T>(message: IpcMessage, timeoutMs?: number): Promise<T>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

export interface StartOptions {
  execArgv?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Node flags that profile a server into `<dir>/<name>.cpuprofile` (written when it exits); none without a dir. */
export function cpuProfileArgs(dir: string | undefined, name: string): string[] {
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

export async function startServer(script: string, options: StartOptions = {}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [...(options.execArgv ?? []), script], {
    // The IPC channel also ends the child when the runner dies (see exitWithParent).
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...options.env },
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    err = (err + d).slice(-8192);
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`no "listening" line within ${options.timeoutMs ?? 15000} ms`)),
      options.timeoutMs ?? 15000,
    );
    const onData = (d: string) => {
      out += d;
      const m = /^listening (\S+)$/m.exec(out);
      if (m) {
        cleanup();
        resolve(m[1]!);
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`exited (${code ?? signal}) before listening`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    function fail(e: Error) {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${script}: ${e.message}\n${err.trim()}`));
    }
    child.stdout!.on('data', onData);
    child.on('exit', onExit);
  });
  // Keep draining stdout so a chatty server never blocks on a full pipe.
  child.stdout!.resume();

  return {
    url,
    pid: child.pid!,
    cpuTimeMs: () => procCpuTimeMs(child.pid!),
    stderr: () => err,
    ask<T>(message: IpcMessage, timeoutMs = 30_000): Promise<T> {
      if (!child.send) return Promise.reject(new Error('no IPC channel'));
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`no reply to ${message.op} within ${timeoutMs} ms`));
        }, timeoutMs);
        const onMessage = (m: unknown) => {
          if (typeof m === 'object' && m !== null && (m as { op?: unknown }).op === message.op) {
            clearTimeout(timer);
            child.off('message', onMessage);
            resolve(m as T);
          }
        };
        child.on('message', onMessage);
        child.send!(message);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

let ticksPerSecond: number | undefined;

/** utime + stime of a process from /proc/<pid>/stat (proc(5)), in ms. */
function procCpuTimeMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}
