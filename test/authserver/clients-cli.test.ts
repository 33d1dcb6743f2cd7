// `keyhole clients add|list|remove`: pre-registered clients (MCP client-registration "Pre-registration"),
// under the same metadata rules as dynamic registration; secrets printed once, stored as hashes.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { hashSecret } from '../../src/authserver/secrets.ts';
import { run } from '../../src/cli/clients.ts';
import type { CliIo } from '../../src/cli/run.ts';
import { openStorage } from '../../src/storage/open.ts';

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

const now = () => 1_700_000_000_000;

describe('keyhole clients add', () => {
  test('a public client: prints its client_id, stores it as a static public client, audits it', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const t = io();
    const code = await run(
      [
        'add',
        '--name',
        'Claude Desktop',
        '--redirect-uri',
        'http://127.0.0.1/callback',
        '--redirect-uri',
        'https://app.example.com/cb',
      ],
      t.io,
      { storage, now },
    );
    assert.equal(code, 0, t.err());
    const id = /^client_id\s+(\S+)$/m.exec(t.out())?.[1];
    assert.ok(id);
    assert.doesNotMatch(t.out(), /client_secret/);
    const c = await storage.clients.get(id);
    assert.ok(c);
    assert.equal(c.source, 'static');
    assert.equal(c.clientName, 'Claude Desktop');
    assert.equal(c.tokenEndpointAuthMethod, 'none');
    assert.equal(c.secretHash, undefined);
    assert.deepEqual(c.redirectUris, ['http://127.0.0.1/callback', 'https://app.example.com/cb']);
    assert.deepEqual(c.grantTypes, ['authorization_code', 'refresh_token']);
    assert.deepEqual(c.responseTypes, ['code']);
    assert.equal(c.createdAt, now());
    const rows = await storage.audit.tail(5);
    assert.deepEqual(
      rows.map((r) => [r.type, r.data]),
      [['client.registered', { clientId: id, source: 'static', redirectUris: c.redirectUris }]],
    );
    await storage.close();
  });

  test('--confidential: the secret is printed once and stored only as its hash', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const t = io();
    const code = await run(
      [
        'add',
        '--name',
        'Backend',
        '--confidential',
        '--grant-type',
        'client_credentials',
        '--scope',
        'tools:read',
        '--json',
      ],
      t.io,
      { storage, now },
    );
    assert.equal(code, 0, t.err());
    const printed = JSON.parse(t.out()) as Record<string, unknown>;
    const secret = String(printed.client_secret);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(printed.grant_types, ['client_credentials']);
    assert.equal(printed.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(printed.scope, 'tools:read');
    const c = await storage.clients.get(String(printed.client_id));
    assert.ok(c);
    assert.equal(c.secretHash, hashSecret(secret));
    assert.equal(c.secretExpiresAt, 0);
    assert.equal(JSON.stringify(c).includes(secret), false);
    assert.equal(JSON.stringify(await storage.audit.tail(5)).includes(secret), false);
    // `list` never shows the secret again.
    const l = io();
    assert.equal(await run(['list', '--json'], l.io, { storage }), 0);
    assert.equal(l.out().includes(secret), false);
    assert.equal((JSON.parse(l.out()) as { confidential: boolean }).confidential, true);
    await storage.close();
  });

  const refused: [string, string[], RegExp][] = [
    ['no --name', ['add', '--redirect-uri', 'https://a.example/cb'], /--name is required/],
    ['no redirect URI for the code flow', ['add', '--name', 'x'], /redirect_uris is required/],
    [
      'an http redirect URI off loopback',
      ['add', '--name', 'x', '--redirect-uri', 'http://a.example/cb'],
      /loopback/,
    ],
    ['a fragment', ['add', '--name', 'x', '--redirect-uri', 'https://a.example/cb#f'], /fragment/],
    [
      'an unknown grant type',
      ['add', '--name', 'x', '--redirect-uri', 'https://a.example/cb', '--grant-type', 'password'],
      /password/,
    ],
    [
      'client_credentials without --confidential',
      ['add', '--name', 'x', '--grant-type', 'client_credentials'],
      /confidential/,
    ],
    [
      'a malformed scope',
      ['add', '--name', 'x', '--redirect-uri', 'https://a.example/cb', '--scope', 'a  b'],
      /scope/,
    ],
    ['an unknown option', ['add', '--name', 'x', '--bogus'], /bogus/],
    ['an unknown subcommand', ['rename'], /unknown clients command/],
    ['no subcommand', [], /missing command/],
  ];
  for (const [name, argv, message] of refused) {
    test(`refused (exit 2, nothing stored): ${name}`, async () => {
      const storage = await openStorage({ kind: 'memory' });
      const t = io();
      assert.equal(await run(argv, t.io, { storage, now }), 2);
      assert.match(t.err(), message);
      assert.equal(t.out(), '');
      assert.deepEqual(await storage.clients.list(), []);
      assert.deepEqual(await storage.audit.tail(5), []);
      await storage.close();
    });
  }
});

