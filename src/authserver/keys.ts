// Access-token signing keys: created on first start and persisted (private JWKs encrypted at rest),
// imported once and cached, rotated with an overlap during which the previous key still verifies.
// Every key carries its algorithm: verification uses the algorithm pinned to the key found by `kid`,
// never the one a token's header names (RFC 8725 §2.1, §3.1 — algorithm confusion).

import { createHmac } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { EventBus } from '../observability/events.ts';
import { type Logger, silentLogger } from '../observability/logger.ts';
import type { ChangeFeed, SigningKeyRecord, SigningKeyStore } from '../storage/types.ts';
import { KeyCipher, KeyConfigError } from './key-encryption.ts';

export type SigningAlg = SigningKeyRecord['alg'];
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'RS256', 'HS256'];

/** The key that signs new tokens. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly key: CryptoKey;
}

/** A key that verifies tokens, with the one algorithm it may be used with. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly key: CryptoKey;
  /** Epoch ms after which the key no longer verifies (a retiring key); undefined while active. */
  readonly retiresAt: number | undefined;
}

/** Where a key signs, verifies, or neither. */
export interface KeySource {
  signingKey(): SigningKey;
  verificationKey(kid: string): Promise<VerificationKey | undefined>;
  /** Synchronous check that a key already loaded still verifies (not retired, not past its overlap). */
  verifies(kid: string): boolean;
}

export interface KeyManagerOptions {
  alg: SigningAlg;
  /** HS256 only: the shared secret (at least 32 bytes, RFC 7518 §3.2). The secret is the key. */
  hs256Secret?: string | undefined;
  /** Encrypts private keys at rest; unset: a key file in `dataDir`. */
  keySecret?: string | undefined;
  dataDir?: string | undefined;
  /** After a rotation, how long the previous key still verifies (should be >= the access-token lifetime). */
  overlapSec: number;
  /** Epoch ms. */
  now?: () => number;
  /** Receives `keys.rotated`. */
  events?: EventBus | undefined;
  logger?: Logger | undefined;
  /** How often the key set is re-read from storage, to pick up rotations by the CLI or another
   *  instance. 0 disables the timer (reload() still works). Default 60 s. */
  reloadIntervalSec?: number;
  /**
   * Cross-replica change feed: a rotation here is announced on it, and an announcement from another
   * process (a replica, `keyhole keys rotate`) reloads the key set at once (issue #4 "Replicas").
   */
  changes?: ChangeFeed | undefined;
  /** Reload on announcements from other processes (default true; a one-shot CLI only announces). */
  followChanges?: boolean;
}

export interface RotationResult {
  newKid: string;
  retiringKids: string[];
}

/** RSA modulus for RS256: RFC 7518 §3.3 requires at least 2048 bits. */
const RSA_MODULUS_BITS = 2048;
/** An unknown kid triggers at most one storage re-read per this interval (a key minted elsewhere). */
const MISS_RELOAD_INTERVAL_MS = 5_000;
const HS256_MIN_BYTES = 32; // RFC 7518 §3.2: a key of the same size as the hash output or larger

interface Loaded {
  signer: SigningKey;
  verifiers: Map<string, VerificationKey>;
  publicJwks: Map<string, JWK>;
}

