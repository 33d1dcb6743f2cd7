// The official TypeScript SDK v2 (@modelcontextprotocol/server 2.4.0) serving the same `echo` tool
// the way its documentation deploys it: `createMcpHandler(factory)` — stateless, a fresh McpServer
// from the factory per HTTP request, default options (2026-07-28 modern path, 2025 stateless
// fallback, `auto` response mode) — mounted on plain node:http.
//
// The SDK's handler is web-standard (`fetch(Request) => Response`). Its docs mount it on node:http
// with `toNodeHandler` from @modelcontextprotocol/node, which is not installed here, so `nodeAdapter`
// below does the same conversion that adapter does (IncomingMessage -> Request with the body as
// text, Response -> writeHead + streamed body, client disconnect -> abort signal).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { announce, benchPort, exitWithParent, HOST } from './lib/announce.ts';

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'sdk-v2-bench', version: '2.4.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes its text argument', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
});

async function toWebRequest(req: IncomingMessage, signal: AbortSignal): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const method = req.method ?? 'GET';
  let body: string | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    let text = '';
    for await (const chunk of req) text += chunk;
    if (text.length > 0) body = text;
  }
  const url = `http://${req.headers.host ?? HOST}${req.url ?? '/'}`;
  return new Request(
    url,
    body === undefined ? { method, headers, signal } : { method, headers, body, signal },
  );
}

async function nodeAdapter(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const abort = new AbortController();
  let finished = false;
  res.on('close', () => {
    if (!finished) abort.abort();
  });
  let response: Response;
  try {
    response = await handler.fetch(await toWebRequest(req, abort.signal));
  } catch (err) {
    process.stderr.write(`sdk handler failed: ${String(err)}\n`);
    response = Response.json(
      { jsonrpc: '2.0', id: null, error: { code: -32603, message: 'Internal error' } },
      { status: 500 },
    );
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (response.body === null) {
    finished = true;
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      if (abort.signal.aborted) {
        await reader.cancel();
        break;
      }
      if (!res.write(r.value)) {
        await new Promise((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      }
    }
  } catch {
    // The client went away; the abort signal already cancelled the exchange.
  }
  finished = true;
  res.end();
}

const server = createServer((req, res) => {
  void nodeAdapter(req, res);
});
server.listen(benchPort(), HOST, () => announce(server.address()));
exitWithParent(() => {
  void handler.close();
  server.close();
});
