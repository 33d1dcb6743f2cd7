// Shared plumbing for the SDK interoperability tests: an in-process Keyhole over HTTP, a fetch that
// records the wire exchange (printed when a test fails), and the assertions every client repeats.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/protocol/engine.ts';
import type { McpServer } from '../../src/server/server.ts';
import { createHttpApp } from '../../src/transport/http/app.ts';
import { createServer, GREETING_TEXT, GREETING_URI } from './fixture-server.ts';

export { GREETING_TEXT, GREETING_URI };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURE = fileURLToPath(new URL('./fixture-server.ts', import.meta.url));
export const CLIENT_INFO = { name: 'keyhole-interop-test', version: '1.0.0' };

// ---------------------------------------------------------------------------------------------
// Keyhole in-process

export interface Keyhole {
  readonly server: McpServer;
  readonly engine: Engine;
  /** The Streamable HTTP endpoint (both eras). */
  readonly mcpUrl: URL;
  /** The 2024-11-05 HTTP+SSE stream endpoint. */
  readonly sseUrl: URL;
  close(): Promise<void>;
}

export async function startKeyhole(server: McpServer = createServer()): Promise<Keyhole> {
  const engine = new Engine(server);
  const app = createHttpApp(engine, { port: 0 });
  const origin = new URL(await app.listen());
  return {
    server,
    engine,
    mcpUrl: new URL('/mcp', origin),
    sseUrl: new URL('/sse', origin),
    async close() {
      engine.close();
      await app.close();
    },
  };
}

/** The command line that serves the fixture over stdio through the keyhole CLI. */
export function stdioCommand(): {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
} {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) if (process.env[k]) env[k] = process.env[k]!;
  return {
    command: process.execPath,
    args: ['src/cli/main.ts', 'stdio', '--app', FIXTURE],
    cwd: ROOT,
    env,
  };
}

// ---------------------------------------------------------------------------------------------
// Wire recording

export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string | undefined;
  status?: number;
  responseHeaders?: Record<string, string>;
  /** The response body when it is plain JSON (SSE bodies are streams and are not read here). */
  responseBody?: string;
  error?: string;
}

/** The headers worth showing: content negotiation, SSE resumption and every MCP header (`Mcp-*`). */
function pickHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    if (k === 'accept' || k === 'content-type' || k === 'last-event-id' || k.startsWith('mcp-')) out[k] = v;
  });
  return out;
}

/** A fetch for the SDK transports that logs every exchange and reports when a GET stream opens. */
export class WireLog {
  readonly exchanges: Exchange[] = [];
  #getStreamOpened = Promise.withResolvers<void>();

  /** Resolves once a GET to the endpoint has been answered with a 2xx event stream. */
  get getStreamOpened(): Promise<void> {
    return this.#getStreamOpened.promise;
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const requestBody = init?.body === undefined || init.body === null ? undefined : String(init.body);
    const entry: Exchange = {
      method: request.method,
      url: request.url,
      requestHeaders: pickHeaders(request.headers),
      requestBody,
    };
    this.exchanges.push(entry);
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      entry.error = String(error);
      throw error;
    }
    entry.status = response.status;
    entry.responseHeaders = pickHeaders(response.headers);
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('application/json')) entry.responseBody = await response.clone().text();
    if (request.method === 'GET' && response.ok && type.includes('text/event-stream'))
      this.#getStreamOpened.resolve();
    return response;
  };

  /** A readable dump of the exchange, for failure messages. */
  dump(): string {
    return this.exchanges
      .map((e) => {
        const lines = [`> ${e.method} ${e.url} ${JSON.stringify(e.requestHeaders)}`];
        if (e.requestBody) lines.push(`> ${e.requestBody}`);
        if (e.error) lines.push(`< network error: ${e.error}`);
        else lines.push(`< ${e.status} ${JSON.stringify(e.responseHeaders)}`);
        if (e.responseBody) lines.push(`< ${e.responseBody}`);
        return lines.join('\n');
      })
      .join('\n');
  }
}

/**
 * Runs `fn`; when it throws, the error is rethrown with the recorded wire exchange appended, so a failing
 * interop test says what the client sent and what came back.
 */
export async function withWire<T>(wire: WireLog, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const message = error instanceof Error ? `${error.message}` : String(error);
    const wrapped = new Error(`${message}\n--- wire ---\n${wire.dump()}`, { cause: error });
    if (error instanceof Error && error.stack) wrapped.stack = `${wrapped.message}\n${error.stack}`;
    throw wrapped;
  }
}

// ---------------------------------------------------------------------------------------------
// Expectations shared by every client and era

/** The fixture's tools, sorted. */
export const FIXTURE_TOOLS: readonly string[] = ['add', 'echo', 'register_tool', 'release', 'steps'];

/** resources/list and prompts/list entries of the fixture, as advertised. */
export const FIXTURE_RESOURCE = {
  uri: GREETING_URI,
  name: 'greeting',
  description: 'A fixed greeting',
  mimeType: 'text/plain',
};
export const FIXTURE_PROMPT = {
  name: 'greet',
  description: 'Asks the model to greet someone',
  arguments: [{ name: 'name', description: 'Who to greet', required: true }],
};

/** The sorted tool names after `name` was registered. */
export function toolsWith(name: string): string[] {
  return [...FIXTURE_TOOLS, name].sort();
}

