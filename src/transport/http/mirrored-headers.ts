// MCP 2026-07-28 streamable-http "Request Metadata": the headers that mirror body fields, checked against
// the body so that an intermediary routing on a header and the server executing the body agree.

import type { IncomingHttpHeaders } from 'node:http';
import type { JsonObject, JsonRpcRequest } from '../../protocol/jsonrpc.ts';
import { isObject } from '../../protocol/jsonrpc.ts';
import { META } from '../../protocol/versions.ts';
import type { HeaderParam } from '../../server/server.ts';

/** What the validator needs from the engine: the `x-mcp-header` parameters of a tool. */
export interface ToolHeaderLookup {
  toolHeaderParams(name: string): readonly HeaderParam[] | undefined;
}

// RFC 9110 §5.5: field values are visible ASCII, space and horizontal tab. Node already rejects control
// characters; bytes >= 0x80 arrive as latin1 and are caught here ("Server Validation": invalid characters).
const INVALID_CHARS = /[^\t\x20-\x7e]/;
const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
// Canonical, padded standard Base64 only ("Value Encoding"; the SEP-2243 test cases reject bad padding).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a header value per "Value Encoding"; undefined when it carries invalid characters or bad Base64. */
export function decodeHeaderValue(raw: string): string | undefined {
  if (INVALID_CHARS.test(raw)) return undefined;
  if (
    raw.length < SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length ||
    !raw.startsWith(SENTINEL_PREFIX) ||
    !raw.endsWith(SENTINEL_SUFFIX)
  ) {
    return raw;
  }
  const inner = raw.slice(SENTINEL_PREFIX.length, raw.length - SENTINEL_SUFFIX.length);
  if (!BASE64.test(inner)) return undefined;
  try {
    return utf8.decode(Buffer.from(inner, 'base64'));
  } catch {
    return undefined;
  }
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The `Mcp-Name` source field of a method ("Standard Request Headers"), or undefined if it has none. */
function nameField(method: string): 'name' | 'uri' | undefined {
  if (method === 'tools/call' || method === 'prompts/get') return 'name';
  if (method === 'resources/read') return 'uri';
  return undefined;
}

/**
 * Checks MCP-Protocol-Version, Mcp-Method, Mcp-Name and Mcp-Param-* against the request body. Returns the
 * reason for a HeaderMismatch (-32020, HTTP 400) or undefined when everything agrees. A body field of the
 * wrong type is left to the engine, which answers with the precise -32602.
 */
export function checkMirroredHeaders(
  headers: IncomingHttpHeaders,
  request: JsonRpcRequest,
  tools: ToolHeaderLookup,
): string | undefined {
  const params = request.params;
  // "Protocol Version Header": required, and equal to the `_meta` version.
  const version = single(headers, 'mcp-protocol-version');
  if (version === undefined) return 'Header mismatch: MCP-Protocol-Version header is required';
  if (INVALID_CHARS.test(version))
    return 'Header mismatch: MCP-Protocol-Version header contains invalid characters';
  const meta = params?._meta;
  const metaVersion = isObject(meta) ? meta[META.protocolVersion] : undefined;
  if (typeof metaVersion === 'string' && metaVersion !== version) {
    return `Header mismatch: MCP-Protocol-Version header value '${version}' does not match body value '${metaVersion}'`;
  }

  // "Standard Request Headers": Mcp-Method on every request; values are case-sensitive ("Case Sensitivity").
  const method = single(headers, 'mcp-method');
  if (method === undefined) return 'Header mismatch: Mcp-Method header is required';
  if (INVALID_CHARS.test(method)) return 'Header mismatch: Mcp-Method header contains invalid characters';
  if (method !== request.method) {
    return `Header mismatch: Mcp-Method header value '${method}' does not match body value '${request.method}'`;
  }

  const field = nameField(request.method);
  if (field === undefined || params === undefined) return undefined;
  const bodyName = params[field];
  if (typeof bodyName !== 'string') return undefined;
  const rawName = single(headers, 'mcp-name');
  if (rawName === undefined) return `Header mismatch: Mcp-Name header is required for ${request.method}`;
  const name = decodeHeaderValue(rawName);
  if (name === undefined)
    return 'Header mismatch: Mcp-Name header contains invalid characters or invalid Base64';
  if (name !== bodyName) {
    return `Header mismatch: Mcp-Name header value '${name}' does not match body value '${bodyName}'`;
  }

  if (request.method !== 'tools/call') return undefined;
  const declared = tools.toolHeaderParams(bodyName);
  if (declared === undefined || declared.length === 0) return undefined;
  const args = params.arguments;
  return checkParamHeaders(headers, declared, isObject(args) ? args : undefined);
}

/** "Custom Headers from Tool Parameters": one Mcp-Param-{name} per annotated argument that has a value. */
function checkParamHeaders(
  headers: IncomingHttpHeaders,
  declared: readonly HeaderParam[],
  args: JsonObject | undefined,
): string | undefined {
  for (const p of declared) {
    const headerName = `mcp-param-${p.name}`;
    const raw = single(headers, headerName);
    const value = args === undefined ? undefined : valueAt(args, p.path);
    // "Server Behavior for Custom Headers": null or absent values have no header.
    if (value === undefined || value === null) {
      if (raw !== undefined) {
        return `Header mismatch: Mcp-Param-${p.name} header is present but arguments.${p.path.join('.')} is absent`;
      }
      continue;
    }
    if (raw === undefined) {
      return `Header mismatch: Mcp-Param-${p.name} header is required when arguments.${p.path.join('.')} is present`;
    }
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) {
      return `Header mismatch: Mcp-Param-${p.name} header contains invalid characters or invalid Base64`;
    }
    if (!sameValue(p.type, decoded, value)) {
      return `Header mismatch: Mcp-Param-${p.name} header value '${decoded}' does not match body value '${String(value)}'`;
    }
  }
  return undefined;
}

function valueAt(args: JsonObject, path: readonly string[]): unknown {
  let node: unknown = args;
  for (const key of path) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** "Value Encoding": strings as-is, integers in decimal (compared numerically), booleans lower-case. */
function sameValue(type: HeaderParam['type'], header: string, value: unknown): boolean {
  if (type === 'integer' && typeof value === 'number') {
    // "Server Validation" note: 42.0 and 42 are equal.
    return NUMBER.test(header) && Number(header) === value;
  }
  if (typeof value === 'string') return header === value;
  if (typeof value === 'number' || typeof value === 'boolean') return header === String(value);
  return false;
}
