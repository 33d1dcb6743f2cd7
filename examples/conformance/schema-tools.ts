// Tools whose input schemas matter on the wire: full JSON Schema 2020-12 preserved verbatim in
// tools/list (SEP-1613, SEP-2106), and an `x-mcp-header` parameter mirrored into an HTTP header
// (MCP 2026-07-28 streamable-http "Custom Headers from Tool Parameters", SEP-2243).

import type { McpServer } from '../../src/server/server.ts';

const CONTACT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'addressDef',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema 2020-12 keyword (§10.2.2.2).
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
};

export function registerSchemaTools(server: McpServer): void {
  server.tool({
    name: 'json_schema_2020_12_tool',
    description: 'Takes a contact described with JSON Schema 2020-12 ($defs, $ref, allOf, if/then/else)',
    input: CONTACT_SCHEMA,
    handler: (args) => `JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`,
  });

  server.tool({
    name: 'test_header_param',
    description: 'Echoes a region that clients also send as the Mcp-Param-Region header',
    input: {
      type: 'object',
      properties: {
        region: { type: 'string', description: 'Deployment region', 'x-mcp-header': 'Region' },
      },
      required: ['region'],
    },
    handler: (args) => `region=${String(args.region)}`,
  });
}
