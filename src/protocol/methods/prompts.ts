// prompts/list and prompts/get (MCP server/prompts).

import { ErrorCode, isObject, type JsonObject, McpError } from '../jsonrpc.ts';
import { isInputRequired, runInteractive } from '../mrtr.ts';
import { paginate } from '../pagination.ts';
import { requireScopes } from '../scopes.ts';
import { cacheable, type Method } from './env.ts';

export const listPrompts: Method = (params, call, env) => {
  const all = [...env.server.prompts.values()].map((p) => p.listing);
  const { page, nextCursor } = paginate(all, params.cursor, env.server.pageSize);
  const result: JsonObject = { prompts: page };
  if (nextCursor) result.nextCursor = nextCursor;
  return cacheable(result, call, env);
};

export const getPrompt: Method = async (params, call, env) => {
  const name = params.name;
  if (typeof name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.name must be a string');
  const prompt = env.server.prompts.get(name);
  if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  requireScopes(call.principal, prompt.scopes);
  const raw = params.arguments ?? {};
  if (!isObject(raw)) throw new McpError(ErrorCode.InvalidParams, 'params.arguments must be an object');
  for (const required of prompt.requiredArgs) {
    if (raw[required] === undefined)
      throw new McpError(ErrorCode.InvalidParams, `Missing required argument: ${required}`);
  }
  let args: Record<string, unknown> = raw;
  if (prompt.validate) {
    const v = prompt.validate.validate(raw);
    if (!v.ok)
      throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for prompt ${name}: ${v.message}`);
    args = v.value;
  }
  const returned = await runInteractive(call, params, env.sealer, () => prompt.def.get(args as never, call));
  if (isInputRequired(returned)) return returned as unknown as JsonObject;
  return { ...(returned as unknown as JsonObject) };
};