export class KeyManager implements KeySource {
  readonly #store: SigningKeyStore;
  readonly #cipher: KeyCipher;
  readonly #options: KeyManagerOptions;
  readonly #now: () => number;
  readonly #logger: Logger;
  #loaded: Loaded;
  // The first unknown kid re-reads at once; later ones at most every MISS_RELOAD_INTERVAL_MS.
  #lastReload = Number.NEGATIVE_INFINITY;
  #reloading: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  private constructor(store: SigningKeyStore, cipher: KeyCipher, options: KeyManagerOptions, loaded: Loaded) {
    this.#store = store;
    this.#cipher = cipher;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    this.#loaded = loaded;
    const every = options.reloadIntervalSec ?? 60;
    if (every > 0) {
      this.#timer = setInterval(() => {
        this.reload().catch((err: unknown) =>
          this.#logger.error('signing keys: reload failed', { error: err }),
        );
      }, every * 1000);
      this.#timer.unref();
    }
    // Reload on every 'up' too: the first closes the window between loading and subscribing, later
    // ones cover announcements missed while the feed was disconnected.
    if (options.followChanges === false) return;
    this.#unsubscribe = options.changes?.subscribe(
      (change) => {
        if (change.type === 'keys') this.#reloadSoon();
      },
      (up) => {
        if (up) this.#reloadSoon();
      },
    );
  }

  /** Reloads after any reload in progress (which may have read the key set before the change). */
  #reloadSoon(): void {
    const again = () => {
      this.reload().catch((err: unknown) =>
        this.#logger.error('signing keys: reload failed', { error: err }),
      );
    };
    if (this.#reloading) this.#reloading.then(again, again);
    else again();
  }

  /** Tells the other processes sharing the storage that the key set changed. */
  async #announce(): Promise<void> {
    await this.#options.changes?.publish({ type: 'keys' }).catch((err: unknown) =>
      this.#logger.warn('signing keys: announcing the change failed; replicas reload within their interval', {
        error: err,
      }),
    );
  }
  /** A persistent 32-byte key for `purpose`, derived from the key-encryption root (see KeyCipher.subkey). */
  subkey(purpose: string): Buffer {
    return this.#cipher.subkey(purpose);
  }

  /**
   * Loads the key set; on first start (or when the configured algorithm or HS256 secret changed)
   * creates the signing key, retiring the previous one with the configured overlap.
   */
  static async open(store: SigningKeyStore, options: KeyManagerOptions): Promise<KeyManager> {
    if (!SIGNING_ALGS.includes(options.alg))
      throw new KeyConfigError(`signing keys: unsupported algorithm ${options.alg}`);
    if (options.alg === 'HS256') checkHs256Secret(options.hs256Secret);
    const cipher = KeyCipher.open({ keySecret: options.keySecret, dataDir: options.dataDir });
    const now = options.now ?? Date.now;
    let records = await store.list();
    const active = newestActive(records, now());
    const wanted = options.alg === 'HS256' ? hs256Kid(options.hs256Secret!) : undefined;
    if (
      active === undefined ||
      active.alg !== options.alg ||
      (wanted !== undefined && active.kid !== wanted)
    ) {
      const result = await install(store, cipher, options, records, now());
      if (result.retiringKids.length > 0) options.events?.emit('keys.rotated', result, now());
      records = await store.list();
      const manager = new KeyManager(store, cipher, options, await load(records, cipher, now(), undefined));
      await manager.#announce();
      return manager;
    }
    const loaded = await load(records, cipher, now(), undefined);
    return new KeyManager(store, cipher, options, loaded);
  }

  /** The newest active key. */
  signingKey(): SigningKey {
    return this.#loaded.signer;
  }

  /**
   * The key with this kid and its pinned algorithm, or undefined when unknown, retired, or past its
   * overlap. An unknown kid re-reads storage (at most every few seconds) in case another process
   * rotated.
   */
  async verificationKey(kid: string): Promise<VerificationKey | undefined> {
    let key = this.#loaded.verifiers.get(kid);
    if (key === undefined && performance.now() - this.#lastReload >= MISS_RELOAD_INTERVAL_MS) {
      // A storage outage must not turn a bad token into a server error: the kid stays unknown.
      await this.reload().catch((err: unknown) =>
        this.#logger.error('signing keys: reload failed', { error: err }),
      );
      key = this.#loaded.verifiers.get(kid);
    }
    if (key === undefined) return undefined;
    return key.retiresAt !== undefined && key.retiresAt <= this.#now() ? undefined : key;
  }

  verifies(kid: string): boolean {
    const key = this.#loaded.verifiers.get(kid);
    return key !== undefined && (key.retiresAt === undefined || key.retiresAt > this.#now());
  }

  /** RFC 7517 §5 JWK Set of the public keys that verify: active and retiring (none for HS256). */
  jwks(): { keys: JWK[] } {
    const now = this.#now();
    const keys: JWK[] = [];
    for (const [kid, jwk] of this.#loaded.publicJwks) {
      const v = this.#loaded.verifiers.get(kid);
      if (v && (v.retiresAt === undefined || v.retiresAt > now)) keys.push(jwk);
    }
    return { keys };
  }

  /** Creates a new active key; the previously active ones retire after the overlap. */
  async rotate(): Promise<RotationResult> {
    if (this.#options.alg === 'HS256') {
      throw new KeyConfigError(
        'HS256 keys are the configured shared secret: rotate by changing KEYHOLE_HS256_SECRET and restarting ' +
          '(the previous secret keeps verifying for the overlap period)',
      );
    }
    const now = this.#now();
    const result = await install(this.#store, this.#cipher, this.#options, await this.#store.list(), now);
    await this.reload();
    await this.#announce();
    this.#options.events?.emit('keys.rotated', result, now);
    return result;
  }

  /** Re-reads the key set from storage (rotations done by another process); marks expired keys retired. */
  reload(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        const records = await this.#store.list();
        this.#loaded = await load(records, this.#cipher, this.#now(), this.#loaded);
        await this.#retireExpired(records);
      } finally {
        this.#lastReload = performance.now();
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  async #retireExpired(records: SigningKeyRecord[]): Promise<void> {
    const now = this.#now();
    for (const r of records) {
      if (r.status === 'retiring' && r.retiresAt !== undefined && r.retiresAt <= now) {
        await this.#store.update(r.kid, { status: 'retired' });
      }
    }
  }
}

/** Epoch-ms view of a record's state: a retiring key past its overlap counts as retired. */
export function effectiveStatus(record: SigningKeyRecord, now: number): SigningKeyRecord['status'] {
  if (record.status === 'retiring' && (record.retiresAt === undefined || record.retiresAt <= now)) {
    return 'retired';
  }
  return record.status;
}

function newestActive(records: readonly SigningKeyRecord[], now: number): SigningKeyRecord | undefined {
  let best: SigningKeyRecord | undefined;
  for (const r of records) {
    if (effectiveStatus(r, now) !== 'active') continue;
    if (!best || r.createdAt > best.createdAt || (r.createdAt === best.createdAt && r.kid > best.kid))
      best = r;
  }
  return best;
}

/** Installs the configured key as the one active key, retiring every other active key. */
async function install(
  store: SigningKeyStore,
  cipher: KeyCipher,
  options: KeyManagerOptions,
  records: readonly SigningKeyRecord[],
  now: number,
): Promise<RotationResult> {
  let newKid: string;
  const existing =
    options.alg === 'HS256' ? records.find((r) => r.kid === hs256Kid(options.hs256Secret!)) : undefined;
  if (existing) {
    // The HS256 secret was switched back to one used before: that key becomes active again.
    newKid = existing.kid;
    await store.update(newKid, { status: 'active', retiresAt: undefined });
  } else {
    const record = await createRecord(cipher, options, now);
    newKid = record.kid;
    await store.put(record);
  }
  const retiresAt = now + options.overlapSec * 1000;
  const retiringKids: string[] = [];
  for (const r of records) {
    if (r.kid === newKid || r.status !== 'active') continue;
    await store.update(r.kid, { status: 'retiring', retiresAt });
    retiringKids.push(r.kid);
  }
  return { newKid, retiringKids };
}

async function createRecord(
  cipher: KeyCipher,
  options: KeyManagerOptions,
  now: number,
): Promise<SigningKeyRecord> {
  const alg = options.alg;
  if (alg === 'HS256') {
    const secret = options.hs256Secret!;
    const kid = hs256Kid(secret);
    const jwk: JWK = { kty: 'oct', k: Buffer.from(secret, 'utf8').toString('base64url') };
    return {
      kid,
      alg,
      privateJwkEncrypted: cipher.seal(JSON.stringify(jwk), sealContext(kid, alg)),
      createdAt: now,
      status: 'active',
    };
  }
  const pair = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: RSA_MODULUS_BITS } : {}),
  });
  const publicJwk = publicMembers(await exportJWK(pair.publicKey));
  // RFC 7638 thumbprint: a kid derived from the public key itself.
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  const privateJwk = await exportJWK(pair.privateKey);
  return {
    kid,
    alg,
    privateJwkEncrypted: cipher.seal(JSON.stringify(privateJwk), sealContext(kid, alg)),
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    createdAt: now,
    status: 'active',
  };
}

