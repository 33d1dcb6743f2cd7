// State the browser carries for the authorization server's pages, integrity-protected with HMAC-SHA256
// (RFC 2104): the login session cookie, and (through `Signer`) the pending authorization request in the
// pages' hidden fields and the CSRF token. Nothing in them is secret from the user; everything is
// tamper-evident, expiring, and bound to a purpose so a value minted for one use is refused in another.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Storage, UserRecord } from '../storage/types.ts';

const MAC_BYTES = 32;

/** HMAC-SHA256 signatures with one key per purpose, derived from one secret. */
export class Signer {
  readonly #secret: Buffer;
  readonly #keys = new Map<string, Buffer>();

  /** `secret`: at least 32 bytes (RFC 2104 §3: not shorter than the hash output). */
  constructor(secret: Uint8Array) {
    if (secret.byteLength < 32)
      throw new RangeError('the front-channel signing secret needs at least 32 bytes');
    this.#secret = Buffer.from(secret);
  }

  /** A per-process random secret: sessions and pending pages then end with the process. */
  static random(): Signer {
    return new Signer(randomBytes(32));
  }

  #key(purpose: string): Buffer {
    let key = this.#keys.get(purpose);
    if (key === undefined) {
      // Domain separation: a MAC made for one purpose never verifies for another.
      key = createHmac('sha256', this.#secret).update(`keyhole front channel: ${purpose}`).digest();
      this.#keys.set(purpose, key);
    }
    return key;
  }

  mac(purpose: string, data: string): Buffer {
    return createHmac('sha256', this.#key(purpose)).update(data, 'utf8').digest();
  }

  /** Constant-time check of a base64url MAC over `data`. */
  verifyMac(purpose: string, data: string, macText: string): boolean {
    const given = Buffer.from(macText, 'base64url');
    if (given.length !== MAC_BYTES) return false;
    return timingSafeEqual(this.mac(purpose, data), given);
  }

  /** `base64url(JSON {v, e}).base64url(MAC)`: a value that expires at `expiresAt` (epoch ms). */
  seal(purpose: string, value: unknown, expiresAt: number): string {
    const data = Buffer.from(JSON.stringify({ v: value, e: expiresAt }), 'utf8').toString('base64url');
    return `${data}.${this.mac(purpose, data).toString('base64url')}`;
  }

  /** The sealed value, or undefined when forged, altered, made for another purpose or expired. */
  open(purpose: string, token: string | undefined, now: number): unknown {
    if (token === undefined || token.length > 16_384) return undefined;
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const data = token.slice(0, dot);
    if (!this.verifyMac(purpose, data, token.slice(dot + 1))) return undefined;
    try {
      const parsed = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as {
        v?: unknown;
        e?: unknown;
      };
      if (typeof parsed.e !== 'number' || parsed.e <= now) return undefined;
      return parsed.v;
    } catch {
      return undefined;
    }
  }
}

/** The cookies of a request (RFC 6265 §5.4), first occurrence of each name. */
export function readCookies(req: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  const header = req.headers.cookie;
  if (header === undefined) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    if (name !== '' && !cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim());
  }
  return cookies;
}

export interface CookieOptions {
  secure: boolean;
  /** Seconds; undefined = a session cookie, 0 = delete. */
  maxAge?: number;
}

/**
 * A Set-Cookie value. Always HttpOnly (no script needs these) and Path=/. SameSite=Lax, not Strict:
 * /authorize is reached by a cross-site top-level GET navigation from the client application, and a
 * Strict cookie would not be sent with it, so a signed-in user would have to sign in again on every
 * authorization. Lax still withholds the cookies from cross-site POSTs, subresources and frames, and
 * every POST is also checked against a CSRF token (csrf.ts).
 */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  let cookie = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  if (options.maxAge !== undefined) cookie += `; Max-Age=${options.maxAge}`;
  if (options.secure) cookie += '; Secure';
  return cookie;
}

/**
 * Cookie names. Over https the `__Host-` prefix (RFC 6265bis §4.1.3.2) makes the browser refuse any
 * such cookie that is not Secure, host-only and Path=/, so a sibling subdomain cannot plant one.
 */
export function cookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

export interface SessionOptions {
  ttlSec: number;
  secure: boolean;
}

export interface BrowserSession {
  user: UserRecord;
  /** When the user signed in (epoch ms). */
  authTime: number;
}

interface SessionClaims {
  /** User id. */
  u: string;
  /** Authentication time. */
  t: number;
  /** Fingerprint of the password hash the user signed in with. */
  p: string;
}

const SESSION_PURPOSE = 'browser session';

/** The signed-in state of a browser: an HMAC-sealed cookie naming the user and when they signed in. */
export class BrowserSessions {
  readonly #signer: Signer;
  readonly #options: SessionOptions;
  readonly name: string;

  constructor(signer: Signer, options: SessionOptions) {
    this.#signer = signer;
    this.#options = options;
    this.name = cookieName('keyhole-session', options.secure);
  }

  /** The Set-Cookie value for a fresh sign-in. */
  issue(user: UserRecord, now: number): string {
    const claims: SessionClaims = { u: user.id, t: now, p: this.#fingerprint(user.passwordHash) };
    const value = this.#signer.seal(SESSION_PURPOSE, claims, now + this.#options.ttlSec * 1000);
    return serializeCookie(this.name, value, { secure: this.#options.secure, maxAge: this.#options.ttlSec });
  }

  /** The Set-Cookie value that removes the session cookie. */
  clear(): string {
    return serializeCookie(this.name, '', { secure: this.#options.secure, maxAge: 0 });
  }

  /**
   * The session of the request, if its cookie is genuine and unexpired and its user still exists, is
   * enabled and has the password they signed in with (a password change ends every session).
   */
  async read(req: IncomingMessage, storage: Storage, now: number): Promise<BrowserSession | undefined> {
    const claims = this.#signer.open(SESSION_PURPOSE, readCookies(req).get(this.name), now) as
      | Partial<SessionClaims>
      | undefined;
    if (typeof claims?.u !== 'string' || typeof claims.t !== 'number' || typeof claims.p !== 'string') {
      return undefined;
    }
    const user = await storage.users.get(claims.u);
    if (!user || user.disabled) return undefined;
    if (!this.#signer.verifyMac('password fingerprint', user.passwordHash, claims.p)) return undefined;
    return { user, authTime: claims.t };
  }

  #fingerprint(passwordHash: string): string {
    // A MAC, not the hash itself: the cookie must tell nothing about the stored password hash.
    return this.#signer.mac('password fingerprint', passwordHash).toString('base64url');
  }
}
