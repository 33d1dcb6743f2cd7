// The administration commands through the real `keyhole` binary (src/cli/main.ts): users, clients,
// keys and audit, each with its help, its happy path and its usage errors; and that they work on the
// same database `keyhole serve` uses — a user and a client added from the command line sign in and get
// tokens on a running server, whose events `keyhole audit tail` then prints.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { authorizeInBrowser } from '../e2e/harness.ts';
import { cli, complete, listening, tempDir } from './helpers.ts';

const tmp = tempDir();
let dirs = 0;
const dataDir = () => join(tmp, `data-${++dirs}`);
const PASSWORD = 'a long enough password';

describe('keyhole --help lists the administration commands', () => {
  test('main help, and each command help exits 0 naming its subcommands', async () => {
    const main = await complete(['--help']);
    assert.equal(main.code, 0);
    for (const name of ['serve', 'stdio', 'users', 'clients', 'keys', 'audit'])
      assert.match(main.stdout, new RegExp(`^ {2}${name} `, 'm'));
    for (const [command, words] of [
      ['users', ['add', 'list', 'remove', 'passwd', 'disable', 'enable']],
      ['clients', ['add', 'list', 'remove']],
      ['keys', ['rotate', 'list']],
      ['audit', ['tail']],
    ] as const) {
      const help = await complete([command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^Usage: keyhole ${command} `));
      for (const w of words) assert.match(help.stdout, new RegExp(`keyhole ${command} ${w}`));
    }
    const serve = await complete(['serve', '--help']);
    assert.match(serve.stdout, /--auth MODE/);
  });

  test('unknown or missing subcommands exit 2 with the usage', async () => {
    for (const [args, message] of [
      [['users'], /users: missing command/],
      [['users', 'rename'], /unknown users command "rename"/],
      [['clients', 'purge'], /unknown clients command "purge"/],
      [['keys', 'delete'], /unknown keys command "delete"/],
      [['audit', 'head'], /audit/],
    ] as const) {
      const run = await complete(args.length === 1 ? [...args] : [...args, '--data-dir', dataDir()]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /Usage: keyhole /);
    }
  });
});

describe('keyhole users', () => {
  test('add (password from stdin), list, passwd, remove', async () => {
    const dir = dataDir();
    const added = await complete(['users', 'add', 'alice', '--data-dir', dir], { stdin: `${PASSWORD}\n` });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, 'Created user alice\n');
    assert.ok(!added.stdout.includes(PASSWORD) && !added.stderr.includes(PASSWORD));

    const again = await complete(['users', 'add', 'alice', '--data-dir', dir], { stdin: `${PASSWORD}\n` });
    assert.equal(again.code, 1, 'a duplicate name is refused');
    const short = await complete(['users', 'add', 'bob', '--data-dir', dir], { stdin: 'short\n' });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /8 characters/);
    const empty = await complete(['users', 'add', 'bob', '--data-dir', dir]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no password on standard input/);

    const list = await complete(['users', 'list', '--json', '--data-dir', dir]);
    assert.equal(list.code, 0);
    const users = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      users.map((u) => u.username),
      ['alice'],
    );
    assert.ok(!list.stdout.includes('scrypt'), 'never the password hash');

    const passwd = await complete(['users', 'passwd', 'alice', '--data-dir', dir], {
      stdin: 'another password\n',
    });
    assert.equal(passwd.code, 0, passwd.stderr);
    const removed = await complete(['users', 'remove', 'alice', '--data-dir', dir]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^Removed user alice/);
    const none = await complete(['users', 'list', '--data-dir', dir]);
    assert.match(none.stdout, /^No users/);
    const missing = await complete(['users', 'remove', 'alice', '--data-dir', dir]);
    assert.equal(missing.code, 1);
  });

  test('disable and enable: listed as disabled, audited once each, idempotent', async () => {
    const dir = dataDir();
    const users = (...args: string[]) => complete(['users', ...args, '--data-dir', dir]);
    const auditTypes = async () =>
      (await complete(['audit', 'tail', '-n', '50', '--data-dir', dir])).stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type);
    assert.equal(
      (await complete(['users', 'add', 'alice', '--data-dir', dir], { stdin: `${PASSWORD}\n` })).code,
      0,
    );

    const disabled = await users('disable', 'alice');
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.stdout, 'Disabled user alice\n');
    assert.match((await users('list')).stdout, /^alice\s.*\s{2}disabled\n$/);
    const listed = JSON.parse((await users('list', '--json')).stdout) as Record<string, unknown>;
    assert.equal(listed.disabled, true);

    const again = await users('disable', 'alice');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'User alice was already disabled\n');
    assert.deepEqual(await auditTypes(), ['user.created', 'user.disabled'], 'the repeat is not audited');

    const enabled = await users('enable', 'alice');
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, /^Enabled user alice; grants revoked while disabled stay revoked/);
    assert.doesNotMatch((await users('list')).stdout, /disabled/);
    const twice = await users('enable', 'alice');
    assert.equal(twice.code, 0, twice.stderr);
    assert.equal(twice.stdout, 'User alice was not disabled\n');
    assert.deepEqual(await auditTypes(), ['user.created', 'user.disabled', 'user.enabled']);
  });

  test('disable and enable refuse an unknown user (exit 1) and bad usage (exit 2), changing nothing', async () => {
    const dir = dataDir();
    assert.equal(
      (await complete(['users', 'add', 'alice', '--data-dir', dir], { stdin: `${PASSWORD}\n` })).code,
      0,
    );
    const before = (await complete(['users', 'list', '--json', '--data-dir', dir])).stdout;
    const tail = async () => (await complete(['audit', 'tail', '-n', '50', '--data-dir', dir])).stdout;
    const auditBefore = await tail();
    for (const sub of ['disable', 'enable']) {
      const unknown = await complete(['users', sub, 'bob', '--data-dir', dir]);
      assert.equal(unknown.code, 1, `${sub}: ${unknown.stderr}`);
      assert.equal(unknown.stderr, 'keyhole: no user "bob"\n');
      assert.equal(unknown.stdout, '');
      for (const [args, message] of [
        [[], /users \w+: expected a user name/],
        [['alice', 'bob'], /users \w+: expected a user name/],
        [['not valid'], /a username is 1-64 characters/],
        [['alice', '--json'], /Unknown option '--json'/],
        [['alice', '--force'], /Unknown option '--force'/],
      ] as const) {
        const bad = await complete(['users', sub, ...args, '--data-dir', dir]);
        assert.equal(bad.code, 2, `${sub} ${args.join(' ')}: ${bad.stderr}`);
        assert.match(bad.stderr, message);
        assert.match(bad.stderr, /Usage: keyhole users /);
      }
      const help = await complete(['users', sub, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /keyhole users disable NAME/);
    }
    assert.equal((await complete(['users', 'list', '--json', '--data-dir', dir])).stdout, before);
    assert.equal(await tail(), auditBefore, 'nothing audited');
  });
});

describe('keyhole clients', () => {
  test('add (public and confidential), list, remove', async () => {
    const dir = dataDir();
    const pub = await complete([
      'clients',
      'add',
      '--name',
      'Desktop app',
      '--redirect-uri',
      'http://127.0.0.1:7777/cb',
      '--json',
      '--data-dir',
      dir,
    ]);
    assert.equal(pub.code, 0, pub.stderr);
    const publicClient = JSON.parse(pub.stdout) as { client_id: string; client_secret?: string };
    assert.equal(publicClient.client_secret, undefined);

    const conf = await complete([
      'clients',
      'add',
      '--name',
      'Backend',
      '--redirect-uri',
      'https://app.example.com/cb',
      '--confidential',
      '--data-dir',
      dir,
    ]);
    assert.equal(conf.code, 0, conf.stderr);
    assert.match(conf.stdout, /^client_id {6}\S+\nclient_secret {2}\S+\n/);
    assert.match(conf.stdout, /shown only now/);

    const bad = await complete([
      'clients',
      'add',
      '--name',
      'x',
      '--redirect-uri',
      'http://example.com/cb',
      '--data-dir',
      dir,
    ]);
    assert.equal(bad.code, 2, 'a plain-http non-loopback redirect URI is refused');

    const list = await complete(['clients', 'list', '--json', '--data-dir', dir]);
    const clients = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { client_id: string; confidential: boolean; client_secret?: string });
    assert.deepEqual(
      clients.map((c) => c.confidential),
      [false, true],
    );
    assert.ok(
      clients.every((c) => c.client_secret === undefined),
      'secrets are never listed',
    );

    const removed = await complete(['clients', 'remove', publicClient.client_id, '--data-dir', dir]);
    assert.equal(removed.code, 0, removed.stderr);
    const unknown = await complete(['clients', 'remove', publicClient.client_id, '--data-dir', dir]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no client with id/);
  });
});

describe('keyhole keys', () => {
  test('list on an empty data dir, rotate creates then rotates, list shows active and retiring', async () => {
    const dir = dataDir();
    const empty = await complete(['keys', 'list', '--data-dir', dir]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^No signing keys yet/);
    const first = await complete(['keys', 'rotate', '--json', '--data-dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout) as { active: { kid: string }; retiring: unknown[] };
    assert.deepEqual(a.retiring, []);
    const second = await complete(['keys', 'rotate', '--json', '--data-dir', dir]);
    const b = JSON.parse(second.stdout) as {
      active: { kid: string; alg: string };
      retiring: { kid: string }[];
    };
    assert.notEqual(b.active.kid, a.active.kid);
    assert.equal(b.active.alg, 'ES256');
    assert.deepEqual(
      b.retiring.map((r) => r.kid),
      [a.active.kid],
    );
    const list = await complete(['keys', 'list', '--json', '--data-dir', dir]);
    const keys = JSON.parse(list.stdout) as { kid: string; status: string }[];
    assert.deepEqual(
      keys.map((k) => [k.kid, k.status]),
      [
        [a.active.kid, 'retiring'],
        [b.active.kid, 'active'],
      ],
    );
    assert.ok(!/"d"|privateJwk|"k":/.test(list.stdout), 'no key material');
  });
});

describe('the commands administer the database a running server uses', () => {
  test('a user and a confidential client added on the command line sign in and get tokens; audit tail shows it', async () => {
    const dir = dataDir();
    assert.equal(
      (await complete(['users', 'add', 'carol', '--data-dir', dir], { stdin: `${PASSWORD}\n` })).code,
      0,
    );
    const redirectUri = 'http://127.0.0.1:48125/callback';
    const added = await complete([
      'clients',
      'add',
      '--name',
      'Ops console',
      '--redirect-uri',
      redirectUri,
      '--confidential',
      '--json',
      '--data-dir',
      dir,
    ]);
    const client = JSON.parse(added.stdout) as { client_id: string; client_secret: string };

    const server = cli(['serve', '--port', '0', '--data-dir', dir]);
    const url = await listening(server);
    try {
      const verifier = randomBytes(32).toString('base64url');
      const authorize = new URL('/authorize', url);
      authorize.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: redirectUri,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: url.href,
        state: 'st',
      }).toString();
      const back = await authorizeInBrowser(authorize, { username: 'carol', password: PASSWORD });
      const basic = Buffer.from(
        `${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`,
      ).toString('base64');
      const token = await fetch(new URL('/token', url), {
        method: 'POST',
        headers: { authorization: `Basic ${basic}` },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code') ?? '',
          code_verifier: verifier,
          redirect_uri: redirectUri,
          resource: url.href,
        }),
      });
      assert.equal(token.status, 200, await token.clone().text());
      const { access_token } = (await token.json()) as { access_token: string };
      assert.ok(access_token);

      const tail = await complete(['audit', 'tail', '-n', '50', '--data-dir', dir]);
      assert.equal(tail.code, 0, tail.stderr);
      const rows = tail.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: number; type: string; data: Record<string, unknown> });
      const types = rows.map((r) => r.type);
      for (const t of [
        'user.created',
        'client.registered',
        'login.succeeded',
        'consent.granted',
        'token.issued',
      ])
        assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);
      assert.ok(
        rows.every((r, i) => i === 0 || r.id > rows[i - 1]!.id),
        'oldest first',
      );
      assert.ok(!tail.stdout.includes(access_token) && !tail.stdout.includes(client.client_secret));
      const last = await complete(['audit', 'tail', '-n', '1', '--data-dir', dir]);
      assert.equal(last.stdout.trim().split('\n').length, 1);
      const bad = await complete(['audit', 'tail', '-n', 'many', '--data-dir', dir]);
      assert.equal(bad.code, 2);
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await server.exited, 0, server.stderr());
  });
});
