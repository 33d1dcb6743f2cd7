// A reverse proxy for tests that adds `Authorization: Bearer <token>` to requests for the MCP endpoints
// that come without one, and forwards everything else untouched (Host included, bodies and event
// streams piped as they flow). It stands in for the credential store of an MCP client that cannot be
// given a token itself — the conformance runners build their transports and fetches with fixed headers.

import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BearerProxy {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** Where requests go from now on (the upstream is known once Keyhole listens). */
  target: URL | undefined;
  /** The bearer token added to MCP requests; unset: requests pass as they are. */
  token: string | undefined;
  close(): Promise<void>;
}

export async function startBearerProxy(mcpPaths: readonly string[]): Promise<BearerProxy> {
  const proxy: BearerProxy = {
    origin: '',
    target: undefined,
    token: undefined,
    close: () => Promise.resolve(),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = proxy.target;
    if (!target) {
      res.writeHead(503);
      res.end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const headers = { ...req.headers };
    if (proxy.token !== undefined && headers.authorization === undefined && mcpPaths.includes(path)) {
      headers.authorization = `Bearer ${proxy.token}`;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    // A client that goes away (a cancelled stream) takes the upstream request with it.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
