// Value parsers for configuration options. Each accepts the raw value from any source (a string from
// the environment or a flag, a JSON value from the config file) and returns the typed value or a
// message saying what was expected. Messages never echo secrets (see options.ts `secret`).

import { isIP } from 'node:net';
import type { LogLevel } from '../observability/logger.ts';
import { IP_RANGE_NAMES, NOT_A_RANGE, parseIpRange } from './ip-ranges.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

export interface Parser<T> {
  /** Human description of valid values, for help and the README. */
  readonly describe: string;
  /** `fromText` is true for environment variables and flags, whose values are always strings. */
  parse(raw: unknown, fromText: boolean): Parsed<T>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

export function integer(min: number, max: number): Parser<number> {
  const expected = `must be an integer ${min}-${max}`;
  return {
    describe: `integer ${min}-${max}`,
    parse(raw, fromText) {
      let n: number;
      if (fromText && typeof raw === 'string') {
        if (!/^\d+$/.test(raw.trim())) return bad(expected);
        n = Number(raw.trim());
      } else if (typeof raw === 'number') n = raw;
      else return bad(expected);
      return Number.isSafeInteger(n) && n >= min && n <= max ? ok(n) : bad(expected);
    },
  };
}

export function boolean(): Parser<boolean> {
  const expected = 'must be true or false';
  return {
    describe: 'boolean',
    parse(raw, fromText) {
      if (typeof raw === 'boolean') return ok(raw);
      if (fromText && typeof raw === 'string') {
        const v = raw.trim().toLowerCase();
        if (v === 'true' || v === '1') return ok(true);
        if (v === 'false' || v === '0' || v === '') return ok(false);
      }
      return bad(expected);
    },
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  const expected = `must be one of ${values.join(', ')}`;
  return {
    describe: values.join(' | '),
    parse: (raw) => (typeof raw === 'string' && values.includes(raw as T) ? ok(raw as T) : bad(expected)),
  };
}

/** A non-empty string naming a file or directory; resolved to an absolute path by the loader. */
export function fsPath(): Parser<string> {
  return {
    describe: 'path',
    parse: (raw) =>
      typeof raw === 'string' && raw.trim() !== '' && !raw.includes('\0')
        ? ok(raw)
        : bad('must be a non-empty path'),
  };
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A host to bind: an IPv4/IPv6 address or a DNS name (RFC 1123 §2.1). */
export function bindHost(): Parser<string> {
  return {
    describe: 'IP address or host name',
    parse(raw) {
      if (typeof raw !== 'string') return bad('must be an IP address or host name');
      const v = raw.trim();
      return isIP(v) || HOSTNAME.test(v) ? ok(v) : bad('must be an IP address or host name');
    },
  };
}

/** An absolute http(s) base URL without query, fragment or credentials; normalized without a trailing slash. */
export function baseUrl(): Parser<string> {
  const expected = 'must be an absolute http(s) URL without query, fragment or credentials';
  return {
    describe: 'http(s) URL',
    parse(raw) {
      const url = toUrl(raw);
      if (url === undefined) return bad(expected);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return bad(expected);
      if (url.search || url.hash || url.username || url.password || (raw as string).includes('#'))
        return bad(expected);
      return ok(url.href.replace(/\/+$/, ''));
    },
  };
}

/** An absolute URL from a string (surrounding spaces ignored), or undefined. */
function toUrl(raw: unknown): URL | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    return new URL(raw.trim());
  } catch {
    return undefined;
  }
}

/**
 * A service URL with one of `schemes` (e.g. `postgres:`), which may carry credentials: the value is
 * never echoed in messages (see options.ts `sensitive`).
 */
export function serviceUrl(schemes: readonly string[], example: string): Parser<string> {
  const expected = `must be a URL like ${example}`;
  return {
    describe: `${schemes.map((p) => `${p}//`).join(' or ')} URL`,
    parse(raw) {
      const url = toUrl(raw);
      if (url === undefined || !schemes.includes(url.protocol) || !url.hostname || url.hash)
        return bad(expected);
      return ok((raw as string).trim());
    },
  };
}

/** A key prefix: printable ASCII without spaces, at most 64 characters. */
export function keyPrefix(): Parser<string> {
  const expected = 'must be 1 to 64 printable ASCII characters without spaces';
  return {
    describe: 'key prefix',
    parse(raw) {
      return typeof raw === 'string' && /^[\x21-\x7E]{1,64}$/.test(raw) ? ok(raw) : bad(expected);
    },
  };
}

/** An absolute URL path such as `/mcp` (RFC 3986 §3.3 path-absolute; no query or fragment). */
export function urlPath(): Parser<string> {
  const expected = 'must be an absolute URL path such as "/mcp"';
  return {
    describe: 'URL path',
    parse(raw) {
      if (typeof raw !== 'string' || !/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/.test(raw)) return bad(expected);
      if (raw.includes('//') || /%(?![0-9A-Fa-f]{2})/.test(raw)) return bad(expected);
      return ok(raw.length > 1 ? raw.replace(/\/$/, '') : raw);
    },
  };
}

/** A list: a JSON array in the file, comma-separated text in the environment. Empty items are dropped. */
export function list(item: Parser<string>, itemName: string): Parser<string[]> {
  return {
    describe: `comma-separated ${itemName}s`,
    parse(raw, fromText) {
      let items: unknown[];
      if (fromText && typeof raw === 'string') items = raw.split(',').map((s) => s.trim());
      else if (Array.isArray(raw)) items = raw;
      else return bad(fromText ? `must be a comma-separated list of ${itemName}s` : 'must be an array');
      const out: string[] = [];
      for (const [i, v] of items.entries()) {
        if (fromText && v === '') continue;
        const r = item.parse(v, fromText);
        if (!r.ok) return bad(`item ${i + 1} ${r.expected}`);
        if (!out.includes(r.value)) out.push(r.value);
      }
      return ok(out);
    },
  };
}

/** A browser origin, `scheme://host[:port]` (RFC 6454 §6.2 serialization), normalized to lower case. */
export function origin(): Parser<string> {
  const expected = 'must be an origin such as "https://app.example.com"';
  return {
    describe: 'origin',
    parse(raw) {
      if (typeof raw !== 'string') return bad(expected);
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return bad(expected);
      }
      // An origin has no path, query, fragment or credentials (`new URL` reports an empty path as "/").
      if (
        (url.pathname !== '/' && url.pathname !== '') ||
        url.search ||
        url.hash ||
        url.username ||
        url.password ||
        !url.host ||
        /[?#]/.test(raw) ||
        /^[a-z][a-z0-9+.-]*:\/\/[^/]*\/./i.test(raw)
      ) {
        return bad(expected);
      }
      const normalized = `${url.protocol}//${url.host}`;
      return ok(normalized);
    },
  };
}

/** A Host header value: `name` or `name:port` (RFC 9110 §7.2), IPv6 in brackets. Lower-cased. */
export function hostHeader(): Parser<string> {
  const expected = 'must be a host name or host:port';
  return {
    describe: 'host[:port]',
    parse(raw) {
      if (typeof raw !== 'string') return bad(expected);
      const v = raw.trim().toLowerCase();
      const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(v);
      if (!m) return bad(expected);
      const name = m[1]!;
      const port = m[2];
      const validName = name.startsWith('[')
        ? isIP(name.slice(1, -1)) === 6
        : isIP(name) === 4 || HOSTNAME.test(name);
      if (!validName || (port !== undefined && Number(port) > 65535)) return bad(expected);
      return ok(v);
    },
  };
}

/**
 * A trusted proxy: an IP address, a CIDR range or a range name (ip-ranges.ts), in canonical form. The
 * message names the entry, since a list of them is shown whole (and cut short when long).
 */
export function ipRange(): Parser<string> {
  return {
    describe: `IP address, CIDR range or ${Object.keys(IP_RANGE_NAMES).join(', ')}`,
    parse(raw) {
      const entry = JSON.stringify(typeof raw === 'string' ? raw.slice(0, 60) : raw) ?? String(raw);
      const r = typeof raw === 'string' ? parseIpRange(raw) : { ok: false as const, reason: NOT_A_RANGE };
      return r.ok ? ok(r.text) : bad(`(${entry}) ${r.reason}`);
    },
  };
}

/** A secret string of at least `minBytes` UTF-8 bytes. Its value is never echoed in messages. */
export function secret(minBytes: number): Parser<string> {
  return {
    describe: `string of at least ${minBytes} bytes`,
    parse(raw) {
      if (typeof raw !== 'string') return bad('must be a string');
      const n = Buffer.byteLength(raw, 'utf8');
      return n >= minBytes ? ok(raw) : bad(`must be at least ${minBytes} bytes, got ${n} bytes`);
    },
  };
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
export function scopeToken(): Parser<string> {
  return {
    describe: 'a scope token (RFC 6749 §3.3)',
    parse(raw) {
      return typeof raw === 'string' && /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(raw)
        ? ok(raw)
        : bad('a scope token');
    },
  };
}
