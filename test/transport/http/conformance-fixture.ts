import * as z from 'zod';
import { Engine } from '../../../src/protocol/engine.ts';
import { McpServer } from '../../../src/server/server.ts';
import { createHttpApp } from '../../../src/transport/http/app.ts';
import { closeSseStream } from '../../../src/transport/http/legacy.ts';
import { createLogger } from '../../../src/observability/logger.ts';

const server = new McpServer({ name: 'kh-conf', version: '1.0.0' });
server.tool({ name: 'echo', input: z.object({ text: z.string().optional() }), handler: ({ text }) => text ?? '' });
server.tool({
  name: 'test_reconnection',
  handler: async (_a, ctx) => {
    closeSseStream(ctx);
    await new Promise((r) => setTimeout(r, 100));
    return 'Reconnection test completed successfully.';
  },
});
server.tool({
  name: 'test_header_tool',
  input: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, q: { type: 'string' } }, required: ['region'] },
  handler: (a) => JSON.stringify(a),
});
server.tool({
  name: 'test_missing_capability',
  handler: (_a, ctx) => ctx.inputRequired({ inputRequests: { s: { method: 'sampling/createMessage', params: { messages: [], maxTokens: 10 } } } }),
});
let n = 0;
server.tool({ name: 'test_trigger_tool_change', handler: () => { server.tool({ name: `t${++n}`, handler: () => 'x' }); return 'ok'; } });
server.tool({ name: 'test_trigger_prompt_change', handler: () => { server.prompt({ name: `p${++n}`, get: () => ({ messages: [] }) }); return 'ok'; } });
server.tool({
  name: 'test_streaming_elicitation',
  handler: (_a, ctx) => {
    ctx.progress(1, 2, 'asking');
    if (ctx.inputResponses?.confirm) return 'confirmed';
    return ctx.inputRequired({
      inputRequests: {
        confirm: {
          method: 'elicitation/create',
          params: { message: 'Confirm?', requestedSchema: { type: 'object', properties: {} } },
        },
      },
    });
  },
});
server.tool({
  name: 'test_logging_tool',
  handler: (_a, ctx) => {
    ctx.log('info', 'a log line');
    return 'logged';
  },
});
server.prompt({ name: 'greet', get: () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }] }) });
const engine = new Engine(server);
const app = createHttpApp(engine, { port: Number(process.env.PORT ?? 0), logger: createLogger({ level: 'debug' }) });
const url = await app.listen();
console.log(url.href);
process.on('SIGTERM', async () => { await app.close(); process.exit(0); });
