// The storage a configuration names: SQLite in the data directory by default, PostgreSQL when
// storage.databaseUrl is set, either one paired with Redis when storage.redisUrl is set (issue #4
// "Configuration"). `keyhole serve`, the administration commands and `keyhole migrate` all open it
// here, so they always agree on where the records are.

import { join } from 'node:path';
import type { KeyholeConfig } from '../config/types.ts';
import type { Logger } from '../observability/logger.ts';
import { openStorage } from '../storage/open.ts';
import type { PurgeOptions } from '../storage/purge.ts';
import type { Storage } from '../storage/types.ts';
import { ensureDataDir } from './data-dir.ts';

/** The SQLite database of the configuration: storage.sqlitePath, or keyhole.db in the data directory. */
export function databasePath(config: KeyholeConfig): string {
  return config.storage.sqlitePath ?? join(config.server.dataDir, 'keyhole.db');
}

export interface OpenConfiguredOptions {
  now?: () => number;
  /** Told of Redis connection errors after start-up (reconnection is automatic). */
  logger?: Logger;
}

/**
 * Opens (and, for PostgreSQL, migrates) the configured storage. Rejects with an error naming the
 * unreachable server, never its credentials (PostgresUnavailableError, RedisUnavailableError).
 */
export async function openConfiguredStorage(
  config: KeyholeConfig,
  options: OpenConfiguredOptions = {},
): Promise<Storage> {
  const { storage } = config;
  const { now, logger } = options;
  const purge = purgeOptions(config, logger);
  const redis =
    storage.redisUrl === undefined
      ? {}
      : {
          redisUrl: storage.redisUrl,
          redisPrefix: storage.redisPrefix,
          ...(logger
            ? {
                onRedisError: (err: Error) =>
                  logger.error('redis is unreachable: dependent requests get 503 until it returns', {
                    error: err.message,
                  }),
                onRedisReconnect: () => logger.info('redis is answering again'),
              }
            : {}),
        };
  if (storage.databaseUrl !== undefined) {
    return openStorage({
      kind: 'postgres',
      url: storage.databaseUrl,
      poolSize: storage.databasePoolSize,
      purge,
      ...(now ? { now } : {}),
      ...(logger
        ? {
            onAvailability: (up: boolean, err?: Error) =>
              up
                ? logger.info('postgresql is answering again')
                : logger.error('postgresql is unreachable: dependent requests get 503 until it returns', {
                    error: err?.message,
                  }),
          }
        : {}),
      ...redis,
    });
  }
  if (storage.sqlitePath === undefined && logger) ensureDataDir(config.server.dataDir, logger);
  return openStorage({
    kind: 'sqlite',
    path: databasePath(config),
    purge,
    ...(now ? { now } : {}),
    ...redis,
  });
}

const DAY_MS = 86_400_000;

/**
 * The purge as configured: audit records older than auth.auditRetentionDays go with the expired rows
 * (none without it), and each purge that removed anything is one debug line with the counts per table.
 */
function purgeOptions(config: KeyholeConfig, logger: Logger | undefined): PurgeOptions {
  const days = config.auth.auditRetentionDays;
  return {
    ...(days === undefined ? {} : { auditRetentionMs: days * DAY_MS }),
    ...(logger ? { onPurged: (removed) => logger.debug('purged old rows', { removed }) } : {}),
  };
}

/** Where the records are, for start-up messages: never a password. */
export function describeStorage(config: KeyholeConfig): string {
  const { storage } = config;
  const durable =
    storage.databaseUrl !== undefined
      ? `PostgreSQL ${hostOf(storage.databaseUrl)}`
      : `SQLite ${databasePath(config)}`;
  return storage.redisUrl === undefined ? durable : `${durable} + Redis ${hostOf(storage.redisUrl)}`;
}

function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return '[invalid URL]';
  }
}
