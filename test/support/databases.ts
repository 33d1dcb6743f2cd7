// Throwaway databases and key prefixes on the machine's shared PostgreSQL and Redis (their standard
// local ports, as .ci/run ensures): each test file gets its own database and prefix, dropped after.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createClient } from 'redis';

export const POSTGRES_ADMIN_URL =
  process.env.KEYHOLE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.KEYHOLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function admin<T>(body: (c: pg.Client) => Promise<T>, url = POSTGRES_ADMIN_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await body(c);
  } finally {
    await c.end();
  }
}

/** A new empty database on `adminUrl`'s server; resolves with its URL. */
export async function createDatabase(adminUrl = POSTGRES_ADMIN_URL): Promise<string> {
  const name = `keyhole_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`), adminUrl);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

export async function dropDatabase(databaseUrl: string, adminUrl = POSTGRES_ADMIN_URL): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^keyhole_test_[0-9a-f]+$/.test(name)) throw new Error(`refusing to drop ${name}`);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`), adminUrl);
}

/** A Redis key prefix no other test uses. */
export function redisPrefix(): string {
  return `keyhole-test-${randomBytes(5).toString('hex')}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteRedisKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
    for (let i = 0; i < keys.length; i += 500) await client.del(keys.slice(i, i + 500));
  } finally {
    client.destroy();
  }
}
