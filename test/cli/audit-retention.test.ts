// `keyhole audit tail` under an audit retention (KEYHOLE_AUDIT_RETENTION_DAYS), through the real binary:
// reading never deletes; a command that writes (here `keyhole clients add`, whose audit row is a write)
// purges the records past the retention, and the trail then lists what remains, oldest first; without
// the setting nothing goes; a bad value is refused before anything is touched.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { SqliteStorage } from '../../src/storage/sqlite/index.ts';
import { complete, tempDir } from './helpers.ts';

const DAY = 86_400_000;

interface Line {
  id: number;
  time: string;
  type: string;
  data: Record<string, unknown>;
}

test('keyhole audit tail lists what the retention leaves; only writes purge; unset keeps all', async () => {
  const dir = join(tempDir(), 'data');
  const path = join(dir, 'keyhole.db');
  await new SqliteStorage(path).close(); // the schema, in the data directory `keyhole` uses
  const now = Date.now();
  const db = new DatabaseSync(path);
  const insert = db.prepare('INSERT INTO audit_log (time, type, data) VALUES (?, ?, ?)');
  for (let i = 0; i < 3; i++) insert.run(now - 40 * DAY + i, 'login.failed', JSON.stringify({ n: i }));
  insert.run(now - 2 * DAY, 'user.created', JSON.stringify({ userId: 'u1' }));
  insert.run(now - DAY, 'login.succeeded', JSON.stringify({ userId: 'u1' }));
  db.close();

  const tail = async (env: Record<string, string> = {}) => {
    const run = await complete(['audit', 'tail', '-n', '50', '--data-dir', dir], { env });
    assert.equal(run.code, 0, run.stderr);
    return run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
  };
  const addClient = async (env: Record<string, string> = {}) => {
    const run = await complete(
      ['clients', 'add', '--name', 'Ops', '--redirect-uri', 'https://ops.example.com/cb', '--data-dir', dir],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
  };
  const RETAIN_30 = { KEYHOLE_AUDIT_RETENTION_DAYS: '30' };

  // Reading is not a write: nothing goes, whatever the retention.
  const before = await tail(RETAIN_30);
  assert.deepEqual(
    before.map((r) => r.type),
    ['login.failed', 'login.failed', 'login.failed', 'user.created', 'login.succeeded'],
  );

  // A write without a retention keeps everything.
  await addClient();
  assert.deepEqual(
    (await tail()).map((r) => r.type),
    [...before.map((r) => r.type), 'client.registered'],
  );

  // A write with a 30-day retention purges the 40-day-old records beside it.
  await addClient(RETAIN_30);
  const after = await tail(RETAIN_30);
  assert.deepEqual(
    after.map((r) => r.type),
    ['user.created', 'login.succeeded', 'client.registered', 'client.registered'],
  );
  assert.deepEqual(
    after.slice(0, 2),
    before.slice(3),
    'the records within the retention are listed exactly as before',
  );
  assert.ok(
    after.every((r, i) => i === 0 || r.id > after[i - 1]!.id),
    'oldest first',
  );

  // An invalid retention is refused at start, naming the key; the trail is untouched.
  for (const bad of ['0', '-5', 'forever']) {
    const run = await complete(
      ['clients', 'add', '--name', 'X', '--redirect-uri', 'https://x.example/cb', '--data-dir', dir],
      {
        env: { KEYHOLE_AUDIT_RETENTION_DAYS: bad },
      },
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /KEYHOLE_AUDIT_RETENTION_DAYS: must be an integer 1-36500/);
  }
  assert.deepEqual(await tail(), after);
});
