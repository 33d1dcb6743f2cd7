// Integrity-protected `requestState` for multi round-trip requests (MCP 2026-07-28 basic/patterns/mrtr
// "Server Requirements"): the state travels through the client, so it is attacker-controlled input.
// It is sealed with HMAC-SHA256 and bound to the principal, an expiry and the originating request.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JsonValue } from './jsonrpc.ts';

interface Sealed {
  /** The handler's state. */
  s: JsonValue;
  /** Principal key ("subject|clientId"), or "" without authentication. */
  p: string;
  /** Digest of the originating request: method and its salient parameters. */
  r: string;
  /** Expiry, epoch milliseconds. */
  e: number;
}

export type Opened = { ok: true; state: JsonValue } | { ok: false; reason: string };

export class RequestStateSealer {
  readonly #key: Buffer;
  readonly #ttlMs: number;

  constructor(secret: string | Uint8Array | undefined, ttlMs = 10 * 60_000) {
    if (secret === undefined) this.#key = randomBytes(32);
    else {
      const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
      // RFC 2104 §3: keys shorter than the hash output weaken HMAC.
      if (key.length < 32) throw new RangeError('the requestState secret must be at least 32 bytes');
      this.#key = key;
    }
    this.#ttlMs = ttlMs;
  }

  seal(state: JsonValue, principal: string, request: string, now = Date.now()): string {
    const body: Sealed = { s: state, p: principal, r: request, e: now + this.#ttlMs };
    const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
    return `${payload}.${this.#mac(payload)}`;
  }

  open(token: string, principal: string, request: string, now = Date.now()): Opened {
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return { ok: false, reason: 'malformed' };
    const payload = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.#mac(payload), 'base64url');
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected))
      return { ok: false, reason: 'bad signature' };
    let body: Sealed;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Sealed;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (typeof body.e !== 'number' || body.e < now) return { ok: false, reason: 'expired' };
    if (body.p !== principal) return { ok: false, reason: 'presented by another principal' };
    if (body.r !== request) return { ok: false, reason: 'bound to another request' };
    return { ok: true, state: body.s };
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }
}

/** A stable digest of a request's salient parameters (everything but `_meta`, `inputResponses`, `requestState`). */
export function requestDigest(method: string, params: Record<string, unknown> | undefined): string {
  const salient: Record<string, unknown> = {};
  if (params) {
    for (const k of Object.keys(params).sort()) {
      if (k !== '_meta' && k !== 'inputResponses' && k !== 'requestState') salient[k] = params[k];
    }
  }
  return createHash('sha256').update(method).update('\0').update(canonicalJson(salient)).digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
