// Encryption of private signing keys at rest: AES-256-GCM under a key derived with HKDF-SHA256 from
// the configured key secret (auth.keySecret), or else from a random 32-byte file `keys.secret` in the
// data directory (mode 0600, created once). A stolen database alone then reveals no signing key.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export const KEY_FILE = 'keys.secret';

const FORMAT = 'v1';
const IV_BYTES = 12; // NIST SP 800-38D §8.2: 96-bit IVs for GCM
const TAG_BYTES = 16;
const FILE_KEY_BYTES = 32;
// HKDF (RFC 5869) domain separation: this key encrypts signing keys and nothing else.
const HKDF_SALT = 'keyhole/key-encryption/salt/v1';
const HKDF_INFO = 'keyhole/signing-keys/aes-256-gcm/v1';

export interface KeyEncryptionOptions {
  /** Secret from the environment (KEYHOLE_KEY_SECRET); wins over the key file. */
  keySecret?: string | undefined;
  /** Where `keys.secret` lives when no key secret is configured. */
  dataDir?: string | undefined;
}

/** A signing-key setting that cannot work (missing or short secret, unsafe key file): fix and restart. */
export class KeyConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyConfigError';
  }
}

/** Thrown when a stored key cannot be decrypted: wrong key secret, another data dir's key file, or tampering. */
export class KeyDecryptionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyDecryptionError';
  }
}

/** Seals and opens private JWKs. `context` (the key id and algorithm) is bound in as GCM additional data. */
export class KeyCipher {
  readonly #key: Buffer;
  /** The root key material (secret or key file), kept only to derive other purpose-bound keys. */
  readonly #root: Buffer;
  /** Where the key material came from, for messages (never the material itself). */
  readonly source: 'secret' | 'file';

  private constructor(root: Buffer, source: 'secret' | 'file') {
    this.#root = root;
    this.#key = derive(root);
    this.source = source;
  }

  static open(options: KeyEncryptionOptions): KeyCipher {
    if (options.keySecret !== undefined) {
      if (Buffer.byteLength(options.keySecret, 'utf8') < 32) {
        throw new KeyConfigError('auth.keySecret: must be at least 32 bytes');
      }
      return new KeyCipher(Buffer.from(options.keySecret, 'utf8'), 'secret');
    }
    if (options.dataDir === undefined) {
      throw new KeyConfigError(
        'signing keys: a key secret (KEYHOLE_KEY_SECRET) or a data directory is required',
      );
    }
    return new KeyCipher(readOrCreateKeyFile(options.dataDir), 'file');
  }

  /**
   * A 32-byte key for another purpose (e.g. the front channel's cookie and form HMACs), derived from the
   * same root with its own HKDF info (RFC 5869 §3.2), so it survives restarts and is shared by replicas
   * with the same secret, while never equalling the key-encryption key.
   */
  subkey(purpose: string): Buffer {
    if (!/^[a-z0-9/.-]+$/.test(purpose) || purpose === HKDF_INFO) throw new TypeError('invalid key purpose');
    return Buffer.from(hkdfSync('sha256', this.#root, HKDF_SALT, `keyhole/${purpose}`, 32));
  }

  /** `v1.<iv>.<ciphertext>.<tag>`, each part base64url. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [FORMAT, iv, body, cipher.getAuthTag()]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== FORMAT) {
      throw new KeyDecryptionError(`${context}: unrecognised encrypted key format`);
    }
    const iv = Buffer.from(parts[1]!, 'base64url');
    const body = Buffer.from(parts[2]!, 'base64url');
    const tag = Buffer.from(parts[3]!, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new KeyDecryptionError(`${context}: malformed encrypted key`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch (err) {
      const hint =
        this.source === 'secret'
          ? 'is KEYHOLE_KEY_SECRET the one the key was stored with?'
          : `is ${KEY_FILE} the one the key was stored with, or was it stored under KEYHOLE_KEY_SECRET?`;
      throw new KeyDecryptionError(`${context}: cannot decrypt the stored signing key (${hint})`, {
        cause: err,
      });
    }
  }
}

function derive(ikm: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, HKDF_INFO, 32));
}

/** Reads `keys.secret`, creating it (exclusively, mode 0600) when absent. */
function readOrCreateKeyFile(dataDir: string): Buffer {
  const path = join(dataDir, KEY_FILE);
  if (!existsSync(path)) createKeyFile(dataDir, path);
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    throw new KeyConfigError(`${path}: must be readable by its owner only (chmod 600)`);
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  if (key.length !== FILE_KEY_BYTES) {
    throw new KeyConfigError(`${path}: expected ${FILE_KEY_BYTES} random bytes, base64url-encoded`);
  }
  return key;
}

function createKeyFile(dataDir: string, path: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Written aside, then linked into place: link() fails if the file exists, so two processes starting
  // at once agree on one key and neither ever reads a half-written file.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(FILE_KEY_BYTES).toString('base64url'));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new KeyConfigError(`${path}: cannot create the key-encryption key file`, { cause: err });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}
