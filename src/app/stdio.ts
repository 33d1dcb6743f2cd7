// Wiring for `keyhole stdio`: the application served over stdin/stdout to one local client.

import type { KeyholeConfig } from '../config/types.ts';
import { createLogger } from '../observability/logger.ts';
import type { Engine } from '../protocol/engine.ts';
import { type StdioOptions, type StdioTransport, serveStdio } from '../transport/stdio/stdio.ts';
import { type BuildOptions, createEngine } from './engine.ts';

export interface StdioKeyhole {
  readonly engine: Engine;
  readonly transport: StdioTransport;
  /** Resolves when input has ended and every request has been settled. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts serving at once. The data directory is not touched: nothing on the stdio path stores state
 * yet, and clients often launch servers from a working directory they cannot write to.
 */
export async function createStdioKeyhole(
  config: KeyholeConfig,
  options: BuildOptions & Pick<StdioOptions, 'input' | 'output'> = {},
): Promise<StdioKeyhole> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const { engine } = await createEngine(config, logger, options.server);
  const transport = serveStdio(engine, {
    input: options.input,
    output: options.output,
    logger: logger.child({ component: 'stdio' }),
    maxMessageBytes: config.http.maxBodyBytes,
    drainMs: config.server.shutdownGraceMs,
  });
  const closed = transport.closed.then(() => engine.close());
  return {
    engine,
    transport,
    closed,
    close: () => transport.close().then(() => closed),
  };
}
