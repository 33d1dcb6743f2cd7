// Tools that need the client: sampling and elicitation. Written once, MRTR-style: a 2026-07-28
// client gets an input_required result and retries; in a legacy session the engine sends the same
// input requests as server-to-client requests and calls the handler again with the answers.

import * as z from 'zod';
import type { McpServer } from '../../src/server/server.ts';
import { answerAction, sampledText } from './answers.ts';

export function registerClientRequestTools(server: McpServer): void {
  server.tool({
    name: 'test_sampling',
    description: 'Asks the client to sample an LLM completion for the prompt',
    input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
    handler: ({ prompt }, ctx) => {
      const text = sampledText(ctx, 'completion');
      if (ctx.inputResponses?.completion) return `LLM response: ${text ?? '(no text)'}`;
      return ctx.inputRequired({
        inputRequests: {
          completion: {
            method: 'sampling/createMessage',
            params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 },
          },
        },
      });
    },
  });

  server.tool({
    name: 'test_elicitation',
    description: 'Asks the user for a response through the client',
    input: z.object({ message: z.string().describe('The message to show the user') }),
    handler: ({ message }, ctx) => {
      const answer = ctx.inputResponses?.response;
      if (answer) {
        return `User response: action=${answerAction(ctx, 'response')}, content=${JSON.stringify(answer.content ?? {})}`;
      }
      return ctx.inputRequired({
        inputRequests: {
          response: {
            method: 'elicitation/create',
            params: {
              message,
              requestedSchema: {
                type: 'object',
                properties: { response: { type: 'string', description: "User's response" } },
                required: ['response'],
              },
            },
          },
        },
      });
    },
  });

  // SEP-1034: defaults for every primitive type of an elicitation schema.
  server.tool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicits a form whose fields all carry default values (SEP-1034)',
    handler: (_args, ctx) => {
      const answer = ctx.inputResponses?.form;
      if (answer) return completed(answerAction(ctx, 'form'), answer.content);
      return ctx.inputRequired({
        inputRequests: {
          form: {
            method: 'elicitation/create',
            params: {
              message: 'Please review and update the form fields with defaults',
              requestedSchema: {
                type: 'object',
                properties: {
                  name: { type: 'string', description: 'User name', default: 'John Doe' },
                  age: { type: 'integer', description: 'User age', default: 30 },
                  score: { type: 'number', description: 'User score', default: 95.5 },
                  status: {
                    type: 'string',
                    description: 'User status',
                    enum: ['active', 'inactive', 'pending'],
                    default: 'active',
                  },
                  verified: { type: 'boolean', description: 'Verification status', default: true },
                },
                required: [],
              },
            },
          },
        },
      });
    },
  });

  // SEP-1330: the five enum shapes of an elicitation schema.
  server.tool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicits single- and multi-select enums, titled and untitled (SEP-1330)',
    handler: (_args, ctx) => {
      const answer = ctx.inputResponses?.choices;
      if (answer) return completed(answerAction(ctx, 'choices'), answer.content);
      const titled = (label: string) => [
        { const: 'value1', title: `First ${label}` },
        { const: 'value2', title: `Second ${label}` },
        { const: 'value3', title: `Third ${label}` },
      ];
      return ctx.inputRequired({
        inputRequests: {
          choices: {
            method: 'elicitation/create',
            params: {
              message: 'Please select options from the enum fields',
              requestedSchema: {
                type: 'object',
                properties: {
                  untitledSingle: {
                    type: 'string',
                    description: 'Select one option',
                    enum: ['option1', 'option2', 'option3'],
                  },
                  titledSingle: {
                    type: 'string',
                    description: 'Select one option with titles',
                    oneOf: titled('Option'),
                  },
                  legacyEnum: {
                    type: 'string',
                    description: 'Select one option (legacy)',
                    enum: ['opt1', 'opt2', 'opt3'],
                    enumNames: ['Option One', 'Option Two', 'Option Three'],
                  },
                  untitledMulti: {
                    type: 'array',
                    description: 'Select multiple options',
                    minItems: 1,
                    maxItems: 3,
                    items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
                  },
                  titledMulti: {
                    type: 'array',
                    description: 'Select multiple options with titles',
                    minItems: 1,
                    maxItems: 3,
                    items: { anyOf: titled('Choice') },
                  },
                },
                required: [],
              },
            },
          },
        },
      });
    },
  });
}

function completed(action: string | undefined, content: unknown): string {
  return `Elicitation completed: action=${action}, content=${JSON.stringify(content ?? {})}`;
}
