// Diagnostic hooks of the 2026-07-28 stateless scenarios (SEP-2575): a tool that needs a client
// capability, tools whose response streams are inspected, and tools that change the tool and
// prompt lists so subscriptions/listen streams have something to report.

import type { Handle, McpServer } from '../../src/server/server.ts';

export function registerDiagnosticTools(server: McpServer): void {
  server.tool({
    name: 'test_missing_capability',
    description: "Needs the client's sampling capability; without it the request fails with -32021",
    handler: (_args, ctx) => {
      if (ctx.inputResponses?.probe) return 'Success';
      // The engine rejects this with MissingRequiredClientCapability when `sampling` was not declared
      // (MCP 2026-07-28 basic/patterns/mrtr "Server Requirements").
      return ctx.inputRequired({
        inputRequests: {
          probe: {
            method: 'sampling/createMessage',
            params: { messages: [{ role: 'user', content: { type: 'text', text: 'ping' } }], maxTokens: 10 },
          },
        },
      });
    },
  });

  server.tool({
    name: 'test_streaming_elicitation',
    description:
      'Reports progress, then asks for input with an input_required result (never a server request)',
    handler: (_args, ctx) => {
      if (ctx.inputResponses?.detail) return 'Streaming complete';
      ctx.progress(50, 100, 'Waiting for user input');
      return ctx.inputRequired({
        inputRequests: {
          detail: {
            method: 'elicitation/create',
            params: {
              message: 'Which detail should be streamed?',
              requestedSchema: { type: 'object', properties: { detail: { type: 'string' } } },
            },
          },
        },
      });
    },
  });

  server.tool({
    name: 'test_logging_tool',
    description: 'Logs one info message, delivered only if the request asked for a log level',
    handler: (_args, ctx) => {
      ctx.log('info', 'Diagnostic trace logging activated', 'conformance');
      return 'Logging evaluated';
    },
  });

  let dynamicTool: Handle | undefined;
  server.tool({
    name: 'test_trigger_tool_change',
    description: 'Adds or removes the tool test_dynamic_tool, which changes the tool list',
    handler: () => {
      if (dynamicTool) {
        dynamicTool.remove();
        dynamicTool = undefined;
        return 'Removed test_dynamic_tool';
      }
      dynamicTool = server.tool({
        name: 'test_dynamic_tool',
        description: 'Registered at runtime by test_trigger_tool_change',
        handler: () => 'Dynamic tool called',
      });
      return 'Registered test_dynamic_tool';
    },
  });

  let dynamicPrompt: Handle | undefined;
  server.tool({
    name: 'test_trigger_prompt_change',
    description: 'Adds or removes the prompt test_dynamic_prompt, which changes the prompt list',
    handler: () => {
      if (dynamicPrompt) {
        dynamicPrompt.remove();
        dynamicPrompt = undefined;
        return 'Removed test_dynamic_prompt';
      }
      dynamicPrompt = server.prompt({
        name: 'test_dynamic_prompt',
        description: 'Registered at runtime by test_trigger_prompt_change',
        get: () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'A dynamic prompt.' } }] }),
      });
      return 'Registered test_dynamic_prompt';
    },
  });
}
