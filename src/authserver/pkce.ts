// Proof Key for Code Exchange (RFC 7636). OAuth 2.1 §4.1.1 makes it mandatory for every client; S256
// always, `plain` only when the configuration allows it (RFC 9700 §2.1.1 recommends S256 only).

import { createHash } from 'node:crypto';
import { safeEqual } from './secrets.ts';

export type CodeChallengeMethod = 'S256' | 'plain';

// RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
// RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(verifier)): 32 bytes, 43 characters without padding.
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** The methods this server accepts, for `code_challenge_methods_supported` (RFC 8414 §2). */
export function challengeMethods(allowPlain: boolean): CodeChallengeMethod[] {
  return allowPlain ? ['S256', 'plain'] : ['S256'];
}

export function isCodeVerifier(value: string): boolean {
  return VERIFIER.test(value);
}

/** Syntax of a code_challenge for its method (the authorization endpoint checks it before issuing a code). */
export function isCodeChallenge(value: string, method: CodeChallengeMethod): boolean {
  // RFC 7636 §4.2: with `plain` the challenge is the verifier itself, so it has the verifier's syntax.
  return method === 'S256' ? S256_CHALLENGE.test(value) : VERIFIER.test(value);
}

/** RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** RFC 7636 §4.6: recompute the challenge from the verifier and compare it with the one bound to the code. */
export function verifyCodeVerifier(
  verifier: string,
  challenge: string,
  method: CodeChallengeMethod,
): boolean {
  if (!isCodeVerifier(verifier)) return false;
  return safeEqual(method === 'S256' ? s256Challenge(verifier) : verifier, challenge);
}
