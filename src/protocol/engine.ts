// The protocol engine: routes one JSON-RPC message to its method under the semantics of its era.
// Modern (2026-07-28) requests are stateless: everything the engine needs is in the request's
// `_meta`. Legacy (initialize-based) requests run against their LegacySession.

import type { HeaderParam, McpServer, ServerChange } from '../server/server.ts';
import type { ClientCapabilities, Implementation, LoggingLevel } from '../server/types.ts';
import { LOGGING_LEVELS } from '../server/types.ts';
import { Call } from './call.ts';
import type { Dispatch, Outbound, Reply } from './contract.ts';
import {
  ErrorCode,
  errorResponse,
  InsufficientScopeError,
  isObject,
  type JsonObject,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  McpError,
} from './jsonrpc.ts';
import { complete } from './methods/completion.ts';
import type { Method, MethodEnv } from './methods/env.ts';
import { discover, initialize, ping, setLevel } from './methods/lifecycle.ts';
import { getPrompt, listPrompts } from './methods/prompts.ts';
import { listResources, listTemplates, readResource, subscribe, unsubscribe } from './methods/resources.ts';
import { callTool, listTools } from './methods/tools.ts';
import { RequestStateSealer } from './request-state.ts';
import { LegacySession } from './session.ts';
import { isModernVersion, META, SUPPORTED_VERSIONS } from './versions.ts';

export interface EngineOptions {
  /** HMAC key for MRTR requestState (>= 32 bytes). Random per process when unset: set it when replicas share traffic. */
  stateSecret?: string | Uint8Array;
  /** How long a requestState stays valid. Default 10 minutes. */
  stateTtlMs?: number;
  /** Called with unexpected handler errors (which reach the client only as "Internal error"). */
  onError?: (error: unknown, context: { method: string }) => void;
}

/** A modern subscriptions/listen stream (MCP 2026-07-28 basic/patterns/subscriptions). */
interface Listener {
  readonly id: JsonRpcId;
  readonly outbound: Outbound;
  readonly tools: boolean;
  readonly prompts: boolean;
  readonly resources: boolean;
  readonly uris: ReadonlySet<string>;
  end(): void;
}

const COMMON: Record<string, Method> = {
  'tools/list': listTools,
  'tools/call': callTool,
  'resources/list': listResources,
  'resources/templates/list': listTemplates,
  'resources/read': readResource,
  'prompts/list': listPrompts,
  'prompts/get': getPrompt,
  'completion/complete': complete,
};

const LEGACY_ONLY: Record<string, Method> = {
  initialize,
  ping,
  'logging/setLevel': setLevel,
  'resources/subscribe': subscribe,
  'resources/unsubscribe': unsubscribe,
};

export class Engine {
  readonly server: McpServer;
  readonly #env: MethodEnv;
  readonly #modern = new Map<string, Method>();
  readonly #legacy = new Map<string, Method>();
  readonly #sessions = new Set<LegacySession>();
  readonly #listeners = new Set<Listener>();
  /** In-flight requests that notifications/cancelled can reach, per session or stdio outbound. */
  readonly #inflight = new WeakMap<object, Map<JsonRpcId, AbortController>>();
  readonly #serverInfoMeta: JsonObject;
  readonly #onError: EngineOptions['onError'];
  readonly #unsubscribe: () => void;

  constructor(server: McpServer, options: EngineOptions = {}) {
    this.server = server;
    this.#env = { server, sealer: new RequestStateSealer(options.stateSecret, options.stateTtlMs) };
    this.#onError = options.onError;
    for (const [name, m] of Object.entries(COMMON)) {
      this.#modern.set(name, m);
      this.#legacy.set(name, m);
    }
    for (const [name, m] of Object.entries(LEGACY_ONLY)) this.#legacy.set(name, m);
    this.#modern.set('server/discover', discover(this.#env));
    this.#modern.set('subscriptions/listen', (params, call) => this.#listen(params, call));
    const info: Implementation = server.info;
    this.#serverInfoMeta = { [META.serverInfo]: info };
    this.#unsubscribe = server.onChange((c) => this.#broadcast(c));
  }

  createSession(): LegacySession {
    return new LegacySession();
  }

