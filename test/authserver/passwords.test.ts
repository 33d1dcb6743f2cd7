// Password hashing: scrypt (RFC 7914) in the `scrypt$N$r$p$salt$hash` form, constant-time verification,
// bounded parameters from storage, and upgrades of weaker hashes.

import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { DEFAULT_PARAMS, hashPassword, needsRehash, verifyPassword } from '../../src/authserver/passwords.ts';

describe('passwords (scrypt)', () => {
  test('encoding: scrypt$32768$8$1$<16-byte salt>$<32-byte key>, the key is scrypt of the password', async () => {
    const encoded = await hashPassword('correct horse battery staple');
    const parts = encoded.split('$');
    assert.equal(parts.length, 6);
    assert.deepEqual(parts.slice(0, 4), ['scrypt', '32768', '8', '1']);
    const salt = Buffer.from(parts[4]!, 'base64url');
    const key = Buffer.from(parts[5]!, 'base64url');
    assert.equal(salt.length, 16);
    assert.equal(key.length, 32);
    // Recomputed independently with node:crypto: the stored key is scrypt(password, salt).
    const expected = scryptSync('correct horse battery staple', salt, 32, {
      N: 32768,
      r: 8,
      p: 1,
      maxmem: 64 * 1024 * 1024,
    });
    assert.deepEqual(key, expected);
  });

  test('verifies the right password only', async () => {
    const encoded = await hashPassword('s3cret-password');
    assert.equal(await verifyPassword('s3cret-password', encoded), true);
    assert.equal(await verifyPassword('s3cret-passwore', encoded), false);
    assert.equal(await verifyPassword('', encoded), false);
    assert.equal(await verifyPassword('s3cret-password ', encoded), false);
  });

  test('a fresh salt every time', async () => {
    const a = await hashPassword('same password');
    const b = await hashPassword('same password');
    assert.notEqual(a, b);
  });

  test('Unicode passwords are NFKC-normalized (NIST SP 800-63B §5.1.1.2)', async () => {
    // "é" precomposed vs "e" + combining acute accent.
    const encoded = await hashPassword('caf\u00e9-password');
    assert.equal(await verifyPassword('cafe\u0301-password', encoded), true);
  });

  test('parameters are verified as stored (cheaper hashes from before still verify, and need a rehash)', async () => {
    const weak = await hashPassword('old password', { N: 2 ** 10, r: 8, p: 1 });
    assert.match(weak, /^scrypt\$1024\$8\$1\$/);
    assert.equal(await verifyPassword('old password', weak), true);
    assert.equal(needsRehash(weak), true);
    assert.equal(needsRehash(await hashPassword('new password')), false);
    assert.equal(DEFAULT_PARAMS.N, 2 ** 15);
  });

  for (const [why, encoded] of [
    ['not scrypt', 'bcrypt$2b$10$abcdefghijklmnopqrstuv'],
    ['too few fields', 'scrypt$32768$8$1$c2FsdA'],
    [
      'N not a power of two',
      'scrypt$30000$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ],
    [
      'N beyond the bound (a tampered row must not eat memory)',
      `scrypt$${2 ** 24}$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    ],
    [
      'r beyond the bound',
      'scrypt$1024$64$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ],
    ['empty', ''],
  ] as const) {
    test(`a malformed hash verifies nothing: ${why}`, async () => {
      assert.equal(await verifyPassword('anything', encoded), false);
      assert.equal(needsRehash(encoded), true);
    });
  }
});
