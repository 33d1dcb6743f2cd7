// A load balancer for multi-replica tests: one public URL in front of several Keyhole processes, no
// sticky sessions. Each request goes to the next live replica in turn (round robin) unless the test
// pins the next requests to one; every forwarded request is recorded with the replica that served it,
// so a test can show that consecutive steps of a flow landed on different processes. Streams (SSE)
// are piped through as they arrive.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Forwarded {
  method: string;
  path: string;
  replica: number;
  status: number;
}

export class Balancer {
  /** Backends (`http://127.0.0.1:port`), by index. */
  readonly targets: URL[];
  /** Replicas taken out of rotation (stopped or killed). */
  readonly down = new Set<number>();
  readonly log: Forwarded[] = [];
  #server: Server | undefined;
  #next = 0;
  #pinned: number | undefined;
  url!: URL;

  constructor(targets: URL[]) {
    this.targets = targets;
  }

  async listen(port = 0): Promise<URL> {
    const server = createServer((req, res) => {
      const replica = this.pick();
      const target = this.targets[replica]!;
      const upstream = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          // The Host header stays the public one, as behind a real proxy.
          headers: req.headers,
        },
        (up) => {
          this.log.push({
            method: req.method ?? '',
            path: req.url ?? '',
            replica,
            status: up.statusCode ?? 0,
          });
          res.writeHead(up.statusCode ?? 502, up.headers);
          // Headers go on at once, as the replica sent them: a resumed SSE stream may stay quiet.
          res.flushHeaders();
          up.pipe(res);
          res.on('close', () => up.destroy());
          // A replica that dies mid-response (a killed process under an open SSE stream) cuts the
          // client's connection too, as a reverse proxy does: pipe() alone would leave it hanging.
          up.on('close', () => {
            if (!up.complete) res.destroy();
          });
        },
      );
      upstream.on('error', () => {
        this.log.push({ method: req.method ?? '', path: req.url ?? '', replica, status: 502 });
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway');
      });
      req.pipe(upstream);
      res.on('close', () => {
        if (!upstream.destroyed && !res.writableFinished) upstream.destroy();
      });
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return this.url;
  }

  /** The replica the next request goes to (round robin over the live ones, or the pinned one). */
  pick(): number {
    if (this.#pinned !== undefined) return this.#pinned;
    for (let i = 0; i < this.targets.length; i++) {
      const candidate = this.#next++ % this.targets.length;
      if (!this.down.has(candidate)) return candidate;
    }
    throw new Error('no live replica');
  }

  /** Sends every request to `replica` until unpinned (undefined). */
  pin(replica: number | undefined): void {
    this.#pinned = replica;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