  attachSession(session: LegacySession): void {
    if (session.closed) return;
    this.#sessions.add(session);
    session.onClose(() => this.#sessions.delete(session));
  }

  /**
   * Delivers a server change that happened in another process serving the same app (the HTTP
   * session backplane relays them), as if this process's server had emitted it.
   */
  deliverChange(change: ServerChange): void {
    this.#broadcast(change);
  }

  toolHeaderParams(name: string): readonly HeaderParam[] | undefined {
    return this.server.tools.get(name)?.headerParams;
  }

  /** Ends every subscriptions/listen gracefully and stops listening to the server. */
  close(): void {
    for (const l of [...this.#listeners]) l.end();
    this.#unsubscribe();
  }

  async handle(request: JsonRpcRequest, dispatch: Dispatch): Promise<Reply> {
    const session = dispatch.session;
    const modern = session === undefined;
    let call: Call;
    try {
      call = modern ? this.#modernCall(request, dispatch) : this.#legacyCall(request, dispatch, session);
    } catch (err) {
      return this.#errorReply(request.id, err, modern, request.method);
    }
    const method = (modern ? this.#modern : this.#legacy).get(request.method);
    if (!method) {
      // MCP 2026-07-28 streamable-http "Protocol Version Header": unknown method = 404 + -32601.
      return {
        message: errorResponse(request.id, ErrorCode.MethodNotFound, `Method not found: ${request.method}`),
        status: modern ? 404 : 200,
      };
    }
    const key = this.#cancelKey(dispatch);
    let onAbort: (() => void) | undefined;
    if (key) {
      const ctl = new AbortController();
      let map = this.#inflight.get(key);
      if (!map) {
        map = new Map();
        this.#inflight.set(key, map);
      }
      map.set(request.id, ctl);
      if (dispatch.signal.aborted) ctl.abort(dispatch.signal.reason);
      else {
        onAbort = () => ctl.abort(dispatch.signal.reason);
        dispatch.signal.addEventListener('abort', onAbort, { once: true });
      }
      call.signal = ctl.signal;
    }
    try {
      const result = await method(request.params ?? {}, call, this.#env);
      if (call.signal.aborted && key) {
        // MCP basic/utilities/cancellation: no response for a cancelled request.
        return {
          message: errorResponse(request.id, ErrorCode.RequestTimeout, 'Request cancelled'),
          status: 200,
          cancelled: true,
        };
      }
      return {
        message: { jsonrpc: '2.0', id: request.id, result: modern ? this.#decorate(result) : result },
        status: 200,
      };
    } catch (err) {
      const reply = this.#errorReply(request.id, err, modern, request.method);
      return call.signal.aborted && key ? { ...reply, cancelled: true } : reply;
    } finally {
      if (key) this.#inflight.get(key)?.delete(request.id);
      // A transport may reuse one long-lived signal (stdio): do not let listeners pile up on it.
      if (onAbort) dispatch.signal.removeEventListener('abort', onAbort);
    }
  }

  notification(message: JsonRpcNotification, dispatch: Dispatch): void {
    const session = dispatch.session;
    switch (message.method) {
      case 'notifications/initialized':
        if (session) session.initialized = true;
        return;
      case 'notifications/cancelled': {
        const id = message.params?.requestId;
        const key = this.#cancelKey(dispatch);
        if (key && (typeof id === 'string' || typeof id === 'number')) {
          this.#inflight
            .get(key)
            ?.get(id)
            ?.abort(new McpError(ErrorCode.RequestTimeout, 'Request cancelled'));
        }
        return;
      }
      default:
        // notifications/roots/list_changed, notifications/progress from the client and unknown
        // notifications need no action (JSON-RPC 2.0 §4.1: no reply to notifications).
        return;
    }
  }

  response(message: JsonRpcResponse, dispatch: Dispatch): boolean {
    return dispatch.session?.deliverResponse(message) ?? false;
  }

  // -------------------------------------------------------------------------------------------

  /** MCP 2026-07-28 basic/index "Per-request protocol fields" and basic/versioning. */
  #modernCall(request: JsonRpcRequest, dispatch: Dispatch): Call {
    const params = request.params;
    const meta = params?._meta;
    if (!isObject(meta))
      throw new McpError(ErrorCode.InvalidParams, 'params._meta is required', undefined, 400);
    const version = meta[META.protocolVersion];
    if (typeof version !== 'string') {
      throw new McpError(
        ErrorCode.InvalidParams,
        `params._meta["${META.protocolVersion}"] is required`,
        undefined,
        400,
      );
    }
    if (!isModernVersion(version)) {
      throw new McpError(
        ErrorCode.UnsupportedProtocolVersion,
        'Unsupported protocol version',
        { supported: [...SUPPORTED_VERSIONS], requested: version },
        400,
      );
    }
    const caps = meta[META.clientCapabilities];
    if (!isObject(caps)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `params._meta["${META.clientCapabilities}"] is required`,
        undefined,
        400,
      );
    }
    const level = meta[META.logLevel];
    if (level !== undefined && !LOGGING_LEVELS.includes(level as LoggingLevel)) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `params._meta["${META.logLevel}"] is not a logging level`,
        undefined,
        400,
      );
    }
    const info = meta[META.clientInfo];
    return new Call({
      era: 'modern',
      protocolVersion: version,
      clientCapabilities: caps as ClientCapabilities,
      clientInfo: isObject(info) ? (info as unknown as Implementation) : undefined,
      requestId: request.id,
      method: request.method,
      meta,
      signal: dispatch.signal,
      principal: dispatch.principal,
      outbound: dispatch.outbound,
      session: undefined,
      logLevel: level as LoggingLevel | undefined,
      sendAllLogs: false,
    });
  }

  #legacyCall(request: JsonRpcRequest, dispatch: Dispatch, session: LegacySession): Call {
    if (session.closed) throw new McpError(ErrorCode.ConnectionClosed, 'Session closed');
    if (request.method !== 'initialize' && session.protocolVersion === undefined) {
      throw new McpError(ErrorCode.InvalidRequest, 'Server not initialized');
    }
    session.touch();
    const meta = request.params?._meta;
    return new Call({
      era: 'legacy',
      protocolVersion: session.protocolVersion ?? '',
      clientCapabilities: session.clientCapabilities,
      clientInfo: session.clientInfo,
      requestId: request.id,
      method: request.method,
      meta: isObject(meta) ? meta : undefined,
      signal: dispatch.signal,
      principal: dispatch.principal,
      outbound: dispatch.outbound,
      session,
      logLevel: session.logLevel,
      sendAllLogs: true,
    });
  }

  /** Where notifications/cancelled can find a request: its session, or the stdio channel. */
  #cancelKey(dispatch: Dispatch): object | undefined {
    if (dispatch.session) return dispatch.session;
    // Modern HTTP: closing the response stream is the cancellation (streamable-http "Cancellation").
    return dispatch.transport === 'stdio' ? dispatch.outbound : undefined;
  }

