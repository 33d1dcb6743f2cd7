// Password hashing for local users: scrypt (RFC 7914) from node:crypto, a memory-hard KDF, encoded as
// `scrypt$N$r$p$salt$hash` (salt and hash base64url) so the cost can be raised later without breaking
// stored hashes: each hash is verified with the parameters it was made with, and `needsRehash` tells
// the caller to upgrade it after a successful login.

import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/**
 * N=2^15, r=8, p=1: 32 MiB and roughly 100 ms per hash, twice the cost the scrypt paper (2009) gave for
 * interactive logins (N=2^14). Raising it later (OWASP's cheat sheet suggests 2^17) upgrades stored
 * hashes one login at a time through `needsRehash`.
 */
export const DEFAULT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

const SALT_BYTES = 16;
const KEY_BYTES = 32;
// Bounds on what a stored hash may ask for: a tampered row must not make one login eat gigabytes.
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // Node refuses anything over 32 MiB by default; scrypt needs 128·N·r bytes plus headroom.
    maxmem: 128 * params.N * params.r * params.p + 16 * 1024 * 1024,
  };
  return new Promise((resolve, reject) => {
    // The asynchronous form runs on the libuv pool, so a login does not stall the event loop.
    scrypt(normalize(password), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * NIST SP 800-63B §5.1.1.2: Unicode passwords are normalized (NFKC) before hashing, so the same
 * password typed on two keyboards gives the same hash.
 */
function normalize(password: string): string {
  return password.normalize('NFKC');
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parseHash(encoded: string): ParsedHash | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > MAX_R || !Number.isInteger(p) || p < 1 || p > MAX_P) {
    return undefined;
  }
  const salt = Buffer.from(parts[4]!, 'base64url');
  const key = Buffer.from(parts[5]!, 'base64url');
  if (salt.length < 8 || key.length < 16) return undefined;
  return { params: { N, r, p }, salt, key };
}

/**
 * Constant-time check of a password against a stored hash. A malformed hash verifies nothing (false),
 * after spending the same work as a real check so the failure is not observable by timing.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) {
    await burnTime(password);
    return false;
  }
  const candidate = await scryptAsync(password, parsed.salt, { ...parsed.params });
  // Different key lengths cannot happen for our own hashes; timingSafeEqual needs equal lengths.
  return candidate.length === parsed.key.length && timingSafeEqual(candidate, parsed.key);
}

/** True when the stored hash is weaker than the current parameters (upgrade it after a good login). */
export function needsRehash(encoded: string, params: ScryptParams = DEFAULT_PARAMS): boolean {
  const parsed = parseHash(encoded);
  if (!parsed) return true;
  return parsed.params.N < params.N || parsed.params.r < params.r || parsed.params.p < params.p;
}

let dummy: Promise<string> | undefined;

/**
 * Verifies against a fixed dummy hash: used when the username is unknown, so that a login attempt
 * costs the same whether or not the account exists (no user enumeration by timing).
 */
export async function burnTime(password: string): Promise<void> {
  dummy ??= hashPassword(randomBytes(16).toString('base64url'));
  const encoded = await dummy;
  const parsed = parseHash(encoded)!;
  await scryptAsync(password, parsed.salt, parsed.params);
}
