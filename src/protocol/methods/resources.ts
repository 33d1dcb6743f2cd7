// resources/list, resources/templates/list, resources/read, resources/subscribe and unsubscribe
// (MCP 2026-07-28 server/resources; 2025-xx server/resources).

import type { ResourceListing } from '../../server/server.ts';
import type { ReadResourceResult, ResourceContents } from '../../server/types.ts';
import { ErrorCode, type JsonObject, McpError } from '../jsonrpc.ts';
import { isInputRequired, runInteractive } from '../mrtr.ts';
import { paginate } from '../pagination.ts';
import { requireScopes } from '../scopes.ts';
import { cacheable, type Method } from './env.ts';

export const listResources: Method = async (params, call, env) => {
  const items: JsonObject[] = [...env.server.resources.values()].map((r) => r.listing);
  for (const t of env.server.templates.values()) {
    if (!t.def.list) continue;
    const listed: ResourceListing[] = await t.def.list(call);
    for (const r of listed)
      items.push(t.def.mimeType && !r.mimeType ? { ...r, mimeType: t.def.mimeType } : { ...r });
  }
  const { page, nextCursor } = paginate(items, params.cursor, env.server.pageSize);
  const result: JsonObject = { resources: page };
  if (nextCursor) result.nextCursor = nextCursor;
  return cacheable(result, call, env);
};

export const listTemplates: Method = (params, call, env) => {
  const all = [...env.server.templates.values()].map((t) => t.listing);
  const { page, nextCursor } = paginate(all, params.cursor, env.server.pageSize);
  const result: JsonObject = { resourceTemplates: page };
  if (nextCursor) result.nextCursor = nextCursor;
  return cacheable(result, call, env);
};

function notFound(uri: string, era: 'modern' | 'legacy'): McpError {
  // MCP 2026-07-28 server/resources "Error Handling": -32602; 2025-11-25 and earlier used -32002.
  return new McpError(
    era === 'modern' ? ErrorCode.InvalidParams : ErrorCode.LegacyResourceNotFound,
    'Resource not found',
    {
      uri,
    },
  );
}

export const readResource: Method = async (params, call, env) => {
  const uri = params.uri;
  if (typeof uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.uri must be a string');
  let read: (() => unknown) | undefined;
  const fixed = env.server.resources.get(uri);
  if (fixed) {
    requireScopes(call.principal, fixed.scopes);
    read = () => fixed.read(uri, call);
  } else {
    for (const t of env.server.templates.values()) {
      const vars = t.template.match(uri);
      if (vars) {
        requireScopes(call.principal, t.scopes);
        read = () => t.def.read(uri, vars, call);
        break;
      }
    }
  }
  if (!read) throw notFound(uri, call.era);
  const returned = await runInteractive(call, params, env.sealer, read as () => unknown);
  if (isInputRequired(returned)) return returned as unknown as JsonObject;
  if (returned === undefined || returned === null) throw notFound(uri, call.era);
  const result: JsonObject = Array.isArray(returned)
    ? { contents: returned as ResourceContents[] }
    : { ...(returned as ReadResourceResult) };
  return cacheable(result, call, env);
};

export const subscribe: Method = (params, call) => {
  const uri = params.uri;
  if (typeof uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.uri must be a string');
  call.session?.subscriptions.add(uri);
  return {};
};

export const unsubscribe: Method = (params, call) => {
  const uri = params.uri;
  if (typeof uri !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.uri must be a string');
  call.session?.subscriptions.delete(uri);
  return {};
};
