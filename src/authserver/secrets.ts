// Opaque secrets (authorization codes, refresh tokens, client secrets): generated from 32 random bytes,
// stored only as SHA-256 hashes (RFC 6749 §10.3, §10.4; RFC 9700 §4.14), and compared in constant time.
// A SHA-256 of a 256-bit random value needs no salt or slow hash: it cannot be guessed, only stolen.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh high-entropy secret, base64url without padding (RFC 6749 §10.10: at least 128 bits; we use 256). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A new client identifier (RFC 6749 §2.2: unique, not a secret): 128 random bits, hex, so it never starts
 * with `-` (which a command line would take for an option) and survives any copy and paste.
 */
export function newClientId(): string {
  return randomBytes(16).toString('hex');
}

/** SHA-256 of the secret's UTF-8 bytes, base64url: the only form in which secrets are stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/**
 * Constant-time string equality. Both sides are hashed first, so neither the length nor the position of
 * the first difference leaks through timing (crypto.timingSafeEqual itself needs equal lengths).
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}
