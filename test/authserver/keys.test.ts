// Signing keys: created once and persisted, encrypted at rest, rotated with an overlap, ES256 / RS256 /
// HS256, JWKS with public members only, and reloads that pick up another process's rotation.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { issueAccessToken, verifyAccessToken } from '../../src/authserver/access-token.ts';
import { KEY_FILE, KeyCipher, KeyDecryptionError } from '../../src/authserver/key-encryption.ts';
import { hs256Kid, KeyManager, type KeyManagerOptions } from '../../src/authserver/keys.ts';
import { EventBus, type SecurityEvent } from '../../src/observability/events.ts';
import { openMemoryStorage } from '../../src/storage/memory/index.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { SigningKeyRecord, SigningKeyStore } from '../../src/storage/types.ts';

const KEY_SECRET = 'k'.repeat(40);
const HS_SECRET = 'an HS256 shared secret of at least 32 bytes!';
const ISSUER = 'https://as.example';
const RESOURCE = 'https://mcp.example/mcp';
const T0 = Date.UTC(2026, 0, 1);

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keyhole-keys-'));
  dirs.push(d);
  return d;
}

/** A controllable clock (epoch ms). */
function clock(start = T0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function open(store: SigningKeyStore, opts: Partial<KeyManagerOptions> = {}): Promise<KeyManager> {
  const m = await KeyManager.open(store, {
    alg: 'ES256',
    keySecret: KEY_SECRET,
    overlapSec: 3600,
    reloadIntervalSec: 0,
    ...opts,
  });
  after(() => m.close());
  return m;
}

async function roundTrip(signer: KeyManager, verifier: KeyManager, now: number) {
  const { token } = await issueAccessToken({
    keys: signer,
    issuer: ISSUER,
    subject: 'u1',
    clientId: 'c1',
    scopes: ['read'],
    resource: RESOURCE,
    grantId: 'g1',
    ttlSec: 600,
    now,
  });
  return verifyAccessToken(token, {
    keys: verifier,
    issuer: ISSUER,
    audience: RESOURCE,
    clockSkewSec: 0,
    now,
  });
}

describe('signing keys: created on first start and persisted', () => {
  test('ES256 by default: one active key, reused on the next open', async () => {
    const { keys: store } = openMemoryStorage();
    const c = clock();
    const first = await open(store, { now: c.now });
    const signer = first.signingKey();
    assert.equal(signer.alg, 'ES256');
    const records = await store.list();
    assert.equal(records.length, 1);
    assert.equal(records[0]!.kid, signer.kid);
    assert.equal(records[0]!.status, 'active');
    assert.equal(records[0]!.createdAt, T0);
    assert.equal(records[0]!.alg, 'ES256');

    const second = await open(store, { now: c.now });
    assert.equal(second.signingKey().kid, signer.kid, 'the persisted key is reused');
    assert.equal((await store.list()).length, 1, 'no second key is created');
    const r = await roundTrip(first, second, c.now());
    assert.equal(r.ok, true, 'a token signed before the reopen verifies after it');
  });

  test('survives a restart on SQLite (same kid, tokens still verify)', async () => {
    const dir = tempDir();
    const path = join(dir, 'keyhole.db');
    const s1 = await openStorage({ kind: 'sqlite', path });
    const m1 = await open(s1.keys, { keySecret: undefined, dataDir: dir });
    const { token } = await issueAccessToken({
      keys: m1,
      issuer: ISSUER,
      subject: 'u1',
      clientId: 'c1',
      scopes: [],
      resource: RESOURCE,
      grantId: 'g1',
      ttlSec: 600,
    });
    m1.close();
    await s1.close();

    const s2 = await openStorage({ kind: 'sqlite', path });
    after(() => s2.close());
    const m2 = await open(s2.keys, { keySecret: undefined, dataDir: dir });
    assert.equal(m2.signingKey().kid, m1.signingKey().kid);
    const r = await verifyAccessToken(token, {
      keys: m2,
      issuer: ISSUER,
      audience: RESOURCE,
      clockSkewSec: 0,
      now: Date.now(),
    });
    assert.equal(r.ok, true);
  });

  test('the kid is the RFC 7638 thumbprint and tokens carry it', async () => {
    const m = await open(openMemoryStorage().keys);
    const { token } = await issueAccessToken({
      keys: m,
      issuer: ISSUER,
      subject: 'u',
      clientId: 'c',
      scopes: [],
      resource: RESOURCE,
      grantId: 'g',
      ttlSec: 60,
    });
    assert.equal(decodeProtectedHeader(token).kid, m.signingKey().kid);
    assert.match(m.signingKey().kid, /^[A-Za-z0-9_-]{43}$/);
  });
});

describe('signing keys: encrypted at rest (AES-256-GCM)', () => {
  test('the stored record holds no private key material in clear', async () => {
    const { keys: store } = openMemoryStorage();
    const m = await open(store);
    const [record] = await store.list();
    assert.ok(record);
    // Opened with the same secret, the sealed value is the private JWK; nothing of it is visible as stored.
    const jwk = JSON.parse(
      KeyCipher.open({ keySecret: KEY_SECRET }).open(
        record.privateJwkEncrypted,
        `keyhole signing key ${record.kid} ES256`,
      ),
    ) as Record<string, string>;
    assert.equal(typeof jwk.d, 'string');
    const stored = JSON.stringify(record);
    assert.ok(!stored.includes(jwk.d!), 'the private scalar d is not stored in clear');
    assert.ok(!stored.includes('"d"'));
    assert.match(record.privateJwkEncrypted, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(Object.keys(record.publicJwk ?? {}).sort(), [
      'alg',
      'crv',
      'kid',
      'kty',
      'use',
      'x',
      'y',
    ]);
    assert.equal(m.signingKey().kid, record.kid);
  });

  test('the SQLite file never contains the private key in clear', async () => {
    const dir = tempDir();
    const storage = await openStorage({ kind: 'sqlite', path: join(dir, 'keyhole.db') });
    await open(storage.keys, { keySecret: undefined, dataDir: dir });
    const [record] = await storage.keys.list();
    await storage.close();
    const keyFile = readFileSync(join(dir, KEY_FILE), 'utf8');
    // Recreate the cipher the manager used (from the key file) to learn d, then search every file.
    const jwk = JSON.parse(
      KeyCipher.open({ dataDir: dir }).open(
        record!.privateJwkEncrypted,
        `keyhole signing key ${record!.kid} ES256`,
      ),
    ) as Record<string, string>;
    const d = Buffer.from(jwk.d!, 'utf8');
    const raw = Buffer.from(jwk.d!, 'base64url');
    for (const name of readdirSync(dir)) {
      if (name === KEY_FILE) continue;
      const bytes = readFileSync(join(dir, name));
      assert.equal(bytes.indexOf(d), -1, `${name} holds d (base64url)`);
      assert.equal(bytes.indexOf(raw), -1, `${name} holds d (raw)`);
    }
    assert.ok(keyFile.length > 0);
  });

  test('without a key secret: keys.secret is created once, 32 random bytes, mode 0600', async () => {
    const dir = join(tempDir(), 'nested', 'data');
    const { keys: store } = openMemoryStorage();
    await open(store, { keySecret: undefined, dataDir: dir });
    const path = join(dir, KEY_FILE);
    const first = readFileSync(path, 'utf8');
    assert.equal(Buffer.from(first, 'base64url').length, 32);
    if (process.platform !== 'win32') {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
    }
    const again = await open(store, { keySecret: undefined, dataDir: dir });
    assert.equal(readFileSync(path, 'utf8'), first, 'the key file is never rewritten');
    assert.equal(again.signingKey().kid, (await store.list())[0]!.kid);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
      'no temporary files are left behind',
    );
  });

  test('a key file readable by others is refused', { skip: process.platform === 'win32' }, async () => {
    const dir = tempDir();
    writeFileSync(join(dir, KEY_FILE), Buffer.alloc(32, 1).toString('base64url'));
    chmodSync(join(dir, KEY_FILE), 0o644);
    await assert.rejects(
      KeyManager.open(openMemoryStorage().keys, { alg: 'ES256', dataDir: dir, overlapSec: 0 }),
      /chmod 600/,
    );
  });

  test('a wrong key secret fails at start-up with a clear error, and changes nothing', async () => {
    const { keys: store } = openMemoryStorage();
    await open(store);
    const before = await store.list();
    await assert.rejects(open(store, { keySecret: 'x'.repeat(40) }), (err: unknown) => {
      assert.ok(err instanceof KeyDecryptionError);
      assert.match(err.message, /KEYHOLE_KEY_SECRET/);
      return true;
    });
    assert.deepEqual(await store.list(), before);
  });

  test('a sealed key only opens as the record it was written for (GCM additional data)', async () => {
    const { keys: store } = openMemoryStorage();
    const m = await open(store);
    const [record] = await store.list();
    // The same ciphertext under another kid: a swapped or forged row must not open.
    const forged: SigningKeyRecord = { ...record!, kid: 'forged', createdAt: T0 + 10 ** 9 };
    const other = openMemoryStorage().keys;
    await other.put(forged);
    await assert.rejects(open(other), KeyDecryptionError);
    // One flipped ciphertext byte: refused too.
    const parts = record!.privateJwkEncrypted.split('.');
    const body = Buffer.from(parts[2]!, 'base64url');
    body[0]! ^= 1;
    parts[2] = body.toString('base64url');
    const tampered = openMemoryStorage().keys;
    await tampered.put({ ...record!, privateJwkEncrypted: parts.join('.') });
    await assert.rejects(open(tampered), KeyDecryptionError);
    assert.ok(m.signingKey());
  });

  test('a key secret shorter than 32 bytes is refused', async () => {
    await assert.rejects(open(openMemoryStorage().keys, { keySecret: 'short' }), /at least 32 bytes/);
  });
});

describe('signing keys: rotation with overlap', () => {
  test('rotate: a new active key; the previous one verifies until now + overlap, then retires', async () => {
    const { keys: store } = openMemoryStorage();
    const c = clock();
    const events: SecurityEvent[] = [];
    const bus = new EventBus();
    bus.on((e) => events.push(e));
    const m = await open(store, { now: c.now, overlapSec: 600, events: bus });
    const old = m.signingKey();
    const { token: oldToken } = await issueAccessToken({
      keys: m,
      issuer: ISSUER,
      subject: 'u',
      clientId: 'c',
      scopes: [],
      resource: RESOURCE,
      grantId: 'g',
      ttlSec: 3600,
      now: c.now(),
    });

    c.advance(1000);
    const result = await m.rotate();
    const fresh = m.signingKey();
    assert.notEqual(fresh.kid, old.kid);
    assert.deepEqual(result, { newKid: fresh.kid, retiringKids: [old.kid] });
    assert.deepEqual(
      events.map((e) => [e.type, e.data]),
      [['keys.rotated', { newKid: fresh.kid, retiringKids: [old.kid] }]],
    );
    const records = new Map((await store.list()).map((r) => [r.kid, r]));
    assert.equal(records.get(fresh.kid)?.status, 'active');
    assert.equal(records.get(old.kid)?.status, 'retiring');
    assert.equal(records.get(old.kid)?.retiresAt, T0 + 1000 + 600_000);

    const verify = (now: number) =>
      verifyAccessToken(oldToken, { keys: m, issuer: ISSUER, audience: RESOURCE, clockSkewSec: 0, now });
    assert.deepEqual(
      m
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
      [fresh.kid, old.kid].sort(),
    );
    assert.equal((await verify(c.now())).ok, true, 'the old key verifies during the overlap');
    assert.ok(await m.verificationKey(old.kid));
    assert.equal(m.verifies(old.kid), true);

    c.advance(600_000); // exactly retiresAt
    assert.equal(await m.verificationKey(old.kid), undefined);
    assert.equal(m.verifies(old.kid), false);
    assert.deepEqual(await verify(c.now()), { ok: false, reason: 'unknown_kid' });
    assert.deepEqual(
      m.jwks().keys.map((k) => k.kid),
      [fresh.kid],
    );
    await m.reload();
    const after = new Map((await store.list()).map((r) => [r.kid, r]));
    assert.equal(after.get(old.kid)?.status, 'retired', 'reload records the retirement');
    assert.equal(after.get(fresh.kid)?.status, 'active');
  });

  test('a rotation by another process (the CLI) is picked up by reload()', async () => {
    const { keys: store } = openMemoryStorage();
    const server = await open(store);
    const cli = await open(store);
    const before = server.signingKey().kid;
    const { newKid } = await cli.rotate();
    assert.equal(server.signingKey().kid, before, 'until reload, the server signs with what it loaded');
    await server.reload();
    assert.equal(server.signingKey().kid, newKid);
    assert.ok(await server.verificationKey(before), 'the old key is retiring, still verifying');
  });

  test('an unknown kid re-reads storage once, so a key minted elsewhere verifies at once', async () => {
    const { keys: store } = openMemoryStorage();
    const server = await open(store);
    const cli = await open(store);
    const { newKid } = await cli.rotate();
    const r = await roundTrip(cli, server, Date.now());
    assert.equal(r.ok, true);
    assert.equal((await server.verificationKey(newKid))?.kid, newKid);
    assert.equal(await server.verificationKey('no-such-kid'), undefined);
  });

  test('switching the configured algorithm rotates: new key active, the old one retiring', async () => {
    const { keys: store } = openMemoryStorage();
    const c = clock();
    const es = await open(store, { now: c.now });
    const rs = await open(store, { alg: 'RS256', now: c.now, overlapSec: 60 });
    assert.equal(rs.signingKey().alg, 'RS256');
    const byKid = new Map((await store.list()).map((r) => [r.kid, r]));
    assert.equal(byKid.get(es.signingKey().kid)?.status, 'retiring');
    assert.equal(byKid.get(es.signingKey().kid)?.retiresAt, T0 + 60_000);
    const pinned = await rs.verificationKey(es.signingKey().kid);
    assert.equal(pinned?.alg, 'ES256', 'each key keeps its own algorithm');
  });
});

describe('signing keys: RS256 and HS256', () => {
  test('RS256: a 2048-bit RSA key, public members only in the JWKS', async () => {
    const m = await open(openMemoryStorage().keys, { alg: 'RS256' });
    assert.equal(m.signingKey().alg, 'RS256');
    const [jwk] = m.jwks().keys;
    assert.ok(jwk);
    assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.equal(jwk.kty, 'RSA');
    assert.equal(jwk.alg, 'RS256');
    assert.equal(jwk.use, 'sig');
    assert.ok(Buffer.from(jwk.n!, 'base64url').length * 8 >= 2048);
    assert.equal((await roundTrip(m, m, Date.now())).ok, true);
  });

  test('ES256 JWKS: EC P-256 public members only', async () => {
    const m = await open(openMemoryStorage().keys);
    const { keys } = m.jwks();
    assert.equal(keys.length, 1);
    assert.deepEqual(Object.keys(keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(keys[0]!.crv, 'P-256');
    assert.equal(keys[0]!.kid, m.signingKey().kid);
  });

  test('HS256: the shared secret is the key; a kid, no JWKS, nothing in clear', async () => {
    const { keys: store } = openMemoryStorage();
    const m = await open(store, { alg: 'HS256', hs256Secret: HS_SECRET });
    const signer = m.signingKey();
    assert.equal(signer.alg, 'HS256');
    assert.equal(signer.kid, hs256Kid(HS_SECRET));
    assert.deepEqual(m.jwks(), { keys: [] });
    const [record] = await store.list();
    assert.equal(record?.publicJwk, undefined);
    assert.ok(!record!.privateJwkEncrypted.includes(Buffer.from(HS_SECRET).toString('base64url')));
    assert.ok(!JSON.stringify(record).includes(HS_SECRET));
    assert.equal((await roundTrip(m, m, Date.now())).ok, true);
    // Reopened with the same secret: the same key, nothing new stored.
    const again = await open(store, { alg: 'HS256', hs256Secret: HS_SECRET });
    assert.equal(again.signingKey().kid, signer.kid);
    assert.equal((await store.list()).length, 1);
  });

  test('HS256: a changed secret is a rotation (the previous secret verifies during the overlap)', async () => {
    const { keys: store } = openMemoryStorage();
    const c = clock();
    const old = await open(store, { alg: 'HS256', hs256Secret: HS_SECRET, now: c.now });
    const next = await open(store, {
      alg: 'HS256',
      hs256Secret: `${HS_SECRET} v2`,
      now: c.now,
      overlapSec: 60,
    });
    assert.notEqual(next.signingKey().kid, old.signingKey().kid);
    assert.equal((await roundTrip(old, next, c.now())).ok, true);
    c.advance(60_000);
    assert.deepEqual(await roundTrip(old, next, c.now()), { ok: false, reason: 'unknown_kid' });
    // And back to the first secret: its key is active again.
    const back = await open(store, { alg: 'HS256', hs256Secret: HS_SECRET, now: c.now });
    assert.equal(back.signingKey().kid, old.signingKey().kid);
    assert.equal((await roundTrip(old, back, c.now())).ok, true);
  });

  test('HS256: rotate() explains that the secret is rotated in the environment', async () => {
    const m = await open(openMemoryStorage().keys, { alg: 'HS256', hs256Secret: HS_SECRET });
    await assert.rejects(m.rotate(), /KEYHOLE_HS256_SECRET/);
  });

  test('HS256 without a secret, or with one under 32 bytes, is refused (RFC 7518 §3.2)', async () => {
    const store = openMemoryStorage().keys;
    await assert.rejects(open(store, { alg: 'HS256' }), /hs256Secret: required/);
    await assert.rejects(open(store, { alg: 'HS256', hs256Secret: 'too short' }), /at least 32 bytes/);
    assert.deepEqual(await store.list(), []);
  });
});

describe('purpose-bound subkeys', () => {
  test('stable across reopen, distinct per purpose and per secret', () => {
    const a = KeyCipher.open({ keySecret: 'x'.repeat(32) });
    const again = KeyCipher.open({ keySecret: 'x'.repeat(32) });
    const other = KeyCipher.open({ keySecret: 'y'.repeat(32) });
    assert.equal(a.subkey('front-channel/hmac/v1').length, 32);
    assert.deepEqual(a.subkey('front-channel/hmac/v1'), again.subkey('front-channel/hmac/v1'));
    assert.notDeepEqual(a.subkey('front-channel/hmac/v1'), a.subkey('other/v1'));
    assert.notDeepEqual(a.subkey('front-channel/hmac/v1'), other.subkey('front-channel/hmac/v1'));
    assert.throws(() => a.subkey('Bad Purpose'));
  });
});
