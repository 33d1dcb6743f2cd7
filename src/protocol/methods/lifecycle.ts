// initialize, ping and logging/setLevel (legacy revisions), server/discover (2026-07-28).

import { LOGGING_LEVELS, type LoggingLevel } from '../../server/types.ts';
import { ErrorCode, isObject, type JsonObject, McpError } from '../jsonrpc.ts';
import { isLegacyVersion, LATEST_LEGACY_VERSION, SUPPORTED_VERSIONS } from '../versions.ts';
import type { Method, MethodEnv } from './env.ts';

/** Everything Keyhole serves; entries can be registered at runtime, so list changes are always announced. */
export function serverCapabilities(): JsonObject {
  return {
    tools: { listChanged: true },
    resources: { subscribe: true, listChanged: true },
    prompts: { listChanged: true },
    completions: {},
    logging: {},
  };
}

/** MCP 2025-11-25 basic/lifecycle "Initialization" and "Version Negotiation". */
export const initialize: Method = (params, call, env) => {
  const session = call.session;
  if (!session) throw new McpError(ErrorCode.InvalidRequest, 'initialize needs a session');
  if (session.protocolVersion !== undefined)
    throw new McpError(ErrorCode.InvalidRequest, 'Session is already initialized');
  const requested = params.protocolVersion;
  if (typeof requested !== 'string')
    throw new McpError(ErrorCode.InvalidParams, 'params.protocolVersion must be a string');
  if (params.capabilities !== undefined && !isObject(params.capabilities)) {
    throw new McpError(ErrorCode.InvalidParams, 'params.capabilities must be an object');
  }
  // "If the server supports the requested protocol version, it MUST respond with the same version.
  // Otherwise, the server MUST respond with another protocol version it supports."
  const version = isLegacyVersion(requested) ? requested : LATEST_LEGACY_VERSION;
  session.protocolVersion = version;
  session.clientCapabilities = (params.capabilities as JsonObject | undefined) ?? {};
  if (isObject(params.clientInfo)) session.clientInfo = params.clientInfo as never;
  const result: JsonObject = {
    protocolVersion: version,
    capabilities: serverCapabilities(),
    serverInfo: env.server.info,
  };
  if (env.server.instructions) result.instructions = env.server.instructions;
  return result;
};

export const ping: Method = () => ({});

/** MCP 2025-11-25 server/utilities/logging "Setting Log Level". */
export const setLevel: Method = (params, call) => {
  const level = params.level;
  if (typeof level !== 'string' || !LOGGING_LEVELS.includes(level as LoggingLevel)) {
    throw new McpError(ErrorCode.InvalidParams, `Invalid log level: ${String(level)}`);
  }
  if (call.session) call.session.logLevel = level as LoggingLevel;
  return {};
};

/** MCP 2026-07-28 server/discover: versions, capabilities and identity; cacheable. */
export function discover(env: MethodEnv): Method {
  return () => {
    const result: JsonObject = {
      supportedVersions: [...SUPPORTED_VERSIONS],
      capabilities: serverCapabilities(),
    };
    if (env.server.instructions) result.instructions = env.server.instructions;
    result.ttlMs = env.server.cache.ttlMs;
    result.cacheScope = 'public';
    return result;
  };
}