/** Imports what verifies and signs, reusing keys already imported (each key is imported once). */
async function load(
  records: readonly SigningKeyRecord[],
  cipher: KeyCipher,
  now: number,
  previous: Loaded | undefined,
): Promise<Loaded> {
  const verifiers = new Map<string, VerificationKey>();
  const publicJwks = new Map<string, JWK>();
  for (const r of records) {
    const status = effectiveStatus(r, now);
    if (status === 'retired') continue;
    const retiresAt = status === 'retiring' ? r.retiresAt : undefined;
    const known = previous?.verifiers.get(r.kid);
    let key: CryptoKey;
    if (known && known.alg === r.alg) {
      key = known.key;
    } else if (r.alg === 'HS256') {
      key = await importHmac(privateJwk(r, cipher));
    } else {
      if (!r.publicJwk) throw new Error(`signing key ${r.kid}: the public key is missing`);
      key = (await importJWK(publicMembers(r.publicJwk as JWK), r.alg)) as CryptoKey;
    }
    verifiers.set(r.kid, { kid: r.kid, alg: r.alg, key, retiresAt });
    if (r.alg !== 'HS256' && r.publicJwk) {
      publicJwks.set(r.kid, { ...publicMembers(r.publicJwk as JWK), kid: r.kid, alg: r.alg, use: 'sig' });
    }
  }
  const active = newestActive(records, now);
  if (!active) throw new Error('signing keys: no active key in storage');
  let signer = previous?.signer;
  if (signer?.kid !== active.kid) {
    const jwk = privateJwk(active, cipher);
    const key =
      active.alg === 'HS256' ? await importHmac(jwk) : ((await importJWK(jwk, active.alg)) as CryptoKey);
    signer = { kid: active.kid, alg: active.alg, key };
  }
  return { signer, verifiers, publicJwks };
}