/** What the client's listTools() must show for the fixture's tools (schemas exactly as advertised). */
export function assertFixtureTools(
  tools: readonly { name: string; inputSchema?: unknown; outputSchema?: unknown }[],
): void {
  const byName = new Map(tools.map((t) => [t.name, t]));
  assert.deepEqual([...byName.keys()].sort(), FIXTURE_TOOLS);
  const draft = 'https://json-schema.org/draft/2020-12/schema';
  assert.deepEqual(byName.get('echo')?.inputSchema, {
    $schema: draft,
    type: 'object',
    properties: { text: { type: 'string', description: 'Text to echo' } },
    required: ['text'],
  });
  assert.equal(byName.get('echo')?.outputSchema, undefined);
  assert.deepEqual(byName.get('add')?.inputSchema, {
    $schema: draft,
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
  });
  assert.deepEqual(byName.get('add')?.outputSchema, {
    $schema: draft,
    type: 'object',
    properties: { sum: { type: 'number' } },
    required: ['sum'],
  });
  assert.deepEqual(byName.get('steps')?.inputSchema, {
    $schema: draft,
    type: 'object',
    properties: { count: { type: 'integer', minimum: 1, maximum: 10 }, gate: { type: 'string' } },
    required: ['count'],
  });
}

/** The text of the only content block of a tool result. */
export function onlyText(result: object): string {
  const content = (result as { content?: unknown }).content as { type: string; text?: string }[] | undefined;
  assert.ok(Array.isArray(content), 'result.content must be an array');
  assert.equal(content.length, 1, 'exactly one content block');
  assert.equal(content[0]?.type, 'text');
  return content[0]?.text ?? '';
}

export interface ProgressSeen {
  progress: number;
  total?: number;
  message?: string;
}

export const EXPECTED_PROGRESS: ProgressSeen[] = [
  { progress: 1, total: 3, message: 'step 1 of 3' },
  { progress: 2, total: 3, message: 'step 2 of 3' },
  { progress: 3, total: 3, message: 'step 3 of 3' },
];

/** Calls a tool the way one SDK does, with an optional onprogress callback. */
export type CallWithProgress = (
  name: string,
  args: Record<string, unknown>,
  onprogress?: (p: ProgressSeen) => void,
) => Promise<object>;

/**
 * Calls the fixture's `steps` tool with the client's onprogress option and checks that every progress
 * notification reached it, in order, before the result. The tool holds its result until the client,
 * from onprogress, calls `release` (see the fixture), so the check does not depend on read timing; a
 * missing notification fails as a request timeout of the gated call.
 */
export async function assertProgressDelivered(call: CallWithProgress): Promise<void> {
  const gate = randomUUID();
  const seen: ProgressSeen[] = [];
  let released: Promise<object> | undefined;
  const result = await call('steps', { count: 3, gate }, (p) => {
    const entry: ProgressSeen = { progress: p.progress };
    if (p.total !== undefined) entry.total = p.total;
    if (p.message !== undefined) entry.message = p.message;
    seen.push(entry);
    if (seen.length === EXPECTED_PROGRESS.length) released = call('release', { gate });
  });
  assert.equal(onlyText(result), 'finished 3 steps');
  assert.deepEqual(seen, EXPECTED_PROGRESS);
  assert.ok(released, 'release was called');
  assert.equal(onlyText(await released), `released ${gate}`);
}

/** Per-test hang guard for node:test (the waits below fail first, so that `finally` blocks still close). */
export const GUARD = { timeout: 60_000 };

const WAIT_LIMIT_MS = 20_000;

/**
 * Awaits something the server should cause (a notification, a stream opening). A hang guard, not a
 * timing assertion: passing runs take milliseconds; if it never happens the test fails with `what`
 * instead of stalling with its clients and child processes still open.
 */
export async function waitFor<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), WAIT_LIMIT_MS);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Registers a tool on `server` that blocks until its request is cancelled, and reports when it started
 * and when the server aborted it (HandlerContext.signal).
 */
export function blockingTool(
  server: McpServer,
  name: string,
): {
  started: Promise<void>;
  aborted: Promise<void>;
  remove(): void;
} {
  const started = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  const handle = server.tool({
    name,
    handler: async (_args, ctx) => {
      started.resolve();
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      aborted.resolve();
      return 'cancelled';
    },
  });
  return {
    get started() {
      return waitFor(started.promise, `${name} to start`);
    },
    get aborted() {
      return waitFor(aborted.promise, `the server to abort ${name}`);
    },
    remove: () => handle.remove(),
  };
}

/** A hang guard for the gated call (not a timing assertion): long enough for any loaded CI runner. */
export const GATED_CALL_TIMEOUT_MS = 30_000;

/**
 * A `listChanged.tools` option whose `onChanged` resolves with the refreshed tool names once a list
 * containing `expected` arrives (the SDK re-lists the tools itself after the notification).
 */
export function toolsChangedWatcher(expected: string): {
  option: { debounceMs: number; onChanged: (error: Error | null, tools: { name: string }[] | null) => void };
  seen: Promise<string[]>;
} {
  const { promise, resolve, reject } = Promise.withResolvers<string[]>();
  // An error before the test awaits `seen` must not surface as an unhandled rejection.
  promise.catch(() => {});
  return {
    option: {
      debounceMs: 0,
      onChanged: (error, tools) => {
        if (error) reject(error);
        else if (tools?.some((t) => t.name === expected)) resolve(tools.map((t) => t.name).sort());
      },
    },
    // A getter, so the wait starts when the test awaits it.
    get seen() {
      return waitFor(promise, `tools/list_changed and a tool list containing ${expected}`);
    },
  };
}
