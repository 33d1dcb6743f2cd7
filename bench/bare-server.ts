// The floor: a bare node:http JSON-RPC responder with no MCP framework. It does the least any server
// must do for this request (read the body, parse it once, check it, serialize the echo result, one
// write), so Keyhole's overhead is measured against it.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { announce, benchPort, exitWithParent, HOST } from './lib/announce.ts';

function send(res: ServerResponse, status: number, message: unknown): void {
  const body = JSON.stringify(message);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function fail(res: ServerResponse, status: number, id: unknown, code: number, message: string): void {
  send(res, status, { jsonrpc: '2.0', id: id ?? null, error: { code, message } });
}

function answer(res: ServerResponse, raw: string): void {
  let msg: Record<string, unknown>;
  try {
    msg = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    fail(res, 400, null, -32700, 'Parse error');
    return;
  }
  if (typeof msg !== 'object' || msg === null || msg.jsonrpc !== '2.0' || typeof msg.method !== 'string') {
    fail(res, 400, null, -32600, 'Invalid Request');
    return;
  }
  if (msg.method !== 'tools/call') {
    fail(res, 404, msg.id, -32601, 'Method not found');
    return;
  }
  const params = msg.params as { name?: unknown; arguments?: { text?: unknown } } | undefined;
  if (params?.name !== 'echo' || typeof params.arguments?.text !== 'string') {
    fail(res, 200, msg.id, -32602, 'Invalid params');
    return;
  }
  send(res, 200, {
    jsonrpc: '2.0',
    id: msg.id,
    result: { content: [{ type: 'text', text: params.arguments.text }] },
  });
}

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  if (req.method !== 'POST' || req.url !== '/mcp') {
    fail(res, 405, null, -32600, 'Method not allowed');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () =>
    answer(res, chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString()),
  );
});

server.listen(benchPort(), HOST, () => announce(server.address()));
exitWithParent(() => server.close());
