// Prompts of the prompts-* scenarios, plus one that asks for input (MRTR on a non-tool request).

import * as z from 'zod';
import type { McpServer } from '../../src/server/server.ts';
import { acceptedString } from './answers.ts';
import { PNG_1X1 } from './media.ts';

const ARG_SUGGESTIONS = ['paris', 'park', 'party', 'test', 'testing'];

export function registerPrompts(server: McpServer): void {
  server.prompt({
    name: 'test_simple_prompt',
    title: 'Simple Test Prompt',
    description: 'A prompt without arguments',
    get: () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
    }),
  });

  server.prompt({
    name: 'test_prompt_with_arguments',
    title: 'Prompt With Arguments',
    description: 'A prompt with two required arguments',
    arguments: z.object({
      arg1: z.string().describe('First test argument'),
      arg2: z.string().describe('Second test argument'),
    }),
    complete: {
      arg1: (value) => ARG_SUGGESTIONS.filter((s) => s.startsWith(value)),
      arg2: (value) => ARG_SUGGESTIONS.filter((s) => s.startsWith(value)),
    },
    get: ({ arg1, arg2 }) => ({
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` },
        },
      ],
    }),
  });

  server.prompt({
    name: 'test_prompt_with_embedded_resource',
    title: 'Prompt With Embedded Resource',
    description: 'A prompt that embeds the resource it is given',
    arguments: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
    get: ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  });

  server.prompt({
    name: 'test_prompt_with_image',
    title: 'Prompt With Image',
    description: 'A prompt that includes an image',
    get: () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: PNG_1X1, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    }),
  });

  server.prompt({
    name: 'test_input_required_result_prompt',
    description: 'Asks the user for context by elicitation before building the prompt',
    get: (_args, ctx) => {
      const context = acceptedString(ctx, 'user_context', 'context');
      if (context !== undefined) {
        return {
          messages: [{ role: 'user', content: { type: 'text', text: `Prompt with context: ${context}` } }],
        };
      }
      return ctx.inputRequired({
        inputRequests: {
          user_context: {
            method: 'elicitation/create',
            params: {
              message: 'What context should the prompt use?',
              requestedSchema: {
                type: 'object',
                properties: { context: { type: 'string' } },
                required: ['context'],
              },
            },
          },
        },
      });
    },
  });
}
