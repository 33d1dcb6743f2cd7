// The conformance fixture: every tool, resource, template, prompt and completion that the
// @modelcontextprotocol/conformance server scenarios (0.1.16 and the 2026-07-28 set of 0.2) expect.
// `npm run example -- conformance` serves it; test/conformance runs both suites against it.

import { McpServer } from '../../src/server/server.ts';
import { registerClientRequestTools } from './client-request-tools.ts';
import { registerContentTools } from './content-tools.ts';
import { registerDiagnosticTools } from './diagnostic-tools.ts';
import { registerInputRequiredTools } from './input-required-tools.ts';
import { registerPrompts } from './prompts.ts';
import { registerResources } from './resources.ts';
import { registerSchemaTools } from './schema-tools.ts';

export function createServer(): McpServer {
  const server = new McpServer({
    name: 'keyhole-conformance',
    version: '1.0.0',
    instructions:
      'Fixture server for the MCP conformance suites; every tool exists to exercise one scenario.',
  });
  registerContentTools(server);
  registerClientRequestTools(server);
  registerSchemaTools(server);
  registerInputRequiredTools(server);
  registerDiagnosticTools(server);
  registerResources(server);
  registerPrompts(server);
  return server;
}
