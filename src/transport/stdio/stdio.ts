// The stdio transport (MCP 2026-07-28 basic/transports/stdio; 2025-11-25 .. 2024-11-05 transports
// "stdio"): newline-delimited JSON-RPC on stdin/stdout, logs on stderr only.
//
// Both eras share one process. Until an `initialize` succeeds every request is served statelessly
// under the modern rules (its `_meta` carries version and capabilities). A successful `initialize`
// selects legacy semantics for the rest of the process: one LegacySession whose stream is stdout,
// on which the server may also send requests (sampling, elicitation, roots) to the client.
// Requests run concurrently; their responses are written as they complete.

import type { Readable, Writable } from 'node:stream';
import { type Logger, silentLogger } from '../../observability/logger.ts';
import type { Dispatch, Outbound } from '../../protocol/contract.ts';
import type { Engine } from '../../protocol/engine.ts';
import {
  classify,
  ErrorCode,
  errorResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from '../../protocol/jsonrpc.ts';
import type { LegacySession } from '../../protocol/session.ts';
import { LineSplitter } from './lines.ts';

export interface StdioOptions {
  /** Default: process.stdin. */
  input?: Readable;
  /** Default: process.stdout. Nothing but JSON-RPC messages is ever written to it. */
  output?: Writable;
  logger?: Logger;
  /** Largest accepted message line, in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
  /**
   * When input ends, how long requests still running get to finish (their responses are still
   * written) before they are aborted. Default 10 s.
   */
  drainMs?: number;
}

export interface StdioTransport {
  /** Resolves once input has ended (or close() was called) and every request has been settled. */
  readonly closed: Promise<void>;
  /** Stops reading and drains as if input had ended. */
  close(): Promise<void>;
}

interface InFlight {
  readonly controller: AbortController;
  readonly dispatch: Dispatch;
  readonly method: string;
  readonly done: Promise<void>;
}

/** Serves `engine` over a pair of byte streams; returns at once. */
export function serveStdio(engine: Engine, options: StdioOptions = {}): StdioTransport {
  return new StdioConnection(engine, options);
}

class StdioConnection implements StdioTransport {
  readonly closed: Promise<void>;
  readonly #engine: Engine;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #log: Logger;
  readonly #drainMs: number;
  readonly #inflight = new Map<JsonRpcId, InFlight>();
  readonly #splitter: LineSplitter;
  /** Set once an `initialize` is dispatched; cleared again if it fails. */
  #session: LegacySession | undefined;
  #writable = true;
  #ending = false;
  #resolveClosed!: () => void;

  /** Modern requests: no server-to-client requests on stdio (2026-07-28 transports/stdio). */
  readonly #modernOut: Outbound = {
    canRequest: false,
    send: (m) => !('id' in m) && this.#write(m),
  };
  /** The legacy session's stream: the whole of stdout (2025-11-25 transports "stdio"). */
  readonly #legacyOut: Outbound = { canRequest: true, send: (m) => this.#write(m) };

  constructor(engine: Engine, options: StdioOptions) {
    this.#engine = engine;
    this.#input = options.input ?? process.stdin;
    this.#output = options.output ?? process.stdout;
    this.#log = options.logger ?? silentLogger;
    this.#drainMs = options.drainMs ?? 10_000;
    this.closed = new Promise((r) => {
      this.#resolveClosed = r;
    });
    this.#splitter = new LineSplitter(options.maxMessageBytes ?? 4 * 1024 * 1024, {
      line: (text) => this.#onLine(text),
      oversize: () => {
        this.#log.warn('stdio message too large, discarded');
        this.#write(errorResponse(null, ErrorCode.InvalidRequest, 'Message too large'));
      },
      invalid: () => this.#write(errorResponse(null, ErrorCode.ParseError, 'Parse error: invalid UTF-8')),
    });
    this.#output.on('error', (err: NodeJS.ErrnoException) => {
      // EPIPE: the client stopped reading. Nothing more can be delivered, so stop working for it.
      this.#log.info('stdout closed', { code: err.code });
      this.#writable = false;
      void this.close();
    });
    this.#input.on('data', (chunk: Buffer | string) => {
      this.#splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    });
    this.#input.on('end', () => {
      this.#splitter.end();
      void this.close();
    });
    this.#input.on('error', (err) => {
      this.#log.error('stdin error', { error: err });
      void this.close();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Input

  #onLine(text: string): void {
    if (this.#ending) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // JSON-RPC 2.0 §5.1: invalid JSON gets -32700 with a null id.
      this.#write(errorResponse(null, ErrorCode.ParseError, 'Parse error'));
      return;
    }
    if (Array.isArray(value)) {
      void this.#batch(value);
      return;
    }
    const reply = this.#accept(value);
    if (reply) void reply.then((r) => r && this.#write(r));
  }

  /**
   * One message. Returns the pending response of a request (undefined when nothing is due now, or
   * when the response must be dropped) for the caller to write, alone or in a batch.
   */
  #accept(value: unknown): Promise<JsonRpcResponse | undefined> | undefined {
    const c = classify(value);
    switch (c.kind) {
      case 'invalid':
        return Promise.resolve(errorResponse(c.id, ErrorCode.InvalidRequest, `Invalid Request: ${c.reason}`));
      case 'notification':
        this.#notification(c.message);
        return undefined;
      case 'response':
        this.#response(c.message);
        return undefined;
      case 'request':
        return this.#request(c.message);
    }
  }

  /**
   * JSON-RPC batches exist only in MCP 2025-03-26 (transports "stdio": a message may be a batch);
   * every later revision removed them, and an initialize MUST NOT be batched (2025-03-26 lifecycle).
   */
  async #batch(items: unknown[]): Promise<void> {
    if (this.#session?.protocolVersion !== '2025-03-26') {
      this.#write(
        errorResponse(
          null,
          ErrorCode.InvalidRequest,
          'JSON-RPC batches are not supported by this protocol version',
        ),
      );
      return;
    }
    // JSON-RPC 2.0 §6: an empty array is an invalid request, answered with a single error.
    if (items.length === 0) {
      this.#write(errorResponse(null, ErrorCode.InvalidRequest, 'Invalid Request: empty batch'));
      return;
    }
    const pending: Promise<JsonRpcResponse | undefined>[] = [];
    for (const item of items) {
      const r = this.#accept(item);
      if (r) pending.push(r);
    }
    const replies = (await Promise.all(pending)).filter((r): r is JsonRpcResponse => r !== undefined);
    // §6: no array at all when the batch held only notifications (and responses).
    if (replies.length) this.#write(replies);
  }

  #request(request: JsonRpcRequest): Promise<JsonRpcResponse | undefined> {
    if (this.#inflight.has(request.id)) {
      return Promise.resolve(
        errorResponse(request.id, ErrorCode.InvalidRequest, 'A request with this id is still in progress'),
      );
    }
    const isInitialize = request.method === 'initialize';
    let fresh: LegacySession | undefined;
    if (isInitialize && this.#session === undefined) {
      fresh = this.#engine.createSession();
      this.#session = fresh;
    }
    const controller = new AbortController();
    const session = this.#session;
    const dispatch: Dispatch = session
      ? { signal: controller.signal, outbound: this.#legacyOut, session, transport: 'stdio' }
      : { signal: controller.signal, outbound: this.#modernOut, transport: 'stdio' };
    const { promise: done, resolve: settle } = Promise.withResolvers<void>();
    this.#inflight.set(request.id, { controller, dispatch, method: request.method, done });
    return this.#engine
      .handle(request, dispatch)
      .then((reply) => {
        if (fresh) this.#afterInitialize(fresh, 'result' in reply.message);
        // MCP basic/utilities/cancellation: no response to a cancelled request.
        return reply.cancelled ? undefined : reply.message;
      })
      .finally(() => {
        this.#inflight.delete(request.id);
        settle();
      });
  }

  #afterInitialize(session: LegacySession, succeeded: boolean): void {
    if (!succeeded) {
      // A failed initialize selects nothing: the process stays open to either era.
      if (this.#session === session) this.#session = undefined;
      session.close();
      return;
    }
    session.standalone = this.#legacyOut;
    this.#engine.attachSession(session);
    this.#log.info('legacy session started', { protocolVersion: session.protocolVersion });
  }

  #notification(message: JsonRpcNotification): void {
    if (message.method === 'notifications/cancelled') {
      // Route to the dispatch the request ran under (its session, or the modern channel).
      const id = message.params?.requestId;
      const target = typeof id === 'string' || typeof id === 'number' ? this.#inflight.get(id) : undefined;
      if (target) this.#engine.notification(message, target.dispatch);
      return;
    }
    this.#engine.notification(message, this.#currentDispatch());
  }

  #response(message: JsonRpcResponse): void {
    if (!this.#session || !this.#engine.response(message, this.#currentDispatch())) {
      this.#log.debug('stdio response matched no server request', { id: message.id });
    }
  }

  #currentDispatch(): Dispatch {
    const signal = new AbortController().signal;
    return this.#session
      ? { signal, outbound: this.#legacyOut, session: this.#session, transport: 'stdio' }
      : { signal, outbound: this.#modernOut, transport: 'stdio' };
  }

  // ---------------------------------------------------------------------------------------------
  // Output and shutdown

  #write(message: JsonRpcMessage | JsonRpcResponse[]): boolean {
    if (!this.#writable) return false;
    // JSON.stringify escapes control characters, so a message never spans lines.
    this.#output.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  close(): Promise<void> {
    if (this.#ending) return this.closed;
    this.#ending = true;
    this.#input.removeAllListeners('data');
    this.#input.pause();
    void this.#drain().then(this.#resolveClosed);
    return this.closed;
  }

  /**
   * MCP 2026-07-28 transports/stdio "Shutdown": exit promptly once stdin closes. Requests already
   * running may still answer (a client that pipes a request and closes stdin reads its response),
   * but nothing waits on the client any more: the legacy session ends, which fails server-to-client
   * requests, and subscriptions/listen streams end at once.
   */
  async #drain(): Promise<void> {
    this.#session?.close();
    for (const f of this.#inflight.values()) {
      if (f.method === 'subscriptions/listen') f.controller.abort(new Error('stdin closed'));
    }
    const all = () => Promise.all([...this.#inflight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((r) => {
      timer = setTimeout(() => r('expired'), this.#drainMs);
    });
    const outcome = await Promise.race([all().then(() => 'drained' as const), expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.#log.warn('requests still running at shutdown were aborted', { count: this.#inflight.size });
      for (const f of this.#inflight.values()) f.controller.abort(new Error('shutting down'));
    }
    await this.#flush();
  }

  /** Resolves once everything written so far has been handed to the operating system. */
  #flush(): Promise<void> {
    if (!this.#writable || this.#output.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      this.#output.write('', () => resolve());
    });
  }
}
