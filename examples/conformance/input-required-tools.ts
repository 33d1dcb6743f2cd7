// Multi round-trip request tools (MCP 2026-07-28 basic/patterns/mrtr, SEP-2322): each asks for
// client input through ctx.inputRequired() and finishes once the answers (and its own verified
// requestState) come back. The same handlers serve legacy sessions, where the engine turns the
// input requests into server-to-client requests.

import type { McpServer } from '../../src/server/server.ts';
import type { InputRequest } from '../../src/server/types.ts';
import { acceptedContent, acceptedString, rootCount, roundState, sampledText } from './answers.ts';

function askText(message: string, field: string): InputRequest {
  return {
    method: 'elicitation/create',
    params: {
      message,
      requestedSchema: { type: 'object', properties: { [field]: { type: 'string' } }, required: [field] },
    },
  };
}

function askSample(text: string, maxTokens: number): InputRequest {
  return {
    method: 'sampling/createMessage',
    params: { messages: [{ role: 'user', content: { type: 'text', text } }], maxTokens },
  };
}

const ASK_ROOTS: InputRequest = { method: 'roots/list', params: {} };

const ASK_CONFIRM: InputRequest = {
  method: 'elicitation/create',
  params: {
    message: 'Please confirm',
    requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
  },
};

export function registerInputRequiredTools(server: McpServer): void {
  server.tool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks for the user name by elicitation, then greets the user',
    handler: (_args, ctx) => {
      const name = acceptedString(ctx, 'user_name', 'name');
      if (name !== undefined) return `Hello, ${name}!`;
      // Answers to anything else (or none at all) do not satisfy the request: ask again (mrtr "Error Handling").
      return ctx.inputRequired({ inputRequests: { user_name: askText('What is your name?', 'name') } });
    },
  });

  server.tool({
    name: 'test_input_required_result_sampling',
    description: 'Asks the client to sample an answer, then returns it',
    handler: (_args, ctx) => {
      if (ctx.inputResponses?.sample_request) {
        return `Sampling result: ${sampledText(ctx, 'sample_request') ?? 'no response'}`;
      }
      return ctx.inputRequired({
        inputRequests: { sample_request: askSample('What is the capital of France?', 100) },
      });
    },
  });

  server.tool({
    name: 'test_input_required_result_list_roots',
    description: "Asks for the client's roots, then counts them",
    handler: (_args, ctx) => {
      const count = rootCount(ctx, 'roots_request');
      if (count !== undefined) return `Found ${count} root(s)`;
      return ctx.inputRequired({ inputRequests: { roots_request: ASK_ROOTS } });
    },
  });

  server.tool({
    name: 'test_input_required_result_request_state',
    description: 'Asks for a confirmation and carries its own state across the round trip',
    handler: (_args, ctx) => {
      const confirmed = acceptedContent(ctx, 'confirm')?.ok === true;
      if (roundState(ctx)?.kind === 'request-state' && confirmed) return 'state-ok: requestState validated';
      return ctx.inputRequired({ inputRequests: { confirm: ASK_CONFIRM }, state: { kind: 'request-state' } });
    },
  });

  server.tool({
    name: 'test_input_required_result_multiple_inputs',
    description: 'Asks for a name, a sampled greeting and the client roots in one round',
    handler: (_args, ctx) => {
      const name = acceptedString(ctx, 'user_name', 'name');
      const greeting = sampledText(ctx, 'greeting');
      const roots = rootCount(ctx, 'client_roots');
      if (roundState(ctx)?.kind === 'multiple-inputs' && name !== undefined && roots !== undefined) {
        return `Name: ${name}; Greeting: ${greeting ?? 'Hello there!'}; Roots: ${roots}`;
      }
      return ctx.inputRequired({
        inputRequests: {
          user_name: askText('What is your name?', 'name'),
          greeting: askSample('Generate a greeting', 50),
          client_roots: ASK_ROOTS,
        },
        state: { kind: 'multiple-inputs' },
      });
    },
  });

  server.tool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks for a name, then a favourite colour, in two rounds',
    handler: (_args, ctx) => {
      const state = roundState(ctx);
      if (state?.round === 2 && typeof state.name === 'string') {
        const color = acceptedString(ctx, 'step2', 'color');
        if (color !== undefined) return `Multi-round complete for ${state.name} who likes ${color}`;
        return ctx.inputRequired({
          inputRequests: { step2: askText('Step 2: What is your favorite color?', 'color') },
          state,
        });
      }
      const name = state?.round === 1 ? acceptedString(ctx, 'step1', 'name') : undefined;
      if (name !== undefined) {
        return ctx.inputRequired({
          inputRequests: { step2: askText('Step 2: What is your favorite color?', 'color') },
          state: { round: 2, name },
        });
      }
      return ctx.inputRequired({
        inputRequests: { step1: askText('Step 1: What is your name?', 'name') },
        state: { round: 1 },
      });
    },
  });

  server.tool({
    name: 'test_input_required_result_tampered_state',
    description:
      'Asks for a confirmation with integrity-protected state; tampered state is rejected by the engine',
    handler: (_args, ctx) => {
      if (roundState(ctx)?.kind === 'tamper-test' && ctx.inputResponses?.confirm) {
        return 'integrity-ok: state verified';
      }
      return ctx.inputRequired({ inputRequests: { confirm: ASK_CONFIRM }, state: { kind: 'tamper-test' } });
    },
  });

  server.tool({
    name: 'test_input_required_result_capabilities',
    description: 'Asks only for the kinds of input the client declared it can give',
    handler: (_args, ctx) => {
      const answered = Object.keys(ctx.inputResponses ?? {});
      if (answered.length > 0) return `capabilities-ok: received ${answered.join(',')}`;
      // mrtr "Server Requirements": never ask for input the client has not declared it supports.
      const requests: Record<string, InputRequest> = {};
      if (ctx.clientCapabilities.elicitation) requests.elicit_input = askText('Elicitation input', 'value');
      if (ctx.clientCapabilities.sampling) requests.sample_input = askSample('Sample request', 50);
      if (Object.keys(requests).length === 0) return 'No supported capabilities declared';
      return ctx.inputRequired({ inputRequests: requests });
    },
  });
}
