// Local users: creation rules, password checks with one answer for every failure, removal revoking the
// user's grants, the development user of `keyhole serve --dev`, and `keyhole users add|list|remove|passwd`
// with the password read from standard input (never from argv).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { verifyPassword } from '../../src/authserver/passwords.ts';
import {
  createUser,
  DEV_USERNAME,
  deleteUser,
  ensureDevUser,
  setUserPassword,
  UserError,
  verifyUser,
} from '../../src/authserver/users.ts';
import type { CliIo } from '../../src/cli/run.ts';
import { run } from '../../src/cli/users.ts';
import { EventBus, type SecurityEvent } from '../../src/observability/events.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { openStorage } from '../../src/storage/open.ts';

const PASSWORD = 'correct horse battery staple';
const now = () => 1_700_000_000_000;

describe('users', () => {
  test('createUser stores a scrypt hash, never the password, and emits user.created', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const bus = new EventBus();
    const events: SecurityEvent[] = [];
    bus.on((e) => events.push(e));
    const user = await createUser(storage, 'alice', PASSWORD, { events: bus, now });
    const stored = await storage.users.getByUsername('alice');
    assert.equal(stored?.id, user.id);
    assert.match(stored!.passwordHash, /^scrypt\$/);
    assert.doesNotMatch(JSON.stringify(stored), new RegExp(PASSWORD));
    assert.equal(await verifyPassword(PASSWORD, stored!.passwordHash), true);
    assert.deepEqual(
      events.map((e) => [e.type, e.data]),
      [['user.created', { userId: user.id, username: 'alice' }]],
    );
  });

  for (const [why, username, password, code] of [
    ['empty username', '', PASSWORD, 'invalid_username'],
    ['username with a space', 'al ice', PASSWORD, 'invalid_username'],
    ['username with markup', '<b>', PASSWORD, 'invalid_username'],
    ['username of 65 characters', 'a'.repeat(65), PASSWORD, 'invalid_username'],
    ['empty password', 'alice', '', 'invalid_password'],
    ['7-character password', 'alice', '1234567', 'invalid_password'],
  ] as const) {
    test(`createUser refuses ${why} and stores nothing`, async () => {
      const storage = await openStorage({ kind: 'memory' });
      await assert.rejects(createUser(storage, username, password), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.code, code);
        return true;
      });
      assert.deepEqual(await storage.users.list(), []);
    });
  }

  test('createUser refuses an existing username', async () => {
    const storage = await openStorage({ kind: 'memory' });
    await createUser(storage, 'alice', PASSWORD);
    await assert.rejects(createUser(storage, 'alice', 'another password'), { code: 'exists' });
    assert.equal((await storage.users.list()).length, 1);
  });

  test('verifyUser: ok, bad_password, unknown_user, disabled', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const alice = await createUser(storage, 'alice', PASSWORD);
    assert.deepEqual(await verifyUser(storage, 'alice', PASSWORD), { ok: true, user: alice });
    assert.deepEqual(await verifyUser(storage, 'alice', 'wrong password'), {
      ok: false,
      reason: 'bad_password',
    });
    assert.deepEqual(await verifyUser(storage, 'nobody', PASSWORD), { ok: false, reason: 'unknown_user' });
    assert.deepEqual(await verifyUser(storage, 'not a name!', PASSWORD), {
      ok: false,
      reason: 'unknown_user',
    });
    await storage.users.delete(alice.id);
    await storage.users.create({ ...alice, disabled: true });
    // The password is checked first: a disabled account is not revealed to someone without it.
    assert.deepEqual(await verifyUser(storage, 'alice', 'wrong password'), {
      ok: false,
      reason: 'bad_password',
    });
    assert.deepEqual(await verifyUser(storage, 'alice', PASSWORD), { ok: false, reason: 'disabled' });
  });

  test('verifyUser upgrades a hash made with weaker parameters', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const { hashPassword } = await import('../../src/authserver/passwords.ts');
    await storage.users.create({
      id: 'u1',
      username: 'old',
      passwordHash: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }),
      createdAt: now(),
    });
    const result = await verifyUser(storage, 'old', PASSWORD);
    assert.equal(result.ok, true);
    const stored = await storage.users.get('u1');
    assert.match(stored!.passwordHash, /^scrypt\$32768\$8\$1\$/);
    assert.equal(await verifyPassword(PASSWORD, stored!.passwordHash), true);
  });

  test('setUserPassword replaces the hash', async () => {
    const storage = await openStorage({ kind: 'memory' });
    await createUser(storage, 'alice', PASSWORD);
    await setUserPassword(storage, 'alice', 'new password 123');
    assert.equal((await verifyUser(storage, 'alice', PASSWORD)).ok, false);
    assert.equal((await verifyUser(storage, 'alice', 'new password 123')).ok, true);
    await assert.rejects(setUserPassword(storage, 'alice', 'short'), { code: 'invalid_password' });
    await assert.rejects(setUserPassword(storage, 'nobody', 'long enough password'), { code: 'not_found' });
  });

  test("deleteUser removes the user and revokes the user's grants (refresh families and access tokens)", async () => {
    const storage = await openStorage({ kind: 'memory', now });
    const alice = await createUser(storage, 'alice', PASSWORD);
    const t = now();
    await storage.grants.create({
      id: 'g1',
      clientId: 'c1',
      subject: alice.id,
      scopes: [],
      resource: 'https://mcp.example/mcp',
      authTime: t,
      createdAt: t,
      expiresAt: t + 86_400_000,
    });
    const { grantsRevoked } = await deleteUser(storage, 'alice', { revocationTtlSec: 3720, now: () => t });
    assert.equal(grantsRevoked, 1);
    assert.equal(await storage.users.getByUsername('alice'), undefined);
    assert.equal((await storage.grants.get('g1'))?.revokedReason, 'user_deleted');
    assert.equal(await storage.revocations.isRevoked('grant:g1', t + 3_719_000), true);
    await assert.rejects(deleteUser(storage, 'alice', { revocationTtlSec: 1 }), { code: 'not_found' });
  });

  test('ensureDevUser creates `dev` with a random password, and on the next start resets it', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const first = await ensureDevUser(storage, silentLogger);
    assert.equal(first.username, DEV_USERNAME);
    assert.equal(first.created, true);
    assert.ok(first.password.length >= 16);
    assert.equal((await verifyUser(storage, 'dev', first.password)).ok, true);
    const second = await ensureDevUser(storage, silentLogger);
    assert.equal(second.created, false);
    assert.notEqual(second.password, first.password);
    assert.equal((await verifyUser(storage, 'dev', second.password)).ok, true, 'the printed password works');
    assert.equal((await verifyUser(storage, 'dev', first.password)).ok, false);
    assert.equal((await storage.users.list()).length, 1);
  });
});

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env: {},
    cwd: process.cwd(),
  };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

