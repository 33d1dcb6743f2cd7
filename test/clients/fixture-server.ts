// The server the SDK interoperability tests talk to, in-process over HTTP and as a child process over
// stdio (`keyhole stdio --app test/clients/fixture-server.ts` loads `createServer`).

import * as z from 'zod';
import { McpServer } from '../../src/server/server.ts';

export const GREETING_URI = 'keyhole://fixture/greeting';
export const GREETING_TEXT = 'Hello from the Keyhole fixture';

export function createServer(): McpServer {
  const server = new McpServer({ name: 'keyhole-fixture', version: '1.2.3' });

  server.tool({
    name: 'echo',
    description: 'Echoes its input',
    input: z.object({ text: z.string().describe('Text to echo') }),
    handler: ({ text }) => ({ content: [{ type: 'text', text }] }),
  });

  server.tool({
    name: 'add',
    description: 'Adds two numbers',
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.object({ sum: z.number() }),
    handler: ({ a, b }) => ({
      content: [{ type: 'text', text: JSON.stringify({ sum: a + b }) }],
      structuredContent: { sum: a + b },
    }),
  });

  // Progress notifications precede the result on the wire, but the SDK clients dispatch notifications a
  // microtask later than responses, so progress that shares a read chunk with the result is dropped
  // (modelcontextprotocol/typescript-sdk#2580). With `gate`, the tool holds its result until the client
  // calls `release` — which a test does from its onprogress callback once every step arrived.
  const gates = new Map<string, PromiseWithResolvers<void>>();
  const gate = (id: string) => {
    let g = gates.get(id);
    if (!g) {
      g = Promise.withResolvers<void>();
      gates.set(id, g);
    }
    return g;
  };

  server.tool({
    name: 'steps',
    description: 'Reports progress once per step',
    input: z.object({ count: z.number().int().min(1).max(10), gate: z.string().optional() }),
    handler: async ({ count, gate: id }, ctx) => {
      for (let i = 1; i <= count; i++) ctx.progress(i, count, `step ${i} of ${count}`);
      if (id !== undefined) {
        const { promise, reject } = Promise.withResolvers<never>();
        const onAbort = () => reject(new Error('cancelled'));
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        try {
          await Promise.race([gate(id).promise, promise]);
        } finally {
          ctx.signal.removeEventListener('abort', onAbort);
          gates.delete(id);
        }
      }
      return `finished ${count} steps`;
    },
  });

  server.tool({
    name: 'release',
    description: 'Lets a gated steps call return',
    input: z.object({ gate: z.string() }),
    handler: ({ gate: id }) => {
      gate(id).resolve();
      return `released ${id}`;
    },
  });

  // Lets a test whose server runs in another process (stdio) change the tool list at runtime.
  server.tool({
    name: 'register_tool',
    description: 'Registers a tool that answers with a fixed text',
    input: z.object({ name: z.string().regex(/^[a-z_]{1,32}$/), reply: z.string() }),
    handler: ({ name, reply }) => {
      server.tool({ name, description: 'Registered at runtime', handler: () => reply });
      return `registered ${name}`;
    },
  });

  server.resource({
    uri: GREETING_URI,
    name: 'greeting',
    description: 'A fixed greeting',
    mimeType: 'text/plain',
    read: (uri) => [{ uri, mimeType: 'text/plain', text: GREETING_TEXT }],
  });

  server.prompt({
    name: 'greet',
    description: 'Asks the model to greet someone',
    arguments: z.object({ name: z.string().describe('Who to greet') }),
    get: ({ name }) => ({
      description: `Greeting for ${name}`,
      messages: [{ role: 'user', content: { type: 'text', text: `Please greet ${name}.` } }],
    }),
  });

  return server;
}
