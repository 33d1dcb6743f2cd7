// `keyhole audit tail --follow` loses nothing, through the real binary: on PostgreSQL
// (KEYHOLE_DATABASE_URL) a record whose transaction commits after a newer one's is printed when it
// appears; an id that never commits is given up after 30 s and said so on stderr; with PostgreSQL
// stopped and started again the follower says so on stderr, keeps its place and goes on; on SQLite
// --follow prints as before. Needs PostgreSQL on 127.0.0.1:5432 (test/support/databases.ts) and the
// PostgreSQL binaries for a private cluster (test/support/services.ts).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { run as auditCli } from '../../src/cli/audit.ts';
import type { CliIo } from '../../src/cli/run.ts';
import { openStorage } from '../../src/storage/open.ts';
import { APPEND } from '../../src/storage/postgres/audit.ts';
import type { Storage } from '../../src/storage/types.ts';
import { createDatabase, dropDatabase } from '../support/databases.ts';
import { startPrivatePostgres, waitFor } from '../support/services.ts';
import { cli, type Run, tempDir } from './helpers.ts';

interface Line {
  id: number;
  time: string;
  type: string;
  data: Record<string, unknown>;
}

const T = Date.UTC(2026, 0, 1);

function lines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** Waits until the child's stdout holds a record of this type. */
const printed = (run: Run, type: string) =>
  waitFor(`"${type}" on stdout`, () => lines(run.stdout()).some((l) => l.type === type));

/** Ends --follow as an operator would (Ctrl-C): exit code 0. */
async function interrupt(run: Run): Promise<void> {
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 0, run.stderr());
}

/** BEGIN and the adapter's own INSERT, not committed: the id is taken, the row not yet visible. */
async function holdAppend(c: pg.Client, type: string): Promise<number> {
  await c.query('BEGIN');
  await c.query(APPEND.text, [T, type, '{}']);
  const { rows } = await c.query<{ id: string }>(
    "SELECT currval(pg_get_serial_sequence('audit_log', 'id')) AS id",
  );
  return Number(rows[0]!.id);
}

describe('keyhole audit tail --follow on PostgreSQL', () => {
  let url: string;
  let storage: Storage;
  before(async () => {
    url = await createDatabase();
    storage = await openStorage({ kind: 'postgres', url });
  });
  after(async () => {
    await storage.close();
    await dropDatabase(url);
  });

  test('a record committed after a newer one appears in the output, once', async () => {
    await storage.audit.append('user.created', { userId: 'u1' }, T);
    const run = cli(['audit', 'tail', '--follow', '-n', '5'], { KEYHOLE_DATABASE_URL: url });
    await printed(run, 'user.created');

    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      const late = await holdAppend(holder, 'consent.denied'); // id N, in flight
      await storage.audit.append('user.deleted', { userId: 'u1' }, T + 1); // id N + 1, committed
      await printed(run, 'user.deleted'); // the follower has moved past N
      await holder.query('COMMIT');
      await printed(run, 'consent.denied');
      await interrupt(run);
      const out = lines(run.stdout());
      assert.deepEqual(
        out.map((l) => [l.id, l.type]),
        [
          [late - 1, 'user.created'],
          [late + 1, 'user.deleted'],
          [late, 'consent.denied'],
        ],
        'every record once; the late one when it appeared',
      );
      assert.equal(out[2]!.time, new Date(T).toISOString(), 'with its own time');
      assert.equal(run.stderr(), '');
    } finally {
      await holder.end();
    }
  });

  test('an id that never commits is given up after 30 s, on stderr; nothing printed twice', async () => {
    const now = { value: T };
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: {},
      cwd: process.cwd(),
    };
    await storage.audit.append('before', {}, T);
    const stop = new AbortController();
    const running = auditCli(['tail', '--follow', '-n', '1'], io, {
      storage,
      signal: stop.signal,
      pollMs: 5,
      now: () => now.value,
    });
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await waitFor('the first record', () => out.join('').includes('"before"'));
      const burned = await holdAppend(holder, 'rolled.back');
      await storage.audit.append('after', {}, T + 1);
      await waitFor('the newer record', () => out.join('').includes('"after"'));
      await holder.query('ROLLBACK');
      assert.deepEqual(err, [], 'not given up before 30 s');
      now.value += 30_000;
      await waitFor('the give-up message', () => err.length > 0);
      stop.abort();
      assert.equal(await running, 0);
      assert.deepEqual(err, [
        `keyhole: audit ids ${burned} never appeared within 30 s; no longer waiting (an append that ` +
          'failed or rolled back leaves its id unused)\n',
      ]);
      assert.deepEqual(
        lines(out.join('')).map((l) => l.type),
        ['before', 'after'],
      );
    } finally {
      stop.abort();
      await holder.end();
    }
  });
});

test('keyhole audit tail --follow rides out a PostgreSQL restart: says so, keeps its place, loses nothing', async () => {
  const server = await startPrivatePostgres();
  let storage: Storage | undefined;
  try {
    const url = await server.createDatabase('keyhole_follow');
    storage = await openStorage({ kind: 'postgres', url });
    await storage.audit.append('user.created', { userId: 'u1' }, T);
    const run = cli(['audit', 'tail', '--follow'], { KEYHOLE_DATABASE_URL: url });
    await printed(run, 'user.created');

    await storage.close();
    storage = undefined;
    await server.stop();
    await waitFor('the outage on stderr', () => /retrying every 1 s/.test(run.stderr()));
    assert.equal(run.child.exitCode, null, 'still running');
    assert.match(
      run.stderr(),
      /^keyhole: PostgreSQL at 127\.0\.0\.1:\d+\/keyhole_follow is unreachable: .*; retrying every 1 s$/m,
    );
    assert.doesNotMatch(run.stderr(), /password/i);

    await server.start();
    storage = await openStorage({ kind: 'postgres', url });
    await storage.audit.append('user.deleted', { userId: 'u1' }, T + 1);
    await printed(run, 'user.deleted');
    assert.match(run.stderr(), /^keyhole: audit storage answers again; following on$/m);
    await interrupt(run);
    assert.deepEqual(
      lines(run.stdout()).map((l) => [l.id, l.type]),
      [
        [1, 'user.created'],
        [2, 'user.deleted'],
      ],
    );
  } finally {
    await storage?.close();
    await server.close();
  }
});

test('keyhole audit tail --follow on SQLite prints new records in order, as before', async () => {
  const dir = join(tempDir(), 'data');
  const path = join(dir, 'keyhole.db');
  const storage = await openStorage({ kind: 'sqlite', path });
  try {
    for (let i = 1; i <= 3; i++) await storage.audit.append(`e${i}`, { i }, T + i);
    const run = cli(['audit', 'tail', '--follow', '-n', '2', '--data-dir', dir]);
    await printed(run, 'e3');
    await storage.audit.append('e4', { i: 4 }, T + 4);
    await storage.audit.append('e5', { i: 5 }, T + 5);
    await printed(run, 'e5');
    await interrupt(run);
    assert.deepEqual(
      lines(run.stdout()).map((l) => [l.id, l.type, l.data]),
      [2, 3, 4, 5].map((i) => [i, `e${i}`, { i }]),
    );
    assert.equal(run.stderr(), '');
  } finally {
    await storage.close();
  }
});
