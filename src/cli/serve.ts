// `keyhole serve`: the HTTP server, until SIGTERM or SIGINT drains it.

import { createKeyhole, type Keyhole, UnsafeConfigError } from '../app/keyhole.ts';
import { describeStorage } from '../app/storage.ts';
import { AS_PATHS } from '../authserver/context.ts';
import { KeyConfigError } from '../authserver/key-encryption.ts';
import { ensureDevUser } from '../authserver/users.ts';
import { describeConfig } from '../config/load.ts';
import type { KeyholeConfig } from '../config/types.ts';
import { createLogger } from '../observability/logger.ts';
import { isStorageUnavailable } from '../storage/errors.ts';
import { type CliIo, EXIT_USAGE } from './run.ts';

/** Extra time after shutdownGraceMs before the process exits even if close() has not finished. */
const FORCE_EXIT_MARGIN_MS = 1_000;

export async function serve(config: KeyholeConfig, warnings: string[], io: CliIo): Promise<number> {
  const logger = createLogger({ level: config.log.level });
  for (const w of warnings) logger.warn(w);
  logger.debug('configuration', describeConfig(config));

  const { promise: stopped, resolve: stop } = Promise.withResolvers<number>();
  let keyhole: Keyhole | undefined;
  let requested: NodeJS.Signals | undefined;

  const shutdown = (running: Keyhole, signal: NodeJS.Signals) => {
    logger.info('shutting down', { signal, graceMs: config.server.shutdownGraceMs });
    const force = setTimeout(() => {
      logger.warn('shutdown grace expired: exiting with requests still open');
      stop(0);
    }, config.server.shutdownGraceMs + FORCE_EXIT_MARGIN_MS);
    running.close().then(
      () => {
        clearTimeout(force);
        logger.info('stopped');
        stop(0);
      },
      (err: unknown) => {
        clearTimeout(force);
        logger.error('shutdown failed', { error: err });
        stop(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (requested) {
      logger.warn('second signal: exiting without waiting for the drain', { signal });
      stop(1);
      return;
    }
    requested = signal;
    // A signal during start-up is honoured once the listener is up (below).
    if (keyhole) shutdown(keyhole, signal);
  };
  // Installed before anything is printed: whoever waits for the URL line may signal at once.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    let created: Keyhole;
    try {
      created = await createKeyhole(config, { logger });
    } catch (err) {
      if (err instanceof UnsafeConfigError) {
        io.stderr(`keyhole: ${err.message}\n`);
        return EXIT_USAGE;
      }
      // A signing-key setting that cannot work (HS256 without its secret, a short or foreign key secret).
      if (err instanceof KeyConfigError) {
        io.stderr(`keyhole: invalid configuration\n  ${err.message}\n`);
        return EXIT_USAGE;
      }
      // Issue #4 "Configuration": a clear start-up error naming the server (never its credentials).
      if (isStorageUnavailable(err)) {
        io.stderr(`keyhole: cannot start: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    // Development only (loopback, checked by createKeyhole): a user to sign in with, its password
    // printed on stdout for the person who ran `npm start`, never logged.
    const devUser =
      config.server.dev && created.auth
        ? await ensureDevUser(created.auth.storage, logger).catch(async (err: unknown) => {
            await created.close();
            throw err;
          })
        : undefined;
    keyhole = created;
    const url = await keyhole.listen();
    logger.info('serving', {
      app: config.server.app,
      storage: describeStorage(config),
      dataDir: config.server.dataDir,
      dev: config.server.dev,
    });
    if (requested) shutdown(keyhole, requested);
    else {
      io.stdout(`Keyhole MCP server listening on ${url.href}\n`);
      if (config.server.dev) io.stdout(devBanner(keyhole, url, devUser));
    }
    return await stopped;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

function devBanner(
  keyhole: Keyhole,
  url: URL,
  user: { username: string; password: string } | undefined,
): string {
  const { config } = keyhole;
  const issuer = keyhole.auth?.context?.config.issuer;
  const lines = [
    '',
    'Development mode',
    `  app        ${config.server.app}`,
    `  data dir   ${config.server.dataDir}`,
    `  health     ${new URL('/health/live', url).href}`,
    `  legacy SSE ${new URL(config.http.legacySsePath, url).href} (2024-11-05 clients)`,
    ...(user && issuer
      ? [
          `  auth       OAuth 2.1: clients discover the authorization server from the 401 (issuer ${issuer})`,
          `  sign in    user "${user.username}", password ${user.password}`,
          '             (a new password on every --dev start; add real users with: keyhole users add NAME)',
          `  authorize  ${issuer}${AS_PATHS.authorize}`,
        ]
      : ['  auth       none: every request is served without authorization']),
    `  try        npx @modelcontextprotocol/inspector, transport "Streamable HTTP", URL ${url.href}`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}