  /** MCP 2026-07-28 basic/index: every result carries resultType; serverInfo in `_meta`. */
  #decorate(result: JsonObject): JsonObject {
    if (result.resultType === undefined) result.resultType = 'complete';
    const meta = result._meta;
    result._meta = isObject(meta) ? { ...this.#serverInfoMeta, ...meta } : this.#serverInfoMeta;
    return result;
  }

  #errorReply(id: JsonRpcId, err: unknown, modern: boolean, method: string): Reply & { cancelled?: boolean } {
    if (err instanceof InsufficientScopeError) {
      // An HTTP authorization failure in every era (RFC 6750 §3.1: 403 insufficient_scope).
      return {
        message: errorResponse(id, err.code, err.message, err.data),
        status: 403,
        requiredScopes: err.requiredScopes,
      };
    }
    if (err instanceof McpError) {
      return {
        message: errorResponse(id, err.code, err.message, err.data),
        status: modern && err.httpStatus !== undefined ? err.httpStatus : 200,
      };
    }
    this.#onError?.(err, { method });
    return { message: errorResponse(id, ErrorCode.InternalError, 'Internal error'), status: 200 };
  }

  // -------------------------------------------------------------------------------------------
  // Change notifications

  async #listen(params: JsonObject, call: Call): Promise<JsonObject> {
    const filter = isObject(params.notifications) ? params.notifications : {};
    const uris = Array.isArray(filter.resourceSubscriptions)
      ? filter.resourceSubscriptions.filter((u): u is string => typeof u === 'string')
      : [];
    const id = call.requestId;
    const honoured: JsonObject = {};
    if (filter.toolsListChanged === true) honoured.toolsListChanged = true;
    if (filter.promptsListChanged === true) honoured.promptsListChanged = true;
    if (filter.resourcesListChanged === true) honoured.resourcesListChanged = true;
    if (uris.length) honoured.resourceSubscriptions = uris;
    const outbound = call.outbound;
    const { promise, resolve } = Promise.withResolvers<void>();
    const listener: Listener = {
      id,
      outbound,
      tools: honoured.toolsListChanged === true,
      prompts: honoured.promptsListChanged === true,
      resources: honoured.resourcesListChanged === true,
      uris: new Set(uris),
      end: () => resolve(),
    };
    // basic/patterns/subscriptions "Acknowledgment": first message, carrying the subscription id.
    outbound.send({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { _meta: { [META.subscriptionId]: id }, notifications: honoured },
    });
    this.#listeners.add(listener);
    const onAbort = () => resolve();
    call.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // basic/patterns/subscriptions "Graceful Closure": when the server ends the subscription it
      // answers the listen request, and that response is the graceful-end signal. A
      // notifications/cancelled sent first (basic/patterns/cancellation) makes clients settle the
      // subscription as dropped before the response arrives, as the SDK v2 client does; the
      // reference server sends the response alone, and so do we.
      await promise;
    } finally {
      this.#listeners.delete(listener);
      call.signal.removeEventListener('abort', onAbort);
    }
    return { _meta: { [META.subscriptionId]: id } };
  }

  #broadcast(change: ServerChange): void {
    // Copies of one session on several replicas each send it: its stream logs the change once.
    const sent = { changeId: change.id };
    if (change.kind === 'resource-updated') {
      const n = { uri: change.uri };
      for (const s of this.#sessions) {
        if (s.subscriptions.has(change.uri))
          s.standalone?.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: n }, sent);
      }
      for (const l of this.#listeners) {
        if (l.uris.has(change.uri)) {
          l.outbound.send({
            jsonrpc: '2.0',
            method: 'notifications/resources/updated',
            params: { ...n, _meta: { [META.subscriptionId]: l.id } },
          });
        }
      }
      return;
    }
    const method = `notifications/${change.kind}/list_changed`;
    for (const s of this.#sessions) s.standalone?.send({ jsonrpc: '2.0', method }, sent);
    for (const l of this.#listeners) {
      if (change.kind === 'tools' ? l.tools : change.kind === 'prompts' ? l.prompts : l.resources) {
        l.outbound.send({ jsonrpc: '2.0', method, params: { _meta: { [META.subscriptionId]: l.id } } });
      }
    }
  }
}
