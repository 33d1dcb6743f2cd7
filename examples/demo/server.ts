// The demo application served by `npm start` (and by `keyhole serve` without --app): a small notes
// server that shows the Keyhole API — typed tools, structured output, progress and cancellation,
// a question to the user in the middle of a tool call (MRTR elicitation), scopes, a resource, a
// resource template and a prompt with argument completion.
//
// Any module that exports `createServer()` can be served the same way:
//   keyhole serve --app path/to/server.ts      (Streamable HTTP, every protocol revision)
//   keyhole stdio --app path/to/server.ts      (stdio, for local clients)

import { setTimeout as sleep } from 'node:timers/promises';
import * as z from 'zod';
import { McpServer } from '../../src/index.ts';

interface Note {
  title: string;
  text: string;
}

const README = `# Keyhole demo

Tools: echo, convert_length, countdown, delete_note, whoami.
Resources: this readme and one resource per note (notes://{id}).
Prompt: summarize_note (with completion of the note id and the style).
`;

const UNITS = { mm: 0.001, cm: 0.01, m: 1, km: 1000, in: 0.0254, ft: 0.3048, mi: 1609.344 } as const;
type Unit = keyof typeof UNITS;
const UNIT_NAMES = Object.keys(UNITS) as [Unit, ...Unit[]];

const STYLES = ['bullet points', 'one paragraph', 'one sentence', 'haiku'];

