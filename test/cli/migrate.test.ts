// `keyhole migrate` and the start-up errors of an unreachable PostgreSQL or Redis (issue #4
// "Configuration"), through the binary.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDatabase, dropDatabase } from '../support/databases.ts';
import { complete, tempDir } from './helpers.ts';

describe('keyhole migrate', () => {
  let databaseUrl: string;
  before(async () => {
    databaseUrl = await createDatabase();
  });
  after(async () => {
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('migrates PostgreSQL once, then has nothing to do', async () => {
    const first = await complete(['migrate'], { env: { KEYHOLE_DATABASE_URL: databaseUrl } });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^PostgreSQL: schema migrated from version 0 to \d+\n$/);
    const second = await complete(['migrate'], { env: { KEYHOLE_DATABASE_URL: databaseUrl } });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^PostgreSQL: schema at version \d+, nothing to do\n$/);
  });

  test('migrates the SQLite database of the data directory', async () => {
    const dir = join(tempDir(), 'data');
    const run = await complete(['migrate', '--data-dir', dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^SQLite .*keyhole\.db: schema migrated from version 0 to \d+\n$/);
  });

  test('an unreachable server: exit 1 naming it, never the password', async () => {
    const run = await complete(['migrate'], {
      env: { KEYHOLE_DATABASE_URL: 'postgres://keyhole:pw-never-shown@127.0.0.1:1/keyhole' },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /PostgreSQL at 127\.0\.0\.1:1/);
    assert.doesNotMatch(run.stderr + run.stdout, /pw-never-shown/);
  });

  test('bad usage and bad configuration: exit 2', async () => {
    const flag = await complete(['migrate', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Usage: keyhole migrate/);
    const config = await complete(['migrate'], { env: { KEYHOLE_DATABASE_URL: 'mysql://db/x' } });
    assert.equal(config.code, 2);
    assert.match(config.stderr, /KEYHOLE_DATABASE_URL: must be a URL like postgres:/);
  });
});

describe('keyhole serve with an unreachable dependency', () => {
  test('PostgreSQL: a clear start-up error, exit 1, no password', async () => {
    const run = await complete(['serve', '--port', '0', '--data-dir', join(tempDir(), 'd')], {
      env: { KEYHOLE_DATABASE_URL: 'postgres://keyhole:pw-never-shown@127.0.0.1:1/keyhole' },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /keyhole: cannot start: PostgreSQL at 127\.0\.0\.1:1/);
    assert.doesNotMatch(run.stderr + run.stdout, /pw-never-shown/);
  });

  test('Redis: a clear start-up error, exit 1, no password', async () => {
    const run = await complete(['serve', '--port', '0', '--data-dir', join(tempDir(), 'd')], {
      env: { KEYHOLE_REDIS_URL: 'redis://:pw-never-shown@127.0.0.1:1' },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /keyhole: cannot start: .*Redis at redis:\/\/.*127\.0\.0\.1:1/);
    assert.doesNotMatch(run.stderr + run.stdout, /pw-never-shown/);
  });
});
