// tools/list and tools/call (MCP 2026-07-28 server/tools; 2025-xx server/tools).

import type { CallToolResult, InputRequiredResult } from '../../server/types.ts';
import type { Call } from '../call.ts';
import { ErrorCode, isObject, type JsonObject, McpError } from '../jsonrpc.ts';
import { isInputRequired, runInteractive } from '../mrtr.ts';
import { paginate } from '../pagination.ts';
import { requireScopes } from '../scopes.ts';
import { cacheable, type Method, type MethodEnv } from './env.ts';

export const listTools: Method = (params, call, env) => {
  const all = [...env.server.tools.values()];
  const { page, nextCursor } = paginate(all, params.cursor, env.server.pageSize);
  const result: JsonObject = { tools: page.map((t) => t.listing) };
  if (nextCursor) result.nextCursor = nextCursor;
  return cacheable(result, call, env);
};

export const callTool: Method = async (params, call, env) => {
  const name = params.name;
  if (typeof name !== 'string') throw new McpError(ErrorCode.InvalidParams, 'params.name must be a string');
  const tool = env.server.tools.get(name);
  // MCP server/tools "Error Handling": an unknown tool is a protocol error.
  if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  requireScopes(call.principal, tool.scopes);
  const rawArgs = params.arguments ?? {};
  if (!isObject(rawArgs)) throw new McpError(ErrorCode.InvalidParams, 'params.arguments must be an object');
  const checked = tool.input.validate(rawArgs);
  // MCP 2026-07-28 server/tools "Error Handling": input validation errors are tool execution errors,
  // so the model can correct itself.
  if (!checked.ok) return toolError(`Invalid arguments for tool ${name}: ${checked.message}`);

  let returned: Awaited<ReturnType<typeof tool.handler>> | InputRequiredResult;
  try {
    returned = await runInteractive(call, params, env.sealer, () => tool.handler(checked.value, call));
  } catch (err) {
    if (err instanceof McpError || call.signal.aborted) throw err;
    // A failing tool is a tool execution error, reported in the result (server/tools "Error Handling").
    return toolError(err instanceof Error ? err.message : String(err));
  }
  if (isInputRequired(returned)) return returned as unknown as JsonObject;
  return normalizeToolResult(name, returned, tool.output, call);
};

function toolError(text: string): JsonObject {
  return { content: [{ type: 'text', text }], isError: true };
}

function normalizeToolResult(
  name: string,
  returned: unknown,
  output: { validate(v: unknown): { ok: boolean; message?: string } } | undefined,
  _call: Call,
): JsonObject {
  if (typeof returned === 'string') return { content: [{ type: 'text', text: returned }] };
  if (!isObject(returned)) throw new McpError(ErrorCode.InternalError, `tool ${name} returned no result`);
  const result = returned as CallToolResult & JsonObject;
  if (output && !result.isError) {
    // MCP server/tools "Output Schema": servers MUST provide structured results that conform to it.
    if (result.structuredContent === undefined) {
      throw new McpError(
        ErrorCode.InternalError,
        `tool ${name} has an output schema but returned no structuredContent`,
      );
    }
    const v = output.validate(result.structuredContent);
    if (!v.ok)
      throw new McpError(
        ErrorCode.InternalError,
        `tool ${name} returned invalid structuredContent: ${v.message}`,
      );
  }
  if (result.content === undefined) {
    // MCP server/tools "Structured Content": also return the serialized JSON in a text block.
    const out: JsonObject = { ...result };
    out.content =
      result.structuredContent !== undefined
        ? [{ type: 'text', text: JSON.stringify(result.structuredContent) }]
        : [];
    return out;
  }
  return result;
}

export type { MethodEnv };
