// The PostgreSQL and Redis the scale-out suites run on: the machine's shared servers, so the bench
// never touches anything but its own — a fresh database, created and dropped here, and a unique Redis
// key prefix whose keys are deleted afterwards (never FLUSHDB: other users share the server).

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';

export interface ScaleOutServices {
  /** The temporary database, for KEYHOLE_DATABASE_URL. */
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** A prefix no one else uses, ending in ':'. */
  readonly redisPrefix: string;
  /** Drops the database and deletes every key under the prefix. */
  dispose(): Promise<void>;
}

/** Host and port only: a URL may carry a password, which must not reach the report. */
export const where = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return 'an unparsable URL';
  }
};

async function admin(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** `adminUrl`: a database on the server where this user may CREATE DATABASE. */
export async function openServices(adminUrl: string, redisUrl: string): Promise<ScaleOutServices> {
  const id = randomBytes(6).toString('hex');
  const name = `keyhole_bench_${id}`;
  try {
    await admin(adminUrl, `CREATE DATABASE ${name}`);
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${where(adminUrl)}: cannot create a database (${(err as Error).message}); ` +
        'start it or pass --postgres=URL (env BENCH_POSTGRES_URL)',
      { cause: err },
    );
  }
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${name}`;
  const redisPrefix = `keyhole-bench-${id}:`;
  const redis = createClient({ url: redisUrl, socket: { connectTimeout: 5000, reconnectStrategy: false } });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    throw new Error(
      `Redis at ${where(redisUrl)}: cannot connect (${(err as Error).message}); start it or pass --redis=URL (env BENCH_REDIS_URL)`,
      { cause: err },
    );
  }
  return {
    databaseUrl: databaseUrl.toString(),
    redisUrl,
    redisPrefix,
    async dispose() {
      try {
        // SCAN, not KEYS: it does not block a server other clients are using.
        for await (const keys of redis.scanIterator({ MATCH: `${redisPrefix}*`, COUNT: 1000 })) {
          if (keys.length > 0) await redis.del(keys);
        }
      } finally {
        await redis.close();
        // FORCE: a replica killed without closing its pool may still hold a connection.
        await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }
    },
  };
}
