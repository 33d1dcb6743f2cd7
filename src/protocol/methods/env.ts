import type { McpServer } from '../../server/server.ts';
import type { Call } from '../call.ts';
import type { JsonObject } from '../jsonrpc.ts';
import type { RequestStateSealer } from '../request-state.ts';

/** What every method handler may use besides its params and call. */
export interface MethodEnv {
  readonly server: McpServer;
  readonly sealer: RequestStateSealer;
}

export type Method = (params: JsonObject, call: Call, env: MethodEnv) => JsonObject | Promise<JsonObject>;

/** Marks list/read results as cacheable (MCP 2026-07-28 server/utilities/caching); legacy results stay as they were. */
export function cacheable(result: JsonObject, call: Call, env: MethodEnv): JsonObject {
  if (call.era === 'modern') {
    result.ttlMs = env.server.cache.ttlMs;
    result.cacheScope = env.server.cache.scope;
  }
  return result;
}
