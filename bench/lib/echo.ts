// The Keyhole application every Keyhole target serves: one `echo` tool (argument `text`, returned as one
// text block), registered as an application would.

import * as z from 'zod';
import { McpServer } from '../../src/server/server.ts';

/** `scopes`: the OAuth scopes a caller's token must hold to call echo (none without authorization). */
export function echoServer(scopes: readonly string[] = []): McpServer {
  const server = new McpServer({ name: 'keyhole-bench', version: '1.0.0' });
  server.tool({
    name: 'echo',
    description: 'Echoes its text argument',
    input: z.object({ text: z.string() }),
    ...(scopes.length > 0 ? { scopes } : {}),
    handler: ({ text }) => ({ content: [{ type: 'text', text }] }),
  });
  return server;
}