const stdin = (text: string) => Readable.from([text]);

describe('keyhole users', () => {
  test('add reads the password from the first line of stdin; list shows no hash', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const t = io();
    assert.equal(
      await run(['add', 'alice'], t.io, { storage, now, stdin: stdin(`${PASSWORD}\nignored\n`) }),
      0,
      t.err(),
    );
    assert.match(t.out(), /Created user alice/);
    assert.equal((await verifyUser(storage, 'alice', PASSWORD)).ok, true);
    const rows = await storage.audit.tail(5);
    assert.deepEqual(
      rows.map((r) => r.type),
      ['user.created'],
    );

    const l = io();
    assert.equal(await run(['list'], l.io, { storage }), 0);
    assert.match(l.out(), /^alice\s+\S+\s+2023-11-14T22:13:20\.000Z\n$/);
    const j = io();
    assert.equal(await run(['list', '--json'], j.io, { storage }), 0);
    const listed = JSON.parse(j.out());
    assert.equal(listed.username, 'alice');
    assert.equal(listed.passwordHash, undefined);
    assert.doesNotMatch(j.out(), /scrypt/);
  });

  test('a CRLF line ending is not part of the password', async () => {
    const storage = await openStorage({ kind: 'memory' });
    assert.equal(await run(['add', 'bob'], io().io, { storage, stdin: stdin(`${PASSWORD}\r\n`) }), 0);
    assert.equal((await verifyUser(storage, 'bob', PASSWORD)).ok, true);
  });

  for (const [why, input, message] of [
    ['an empty stdin', '', /no password on standard input/],
    ['an empty line', '\n', /password is empty/],
    ['a password under 8 characters', 'short\n', /at least 8 characters/],
  ] as const) {
    test(`add refuses ${why}: exit 1, nothing stored`, async () => {
      const storage = await openStorage({ kind: 'memory' });
      const t = io();
      assert.equal(await run(['add', 'alice'], t.io, { storage, stdin: stdin(input) }), 1);
      assert.match(t.err(), message);
      assert.deepEqual(await storage.users.list(), []);
      assert.deepEqual(await storage.audit.tail(5), []);
    });
  }

  test('the password is never taken from argv', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const t = io();
    assert.equal(await run(['add', 'alice', PASSWORD], t.io, { storage, stdin: stdin('') }), 2);
    assert.equal(await run(['add', 'alice', '--password', PASSWORD], t.io, { storage, stdin: stdin('') }), 2);
    assert.deepEqual(await storage.users.list(), []);
  });

  test('add refuses a bad username (exit 2) and an existing one (exit 1)', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const bad = io();
    assert.equal(await run(['add', 'not valid'], bad.io, { storage, stdin: stdin(`${PASSWORD}\n`) }), 2);
    assert.equal(await run(['add', 'alice'], io().io, { storage, stdin: stdin(`${PASSWORD}\n`) }), 0);
    const dup = io();
    assert.equal(await run(['add', 'alice'], dup.io, { storage, stdin: stdin(`${PASSWORD}\n`) }), 1);
    assert.match(dup.err(), /already exists/);
  });

  test('passwd sets a new password read from stdin', async () => {
    const storage = await openStorage({ kind: 'memory' });
    await createUser(storage, 'alice', PASSWORD);
    const t = io();
    assert.equal(
      await run(['passwd', 'alice'], t.io, { storage, stdin: stdin('another password\n') }),
      0,
      t.err(),
    );
    assert.equal((await verifyUser(storage, 'alice', 'another password')).ok, true);
    assert.equal((await verifyUser(storage, 'alice', PASSWORD)).ok, false);
    const missing = io();
    assert.equal(
      await run(['passwd', 'nobody'], missing.io, { storage, stdin: stdin('another password\n') }),
      1,
    );
    assert.match(missing.err(), /no user "nobody"/);
  });

  test('remove deletes the user (audited); an unknown one is exit 1', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const alice = await createUser(storage, 'alice', PASSWORD);
    const t = io();
    assert.equal(await run(['remove', 'alice'], t.io, { storage, now }), 0, t.err());
    assert.match(t.out(), /Removed user alice/);
    assert.equal(await storage.users.getByUsername('alice'), undefined);
    const rows = await storage.audit.tail(5);
    assert.deepEqual(
      rows.map((r) => [r.type, r.data]),
      [['user.deleted', { userId: alice.id }]],
    );
    const again = io();
    assert.equal(await run(['remove', 'alice'], again.io, { storage }), 1);
  });

  test('usage errors exit 2; --help exits 0', async () => {
    for (const argv of [[], ['frobnicate'], ['list', 'extra'], ['remove'], ['add', 'a', 'b']]) {
      const t = io();
      assert.equal(await run(argv, t.io, { stdin: stdin('') }), 2, argv.join(' '));
      assert.match(t.err(), /Usage: keyhole users/);
    }
    const h = io();
    assert.equal(await run(['--help'], h.io), 0);
    assert.match(h.out(), /keyhole users add NAME/);
  });

  test('with the SQLite database in --data-dir: a user added by one command is there for the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhole-users-'));
    try {
      const add = io();
      assert.equal(
        await run(['add', 'alice', '--data-dir', dir], add.io, { stdin: stdin(`${PASSWORD}\n`) }),
        0,
        add.err(),
      );
      const list = io();
      assert.equal(await run(['list', '--data-dir', dir], list.io), 0, list.err());
      assert.match(list.out(), /^alice\s/);
      const remove = io();
      assert.equal(await run(['remove', 'alice', '--data-dir', dir], remove.io), 0, remove.err());
      const empty = io();
      assert.equal(await run(['list', '--data-dir', dir], empty.io), 0);
      assert.match(empty.out(), /No users/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
