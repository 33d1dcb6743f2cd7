// Multi round-trip requests (MCP 2026-07-28 basic/patterns/mrtr) for tools/call, prompts/get and
// resources/read. Handlers are written once, MRTR-style. For modern requests the interim result goes
// to the client with a sealed requestState; for legacy sessions the engine itself sends the input
// requests to the client as server-to-client requests and calls the handler again with the answers.

import type { ClientCapabilities, InputRequest, InputRequiredResult } from '../server/types.ts';
import { type Call, principalKey } from './call.ts';
import { ErrorCode, isObject, type JsonObject, McpError } from './jsonrpc.ts';
import { type RequestStateSealer, requestDigest } from './request-state.ts';

const MAX_LEGACY_ROUNDS = 16;

export function isInputRequired(value: unknown): value is InputRequiredResult {
  return isObject(value) && value.resultType === 'input_required';
}

/** Reads `inputResponses` and `requestState` of a modern retry into the call (mrtr "Error Handling"). */
export function acceptRetry(call: Call, params: JsonObject, sealer: RequestStateSealer): void {
  const responses = params.inputResponses;
  if (responses !== undefined) {
    if (!isObject(responses) || !Object.values(responses).every(isObject)) {
      throw new McpError(ErrorCode.InvalidParams, 'inputResponses must be an object of results');
    }
    call.inputResponses = responses as Record<string, JsonObject>;
  }
  const token = params.requestState;
  if (token !== undefined) {
    if (typeof token !== 'string')
      throw new McpError(ErrorCode.InvalidParams, 'requestState must be a string');
    // mrtr "Server Requirements" 4-5: attacker-controlled; verify integrity, principal, expiry, request.
    const opened = sealer.open(token, principalKey(call.principal), requestDigest(call.method, params));
    if (!opened.ok) throw new McpError(ErrorCode.InvalidParams, `Invalid requestState: ${opened.reason}`);
    call.requestState = opened.state;
  }
}

/** mrtr "Server Requirements" 7: never ask for input the client has not declared it can give. */
export function checkInputCapabilities(
  caps: ClientCapabilities,
  requests: Record<string, InputRequest> | undefined,
): void {
  if (!requests) return;
  const missing: JsonObject = {};
  for (const r of Object.values(requests)) {
    if (r.method === 'elicitation/create') {
      const mode = (r.params as JsonObject | undefined)?.mode;
      const el = caps.elicitation as JsonObject | undefined;
      // An empty elicitation capability means form mode only (MCP 2025-11-25 client/elicitation).
      const ok =
        el !== undefined &&
        (mode === 'url' ? el.url !== undefined : el.form !== undefined || el.url === undefined);
      if (!ok) missing.elicitation = mode === 'url' ? { url: {} } : { form: {} };
    } else if (r.method === 'sampling/createMessage') {
      if (caps.sampling === undefined) missing.sampling = {};
    } else if (r.method === 'roots/list') {
      if (caps.roots === undefined) missing.roots = {};
    } else {
      throw new McpError(ErrorCode.InternalError, `unsupported input request method`);
    }
  }
  if (Object.keys(missing).length) {
    // MCP 2026-07-28 basic/index "Per-request protocol fields": -32021, HTTP 400.
    throw new McpError(
      ErrorCode.MissingRequiredClientCapability,
      'Missing required client capability',
      { requiredCapabilities: missing },
      400,
    );
  }
}

/**
 * Runs an interactive handler to completion (legacy) or to its next interim result (modern).
 * `invoke` calls the user's handler with `call` as its context.
 */
export async function runInteractive<T>(
  call: Call,
  params: JsonObject,
  sealer: RequestStateSealer,
  invoke: () => T | InputRequiredResult | Promise<T | InputRequiredResult>,
): Promise<T | InputRequiredResult> {
  if (call.era === 'modern') {
    acceptRetry(call, params, sealer);
    const r = await invoke();
    if (!isInputRequired(r)) return r;
    checkInputCapabilities(call.clientCapabilities, r.inputRequests);
    const out: InputRequiredResult = { resultType: 'input_required' };
    if (r.inputRequests) out.inputRequests = r.inputRequests;
    if (call.pendingState !== undefined) {
      out.requestState = sealer.seal(
        call.pendingState,
        principalKey(call.principal),
        requestDigest(call.method, params),
      );
    }
    // mrtr "Server Requirements" 6: at least one of inputRequests or requestState.
    if (!out.inputRequests && out.requestState === undefined) {
      throw new McpError(ErrorCode.InternalError, 'an input-required result needs inputRequests or state');
    }
    return out;
  }
  const session = call.session;
  for (let round = 0; round < MAX_LEGACY_ROUNDS; round++) {
    const r = await invoke();
    if (!isInputRequired(r)) return r;
    checkInputCapabilities(call.clientCapabilities, r.inputRequests);
    const requests = Object.entries(r.inputRequests ?? {});
    const channel = call.outbound.canRequest ? call.outbound : session?.standalone;
    if (requests.length && (!session || !channel)) {
      throw new McpError(ErrorCode.InternalError, 'no open stream to send the server request on');
    }
    const answers = await Promise.all(
      requests.map(([, req]) => session!.request(channel!, req.method, req.params, call.signal)),
    );
    const responses: Record<string, JsonObject> = {};
    requests.forEach(([key], i) => {
      responses[key] = answers[i]!;
    });
    call.inputResponses = responses;
    call.requestState = call.pendingState;
    call.pendingState = undefined;
  }
  throw new McpError(ErrorCode.InternalError, 'too many input rounds');
}
