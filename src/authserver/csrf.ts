// CSRF protection for the login and consent forms (RFC 6749 §10.12; RFC 9700 §4.7): a random value in
// an HttpOnly cookie, and in each form its HMAC. Another site can make the browser send the cookie
// but can neither read it nor compute the MAC, so it cannot produce a matching form field. Fetch
// Metadata (`Sec-Fetch-Site: cross-site`) is refused outright where browsers send it.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { cookieName, readCookies, type Signer, serializeCookie } from './browser-session.ts';

/** Name of the hidden form field carrying the token. */
export const CSRF_FIELD = 'csrf';

const PURPOSE = 'csrf';
/** 32 random bytes, base64url. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export class Csrf {
  readonly #signer: Signer;
  readonly #secure: boolean;
  readonly name: string;

  constructor(signer: Signer, options: { secure: boolean }) {
    this.#signer = signer;
    this.#secure = options.secure;
    this.name = cookieName('keyhole-csrf', options.secure);
  }

  /**
   * The token for a form on the page being rendered, and the Set-Cookie value when the browser has
   * no CSRF cookie yet (an existing one is kept, so forms open in other tabs stay valid).
   */
  prepare(req: IncomingMessage): { token: string; setCookie?: string } {
    const existing = readCookies(req).get(this.name);
    if (existing !== undefined && COOKIE_VALUE.test(existing)) return { token: this.#token(existing) };
    const value = randomBytes(32).toString('base64url');
    return {
      token: this.#token(value),
      setCookie: serializeCookie(this.name, value, { secure: this.#secure }),
    };
  }

  /** Whether a form POST carries the token that belongs to this browser's CSRF cookie. */
  check(req: IncomingMessage, token: string | undefined): boolean {
    // Fetch Metadata: a browser says when a request was started by another site.
    if (req.headers['sec-fetch-site'] === 'cross-site') return false;
    const cookie = readCookies(req).get(this.name);
    if (cookie === undefined || !COOKIE_VALUE.test(cookie) || token === undefined) return false;
    return this.#signer.verifyMac(PURPOSE, cookie, token);
  }

  #token(cookie: string): string {
    return this.#signer.mac(PURPOSE, cookie).toString('base64url');
  }
}
