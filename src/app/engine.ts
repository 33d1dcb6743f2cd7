// The application's server and its protocol engine, which both transports (HTTP, stdio) serve.

import type { KeyholeConfig } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import { Engine } from '../protocol/engine.ts';
import type { McpServer } from '../server/server.ts';
import { loadServerModule } from './load-app.ts';

export interface BuildOptions {
  /** Default: JSON lines on stderr at `config.log.level`. */
  logger?: Logger;
  /** Serve this server instead of loading `config.server.app` (tests, embedding). */
  server?: McpServer;
}

export async function createEngine(
  config: KeyholeConfig,
  logger: Logger,
  server?: McpServer,
): Promise<{ server: McpServer; engine: Engine }> {
  const app = server ?? (await loadServerModule(config.server.app));
  const engine = new Engine(app, {
    stateSecret: config.protocol.stateSecret,
    // Clients only see "Internal error"; the cause goes to the log.
    onError: (error, { method }) => logger.error('handler failed', { method, error }),
  });
  return { server: app, engine };
}
