// completion/complete (MCP server/utilities/completion): argument suggestions for prompts and
// resource-template variables, at most 100 values per response.

import type { Completer } from '../../server/server.ts';
import { ErrorCode, isObject, type JsonObject, McpError } from '../jsonrpc.ts';
import type { Method } from './env.ts';

const MAX_VALUES = 100;

export const complete: Method = async (params, call, env) => {
  const ref = params.ref;
  const argument = params.argument;
  if (!isObject(ref) || typeof ref.type !== 'string')
    throw new McpError(ErrorCode.InvalidParams, 'params.ref is required');
  if (!isObject(argument) || typeof argument.name !== 'string' || typeof argument.value !== 'string') {
    throw new McpError(ErrorCode.InvalidParams, 'params.argument needs a name and a value');
  }
  let completers: Record<string, Completer> | undefined;
  if (ref.type === 'ref/prompt') {
    const prompt = typeof ref.name === 'string' ? env.server.prompts.get(ref.name) : undefined;
    if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${String(ref.name)}`);
    completers = prompt.def.complete;
  } else if (ref.type === 'ref/resource') {
    const tpl = typeof ref.uri === 'string' ? env.server.templates.get(ref.uri) : undefined;
    if (!tpl) {
      // A fixed resource has no variables to complete.
      if (typeof ref.uri === 'string' && env.server.resources.has(ref.uri)) return empty();
      throw new McpError(ErrorCode.InvalidParams, `Unknown resource template: ${String(ref.uri)}`);
    }
    completers = tpl.def.complete;
  } else {
    throw new McpError(ErrorCode.InvalidParams, `Unsupported reference type: ${ref.type}`);
  }
  const fn = completers?.[argument.name];
  if (!fn) return empty();
  const context =
    isObject(params.context) && isObject(params.context.arguments) ? params.context.arguments : {};
  const out = await fn(argument.value, { arguments: context as Record<string, string>, ctx: call });
  const values = Array.isArray(out) ? out : out.values;
  const completion: JsonObject = { values: values.slice(0, MAX_VALUES) };
  const total = Array.isArray(out) ? values.length : (out.total ?? values.length);
  completion.total = total;
  completion.hasMore = Array.isArray(out)
    ? values.length > MAX_VALUES
    : (out.hasMore ?? values.length > MAX_VALUES);
  return { completion };
};

function empty(): JsonObject {
  return { completion: { values: [], hasMore: false } };
}
