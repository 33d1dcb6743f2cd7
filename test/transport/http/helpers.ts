// Shared plumbing for the HTTP transport tests: a Keyhole app over real HTTP on an ephemeral port, the
// modern request shape, legacy sessions, and an incremental SSE reader.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Engine } from '../../../src/protocol/engine.ts';
import type { McpServer } from '../../../src/server/server.ts';
import { createHttpApp, type HttpApp, type HttpAppOptions } from '../../../src/transport/http/app.ts';
import { createFixtureServer, type Probe } from './fixture.ts';

export const MODERN = '2026-07-28';
export const ACCEPT = 'application/json, text/event-stream';

export interface Harness {
  readonly app: HttpApp;
  readonly engine: Engine;
  readonly server: McpServer;
  readonly probe: Probe;
  /** The MCP endpoint on the listener (http://127.0.0.1:{port}/mcp). */
  readonly url: URL;
  /** The listener's origin, e.g. http://127.0.0.1:1234. */
  readonly origin: string;
  close(): Promise<void>;
}

export async function start(options: HttpAppOptions = {}): Promise<Harness> {
  const { server, probe } = createFixtureServer();
  const engine = new Engine(server);
  const app = createHttpApp(engine, { port: 0, ...options });
  await app.listen();
  // Requests go to the listener itself, whatever public URL the app was given.
  const origin = `http://127.0.0.1:${app.address()?.port}`;
  return {
    app,
    engine,
    server,
    probe,
    url: new URL('/mcp', origin),
    origin,
    close: () => app.close(),
  };
}

export function meta(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'keyhole-http-test', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
    ...extra,
  };
}

/** A conformant modern request: body with `_meta`, and the headers that mirror it. */
export function modern(
  method: string,
  params: Record<string, unknown> = {},
  id: number | string = 1,
): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: ACCEPT,
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
  };
  if ((method === 'tools/call' || method === 'prompts/get') && typeof params.name === 'string') {
    headers['mcp-name'] = params.name;
  }
  if (method === 'resources/read' && typeof params.uri === 'string') headers['mcp-name'] = params.uri;
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, params: { _meta: meta(), ...params } });
  return { headers, body };
}

export interface JsonReply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: JSON-RPC bodies are inspected field by field.
  json: any;
}

/** POST and read a whole (JSON or finite SSE) reply. */
export async function post(
  url: URL | string,
  headers: Record<string, string>,
  body: string,
): Promise<JsonReply> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return reply(res);
}

export async function reply(res: Response): Promise<JsonReply> {
  const text = await res.text();
  let json: unknown;
  if ((res.headers.get('content-type') ?? '').startsWith('application/json') && text) json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

/** Asserts an HTTP status and a JSON-RPC error code in the body. */
export function assertRpcError(r: JsonReply, status: number, code: number, id: unknown = undefined): void {
  assert.equal(r.status, status, `HTTP status (body: ${r.text})`);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.json?.jsonrpc, '2.0', r.text);
  assert.equal(r.json?.error?.code, code, r.text);
  assert.equal(typeof r.json?.error?.message, 'string');
  if (id !== undefined) assert.equal(r.json.id, id);
}

// ---------------------------------------------------------------------------------------------
// Legacy sessions

export async function initialize(
  url: URL,
  version = '2025-11-25',
  capabilities: Record<string, unknown> = {},
  extraHeaders: Record<string, string> = {},
): Promise<{ sessionId: string; headers: Record<string, string> }> {
  const r = await post(
    url,
    { 'content-type': 'application/json', accept: ACCEPT, ...extraHeaders },
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: version,
        capabilities,
        clientInfo: { name: 'keyhole-http-test', version: '1' },
      },
    }),
  );
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.protocolVersion, version);
  const sessionId = r.headers.get('mcp-session-id');
  assert.ok(sessionId, 'initialize answers with Mcp-Session-Id');
  const headers = {
    'content-type': 'application/json',
    accept: ACCEPT,
    'mcp-session-id': sessionId,
    'mcp-protocol-version': version,
    ...extraHeaders,
  };
  const ack = await post(
    url,
    headers,
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  );
  assert.equal(ack.status, 202);
  return { sessionId, headers };
}

export function rpc(method: string, params: Record<string, unknown> = {}, id: number | string = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

// ---------------------------------------------------------------------------------------------
// SSE

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

/** Reads events from an SSE response as they arrive. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = '';
  readonly comments: string[] = [];

  constructor(res: Response) {
    assert.ok(res.body, 'the response has a body');
    this.#reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event, or undefined when the stream ends. Comment lines are collected in `comments`. */
  async next(): Promise<SseEvent | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event = parseBlock(block, this.comments);
        if (event) return event;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += value;
    }
  }

  /** Reads until a comment line (a keep-alive) has arrived; events read meanwhile are returned. */
  async untilComment(): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    while (this.comments.length === 0) {
      const end = this.#buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event = parseBlock(block, this.comments);
        if (event) events.push(event);
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error('the stream ended before a comment line');
      this.#buffer += value;
    }
    return events;
  }

  /** The next event carrying JSON data (skips priming events), parsed. */
  // biome-ignore lint/suspicious/noExplicitAny: JSON-RPC messages are inspected field by field.
  async nextMessage(): Promise<{ event: SseEvent; message: any } | undefined> {
    for (;;) {
      const e = await this.next();
      if (!e) return undefined;
      if (e.data !== '') return { event: e, message: JSON.parse(e.data) };
    }
  }

  /** Every remaining event until the stream ends. */
  async rest(): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    for (let e = await this.next(); e; e = await this.next()) out.push(e);
    return out;
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function parseBlock(block: string, comments: string[]): SseEvent | undefined {
  const e: SseEvent = { data: '' };
  let sawField = false;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      comments.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    sawField = true;
    if (field === 'data') data.push(value);
    else if (field === 'id') e.id = value;
    else if (field === 'event') e.event = value;
    else if (field === 'retry') e.retry = Number(value);
  }
  if (!sawField) return undefined;
  e.data = data.join('\n');
  return e;
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP, for what fetch cannot send (Host header, exact bytes)

export function raw(
  url: URL,
  options: {
    method: string;
    path?: string;
    headers: Record<string, string | number>;
    body?: string | Buffer;
  },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path ?? url.pathname,
        headers: options.headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
