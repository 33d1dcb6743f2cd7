// `keyhole stdio`: serves one client on stdin/stdout until stdin closes (MCP transports "stdio").

import { createStdioKeyhole, type StdioKeyhole } from '../app/stdio.ts';
import { describeConfig } from '../config/load.ts';
import type { KeyholeConfig } from '../config/types.ts';
import { createLogger } from '../observability/logger.ts';
import type { CliIo } from './run.ts';

export async function stdio(config: KeyholeConfig, warnings: string[], _io: CliIo): Promise<number> {
  // stdout carries JSON-RPC only: every log line goes to stderr.
  const logger = createLogger({ level: config.log.level });
  for (const w of warnings) logger.warn(w);
  logger.debug('configuration', describeConfig(config));

  let keyhole: StdioKeyhole | undefined;
  let requested = false;
  // A client may also stop the server with a signal (MCP 2026-07-28 transports/stdio "Shutdown").
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info('shutting down', { signal });
    requested = true;
    void keyhole?.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    keyhole = await createStdioKeyhole(config, { logger });
    logger.info('serving on stdio', { app: config.server.app });
    if (requested) void keyhole.close();
    await keyhole.closed;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  logger.info('stopped');
  return 0;
}