function privateJwk(record: SigningKeyRecord, cipher: KeyCipher): JWK {
  return JSON.parse(cipher.open(record.privateJwkEncrypted, sealContext(record.kid, record.alg))) as JWK;
}

/** HS256 as a WebCrypto HMAC/SHA-256 key: jose then refuses it for any other algorithm. */
function importHmac(jwk: JWK): Promise<CryptoKey> {
  if (typeof jwk.k !== 'string') throw new Error('signing key: the HS256 key material is missing');
  return crypto.subtle.importKey(
    'raw',
    Buffer.from(jwk.k, 'base64url'),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign', 'verify'],
  );
}

/** Only the public members of an EC or RSA JWK (RFC 7518 §6.2.1, §6.3.1), whatever the input held. */
function publicMembers(jwk: JWK): JWK {
  if (jwk.kty === 'EC') return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
  if (jwk.kty === 'RSA') return { kty: 'RSA', n: jwk.n, e: jwk.e };
  throw new Error(`signing key: unexpected public key type ${String(jwk.kty)}`);
}

/** A kid for the HS256 secret that reveals nothing about it (HMAC under the secret itself). */
export function hs256Kid(secret: string): string {
  return createHmac('sha256', secret).update('keyhole/hs256-kid/v1').digest('base64url');
}

function checkHs256Secret(secret: string | undefined): void {
  if (secret === undefined)
    throw new KeyConfigError('auth.hs256Secret: required for HS256 (KEYHOLE_HS256_SECRET)');
  if (Buffer.byteLength(secret, 'utf8') < HS256_MIN_BYTES) {
    throw new KeyConfigError(`auth.hs256Secret: must be at least ${HS256_MIN_BYTES} bytes (RFC 7518 §3.2)`);
  }
}

/** GCM additional data: a sealed key only opens as the record it was written for. */
function sealContext(kid: string, alg: SigningAlg): string {
  return `keyhole signing key ${kid} ${alg}`;
}
