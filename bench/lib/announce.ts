// Child-side half of the runner protocol: every bench server listens on 127.0.0.1 (port from
// BENCH_PORT, ephemeral by default) and prints one line `listening <url>` once it accepts requests.

import type { AddressInfo } from 'node:net';

export const HOST = '127.0.0.1';

export function benchPort(): number {
  const raw = process.env.BENCH_PORT;
  const port = raw === undefined || raw === '' ? 0 : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`BENCH_PORT is not a port: ${raw}`);
  return port;
}

/** Prints the line the runner waits for. `path` is the MCP endpoint path. */
export function announce(address: AddressInfo | string | null, path = '/mcp'): void {
  if (address === null || typeof address === 'string') throw new Error('the server is not listening on TCP');
  process.stdout.write(`listening http://${HOST}:${address.port}${path}\n`);
}

/** Exits cleanly when the runner disconnects or signals, so no child outlives a run. */
export function exitWithParent(close: () => void): void {
  const stop = () => {
    close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}
