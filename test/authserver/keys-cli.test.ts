// `keyhole keys rotate|list` against the SQLite database in a data directory, as an operator runs it
// next to a server.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { KeyManager } from '../../src/authserver/keys.ts';
import { run } from '../../src/cli/keys.ts';
import type { CliIo } from '../../src/cli/run.ts';
import { openStorage } from '../../src/storage/open.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'keyhole-keys-cli-'));
  dirs.push(dir);
  let t = Date.UTC(2026, 2, 1);
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    env: { KEYHOLE_KEY_ROTATION_OVERLAP_SEC: '600', ...env },
    cwd: dir,
  };
  const keys = async (...argv: string[]) => {
    out.length = 0;
    err.length = 0;
    const code = await run([...argv, '--data-dir', dir], io, { now: () => t });
    return { code, out: out.join(''), err: err.join('') };
  };
  return { dir, keys, advance: (ms: number) => (t += ms), now: () => t };
}

describe('keyhole keys', () => {
  test('list on a fresh data directory: no keys, and none created', async () => {
    const { keys } = setup();
    const r = await keys('list');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /No signing keys yet/);
    assert.deepEqual(JSON.parse((await keys('list', '--json')).out), []);
  });

  test('rotate: the first run creates a key; the next makes a new active key and retires the old with the overlap', async () => {
    const { keys, advance, now, dir } = setup();
    const first = await keys('rotate', '--json');
    assert.equal(first.code, 0, first.err);
    const created = JSON.parse(first.out);
    assert.equal(created.active.status, 'active');
    assert.equal(created.active.alg, 'ES256');
    assert.deepEqual(created.retiring, []);

    advance(5000);
    const second = await keys('rotate');
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, /^Active signing key: [\w-]{43} \(ES256\)\n/);
    assert.match(
      second.out,
      new RegExp(
        `Retiring: ${created.active.kid}, verifies until ${new Date(now() + 600_000).toISOString()}`,
      ),
    );

    const listed = JSON.parse((await keys('list', '--json')).out);
    assert.equal(listed.length, 2);
    assert.deepEqual(
      listed.map((k: { kid: string; status: string }) => [k.kid, k.status]),
      [
        [created.active.kid, 'retiring'],
        [listed[1].kid, 'active'],
      ],
    );
    assert.equal(JSON.stringify(listed).includes('"d"'), false, 'no key material is printed');

    const table = (await keys('list')).out.split('\n');
    assert.match(table[0]!, /^KID\s+ALG\s+STATUS\s+CREATED\s+RETIRES$/);
    assert.equal(table.length, 4); // header, two keys, trailing newline

    // The rotation is in the audit trail, and a server on the same database picks the new key up.
    const storage = await openStorage({ kind: 'sqlite', path: join(dir, 'keyhole.db') });
    after(() => storage.close());
    const rows = await storage.audit.tail(10);
    assert.deepEqual(
      rows.map((r) => [r.type, r.data]),
      [['keys.rotated', { newKid: listed[1].kid, retiringKids: [created.active.kid] }]],
    );
    const server = await KeyManager.open(storage.keys, {
      alg: 'ES256',
      dataDir: dir,
      overlapSec: 600,
      reloadIntervalSec: 0,
      now,
    });
    after(() => server.close());
    assert.equal(server.signingKey().kid, listed[1].kid);

    // After the overlap the old key is shown as retired.
    advance(600_000);
    const later = JSON.parse((await keys('list', '--json')).out);
    assert.equal(later[0].status, 'retired');
  });

  test('HS256: rotate explains that the secret is rotated in the environment (exit 1)', async () => {
    const { keys } = setup({ KEYHOLE_SIGNING_ALG: 'HS256', KEYHOLE_HS256_SECRET: 'h'.repeat(40) });
    assert.equal((await keys('rotate')).code, 0, 'the first run installs the HS256 key');
    const r = await keys('rotate');
    assert.equal(r.code, 1);
    assert.match(r.err, /KEYHOLE_HS256_SECRET/);
    assert.ok(!r.err.includes('h'.repeat(40)), 'the secret is never printed');
  });

  test('a wrong key secret is reported, not a stack trace (exit 1), and nothing changes', async () => {
    const a = setup({ KEYHOLE_KEY_SECRET: 'a'.repeat(32) });
    assert.equal((await a.keys('rotate')).code, 0);
    const before = (await a.keys('list', '--json')).out;
    let stderr = '';
    const wrong = await run(['rotate', '--data-dir', a.dir], {
      stdout: () => {},
      stderr: (s) => {
        stderr += s;
      },
      env: { KEYHOLE_KEY_SECRET: 'b'.repeat(32) },
      cwd: a.dir,
    });
    assert.equal(wrong, 1);
    assert.match(stderr, /cannot decrypt the stored signing key/);
    assert.ok(!stderr.includes('b'.repeat(32)) && !stderr.includes('    at '), 'no secret, no stack trace');
    assert.equal((await a.keys('list', '--json')).out, before);
  });

  test('usage errors exit 2', async () => {
    const { keys } = setup();
    assert.equal((await keys('spin')).code, 2);
    assert.equal((await keys('list', '--bogus')).code, 2);
    const missing = await run([], { stdout: () => {}, stderr: () => {}, env: {}, cwd: '/' });
    assert.equal(missing, 2);
    const bad = setup({ KEYHOLE_SIGNING_ALG: 'none' });
    const r = await bad.keys('rotate');
    assert.equal(r.code, 2);
    assert.match(r.err, /KEYHOLE_SIGNING_ALG/);
  });
});
