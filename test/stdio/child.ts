// A `keyhole stdio` child process driven line by line, for black-box stdio tests.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A parsed stdout line, typed loosely enough for assertions. */
export interface Message {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: {
    progressToken?: unknown;
    total?: number;
    message?: string;
    uri?: string;
    [key: string]: unknown;
  };
  result?: Result;
  error?: { code: number; message: string; data?: unknown };
}

export interface Result {
  content?: { type: string; text?: string }[];
  structuredContent?: unknown;
  resultType?: string;
  supportedVersions?: string[];
  inputRequests?: Record<string, { method: string; params?: Record<string, unknown> }>;
  requestState?: string;
  protocolVersion?: string;
  serverInfo?: { name: string; version: string };
  capabilities?: Record<string, unknown>;
  tools?: { name: string }[];
  [key: string]: unknown;
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'stdio-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** Safety net only: a wait that never resolves fails with the child's stderr instead of hanging. */
const WAIT_LIMIT_MS = 30_000;

export class StdioChild {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Every stdout line, parsed, in order. */
  readonly messages: Message[] = [];
  /** stdout lines that were not JSON objects: the transport must never write any. */
  readonly garbage: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #buffer = '';
  #waiters: { match: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = spawn(process.execPath, ['src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk: string) => this.#onData(chunk));
    this.proc.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  static stdio(args: string[] = [], env: Record<string, string> = {}): StdioChild {
    return new StdioChild(['stdio', ...args], env);
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl = this.#buffer.indexOf('\n');
    while (nl !== -1) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      nl = this.#buffer.indexOf('\n');
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        this.garbage.push(line);
        continue;
      }
      if (typeof m !== 'object' || m === null) {
        this.garbage.push(line);
        continue;
      }
      this.messages.push(m as Message);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(m as Message)) return true;
        w.resolve(m as Message);
        return false;
      });
    }
  }

  send(message: object | string): void {
    this.proc.stdin.write(typeof message === 'string' ? `${message}\n` : `${JSON.stringify(message)}\n`);
  }

  request(id: string | number, method: string, params: object = {}): Promise<Message> {
    this.send({ jsonrpc: '2.0', id, method, params });
    return this.response(id);
  }

  modern(id: string | number, method: string, params: object = {}, meta: object = {}): Promise<Message> {
    return this.request(id, method, { ...params, _meta: { ...MODERN_META, ...meta } });
  }

  /** The first message (already received or still to come) that matches. */
  next(match: (m: Message) => boolean, what = 'a message'): Promise<Message> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no ${what} from the child; stderr:\n${this.stderr}`));
      }, WAIT_LIMIT_MS);
      timer.unref();
      this.#waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  response(id: unknown): Promise<Message> {
    return this.next((m) => m.id === id && ('result' in m || 'error' in m), `response ${JSON.stringify(id)}`);
  }

  /** Closes stdin and waits for the exit. */
  async end(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.proc.stdin.end();
    return this.exited;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  /** Every stderr line is a JSON log record. */
  logLines(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