export function createServer(): McpServer {
  const server = new McpServer({
    name: 'keyhole-demo',
    title: 'Keyhole demo',
    version: '1.0.0',
    instructions:
      'A notes server. Read notes through the notes:// resources; delete_note asks the user first.',
  });

  // One store per server instance, so tests and multiple servers do not share state.
  const notes = new Map<string, Note>([
    ['welcome', { title: 'Welcome', text: 'Keyhole serves every MCP revision from one endpoint.' }],
    ['shopping', { title: 'Shopping list', text: 'Coffee, bread, oranges.' }],
    ['ideas', { title: 'Ideas', text: 'Try the countdown tool with a progress-aware client.' }],
  ]);
  const noteUri = (id: string) => `notes://${id}`;

  // The simplest tool: the benchmark calls it, so it returns exactly its argument.
  server.tool({
    name: 'echo',
    description: 'Returns the given text unchanged',
    input: z.object({ text: z.string().describe('Text to return') }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: ({ text }) => ({ content: [{ type: 'text', text }] }),
  });

  // Structured output: the output schema is advertised in tools/list and checked on every result.
  server.tool({
    name: 'convert_length',
    title: 'Convert length',
    description: 'Converts a length between metric and imperial units',
    input: z.object({
      value: z.number().describe('The length to convert'),
      from: z.enum(UNIT_NAMES).describe('Unit of value'),
      to: z.enum(UNIT_NAMES).describe('Unit of the result'),
    }),
    output: z.object({ value: z.number(), unit: z.enum(UNIT_NAMES) }),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    handler: ({ value, from, to }) => {
      const converted = Number(((value * UNITS[from]) / UNITS[to]).toPrecision(12));
      return {
        content: [{ type: 'text', text: `${value} ${from} = ${converted} ${to}` }],
        structuredContent: { value: converted, unit: to },
      };
    },
  });

  // Progress and cancellation: progress goes out only when the client sent a progressToken, and
  // ctx.signal aborts when the client cancels or disconnects, which ends the wait at once.
  server.tool({
    name: 'countdown',
    description: 'Counts down, reporting progress at every step; can be cancelled',
    input: z.object({
      from: z.number().int().min(1).max(60).describe('Where to start'),
      intervalMs: z.number().int().min(0).max(5000).default(1000).describe('Pause between steps'),
    }),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: async ({ from, intervalMs }, ctx) => {
      for (let left = from; left > 0; left--) {
        ctx.progress(from - left, from, `${left} to go`);
        await sleep(intervalMs, undefined, { signal: ctx.signal });
      }
      ctx.progress(from, from, 'done');
      return 'Lift-off!';
    },
  });

  // MRTR elicitation: the tool asks the user to confirm before it deletes anything. The handler is
  // written once; on a 2026-07-28 request the question goes back to the client as an
  // input_required result (with `state` sealed into requestState), and on a legacy session Keyhole
  // sends elicitation/create itself and calls the handler again with the answer.
  server.tool({
    name: 'delete_note',
    description: 'Deletes a note after the user confirms',
    input: z.object({ id: z.string().describe('The note id, as in notes://{id}') }),
    annotations: { destructiveHint: true, idempotentHint: true, openWorldHint: false },
    handler: ({ id }, ctx) => {
      const note = notes.get(id);
      if (!note) return { content: [{ type: 'text', text: `There is no note "${id}".` }], isError: true };
      const answer = ctx.inputResponses?.confirm;
      if (!answer) {
        if (!ctx.clientCapabilities.elicitation) {
          return {
            content: [
              { type: 'text', text: 'This client cannot ask the user to confirm, so nothing was deleted.' },
            ],
            isError: true,
          };
        }
        return ctx.inputRequired({
          inputRequests: {
            confirm: {
              method: 'elicitation/create',
              params: {
                message: `Delete the note "${note.title}"?`,
                requestedSchema: {
                  type: 'object',
                  properties: { confirm: { type: 'boolean', title: 'Delete it', default: false } },
                  required: ['confirm'],
                },
              },
            },
          },
          state: { id },
        });
      }
      const content = answer.content as { confirm?: unknown } | undefined;
      if (answer.action !== 'accept' || content?.confirm !== true) return `Kept "${note.title}".`;
      notes.delete(id);
      server.notifyResourceUpdated(noteUri(id));
      return `Deleted "${note.title}".`;
    },
  });

  // Scopes: with authorization on, only tokens holding profile:read can list or call this tool.
  server.tool({
    name: 'whoami',
    description: 'Tells who is calling: the signed-in user, client and scopes',
    scopes: ['profile:read'],
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: (_args, ctx) => {
      const p = ctx.principal;
      if (!p) return 'This server runs without authorization, so there is no signed-in user.';
      return {
        content: [{ type: 'text', text: `You are ${p.subject}, using client ${p.clientId}.` }],
        structuredContent: { subject: p.subject, clientId: p.clientId, scopes: [...p.scopes] },
      };
    },
  });

  server.resource({
    uri: 'demo://readme',
    name: 'readme',
    title: 'About this demo',
    mimeType: 'text/markdown',
    read: (uri) => [{ uri, mimeType: 'text/markdown', text: README }],
  });

  server.resourceTemplate({
    uriTemplate: 'notes://{id}',
    name: 'note',
    title: 'Note',
    description: 'One note, by id',
    mimeType: 'text/plain',
    list: () => [...notes].map(([id, n]) => ({ uri: noteUri(id), name: id, title: n.title })),
    complete: { id: (prefix) => [...notes.keys()].filter((id) => id.startsWith(prefix)) },
    read: (uri, { id = '' }) => {
      const note = notes.get(id);
      // No contents: Keyhole answers "Resource not found" in the form of the client's revision.
      if (!note) return undefined;
      return [{ uri, mimeType: 'text/plain', text: `${note.title}\n\n${note.text}` }];
    },
  });

  server.prompt({
    name: 'summarize_note',
    title: 'Summarize a note',
    description: 'Asks the model to summarize one note in a chosen style',
    arguments: z.object({
      id: z.string().describe('The note id'),
      style: z
        .string()
        .optional()
        .describe(`How to summarize: ${STYLES.join(', ')}`),
    }),
    complete: {
      id: (prefix) => [...notes.keys()].filter((id) => id.startsWith(prefix)),
      style: (prefix) => STYLES.filter((s) => s.startsWith(prefix.toLowerCase())),
    },
    get: ({ id, style }) => {
      const note = notes.get(id);
      const body = note ? `${note.title}\n\n${note.text}` : `(there is no note "${id}")`;
      return {
        description: `Summary of ${id}`,
        messages: [
          {
            role: 'user',
            content: { type: 'text', text: `Summarize this note as ${style ?? 'one sentence'}.` },
          },
          {
            role: 'user',
            content: { type: 'resource', resource: { uri: noteUri(id), mimeType: 'text/plain', text: body } },
          },
        ],
      };
    },
  });

  return server;
}