describe('keyhole clients list / remove', () => {
  test('list shows every client; remove deletes one; removing an unknown id exits 1', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const empty = io();
    assert.equal(await run(['list'], empty.io, { storage }), 0);
    assert.equal(empty.out(), 'No clients registered.\n');

    const ids: string[] = [];
    for (const name of ['One', 'Two']) {
      const t = io();
      await run(['add', '--name', name, '--redirect-uri', 'https://a.example/cb', '--json'], t.io, {
        storage,
        now,
      });
      ids.push((JSON.parse(t.out()) as { client_id: string }).client_id);
    }
    const l = io();
    assert.equal(await run(['list'], l.io, { storage }), 0);
    const lines = l.out().trim().split('\n');
    assert.equal(lines.length, 2);
    assert.ok(lines.some((x) => x.startsWith(ids[0]!) && x.includes('"One"') && x.includes('public')));

    const r = io();
    assert.equal(await run(['remove', ids[0]!], r.io, { storage }), 0);
    assert.match(r.out(), /Removed client/);
    assert.deepEqual(
      (await storage.clients.list()).map((c) => c.clientId),
      [ids[1]],
    );

    const missing = io();
    assert.equal(await run(['remove', 'no-such-client'], missing.io, { storage }), 1);
    assert.match(missing.err(), /no client with id "no-such-client"/);
    assert.equal((await storage.clients.list()).length, 1);

    const noArg = io();
    assert.equal(await run(['remove'], noArg.io, { storage }), 2);
    await storage.close();
  });

  test('clients persist in the SQLite database of the data directory between invocations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhole-clients-'));
    try {
      const add = io();
      assert.equal(
        await run(
          ['add', '--name', 'Persisted', '--redirect-uri', 'https://a.example/cb', '--data-dir', dir],
          add.io,
        ),
        0,
        add.err(),
      );
      const id = /^client_id\s+(\S+)$/m.exec(add.out())?.[1];
      const l = io();
      assert.equal(await run(['list', '--json', '--data-dir', dir], l.io), 0, l.err());
      const listed = JSON.parse(l.out()) as Record<string, unknown>;
      assert.equal(listed.client_id, id);
      assert.equal(listed.client_name, 'Persisted');
      assert.equal(listed.source, 'static');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an invalid configuration exits 2', async () => {
    const t = io();
    t.io.env = { KEYHOLE_PORT: 'abc' };
    assert.equal(await run(['list'], t.io), 2);
    assert.match(t.err(), /invalid configuration[\s\S]*KEYHOLE_PORT/);
  });
});

describe('client identifiers', () => {
  test('never start with "-" (a command line would read them as options)', async () => {
    const { newClientId } = await import('../../src/authserver/secrets.ts');
    for (let i = 0; i < 2000; i++) {
      const id = newClientId();
      assert.match(id, /^[0-9a-f]{32}$/);
    }
  });
});
