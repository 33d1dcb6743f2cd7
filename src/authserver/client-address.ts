// The client address of a request: the key of the per-IP rate limits and the `ip` of audit events.
// Behind a load balancer every connection comes from the balancer, so the address its client had is
// read from X-Forwarded-For or Forwarded (RFC 7239), but only when the connection comes from a proxy
// the operator trusts (`http.trustedProxies`), and only as far as trusted proxies vouch for it: anyone
// can send these headers, and a client that could choose its address would step around every limit.

import { BlockList } from 'node:net';
import { canonicalAddress, familyOf, parseIpRange } from '../config/ip-ranges.ts';

/** The proxies whose forwarding headers are believed, parsed once at start-up. */
export class TrustedProxies {
  /** Nobody is trusted: the client is always the connection's peer. */
  static readonly none = new TrustedProxies([]);

  readonly #list = new BlockList();
  readonly #empty: boolean;

  /** Throws on an entry that is not an address, a CIDR range or a range name (the config refuses those first). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseIpRange(entry);
      if (!parsed.ok) throw new TypeError(`trusted proxy ${JSON.stringify(entry)} ${parsed.reason}`);
      for (const range of parsed.ranges) this.#list.addSubnet(range.network, range.prefix, range.family);
    }
    this.#empty = entries.length === 0;
  }

  /** Whether `address` (canonical, see canonicalAddress) is a trusted proxy. */
  trusts(address: string): boolean {
    return !this.#empty && this.#list.check(address, familyOf(address));
  }
}

/** What the resolver reads from a request: its peer and its (Node-joined) headers. */
export interface ForwardedRequest {
  readonly socket: { readonly remoteAddress?: string | undefined };
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A hop named by a forwarding header: its address, or null where the chain cannot be followed further. */
type Hop = string | null;

/**
 * The address of the client that sent `req`. The connection's peer, unless the peer is a trusted
 * proxy: then its forwarding header is walked from the right (the entry the peer itself appended)
 * leftwards, each entry vouched for by the trusted proxy to its right, to the first address that is not
 * a trusted proxy. An entry that is not an address (`unknown`, an obfuscated identifier, garbage) ends
 * the walk at the last trusted hop: the result is always an address that a trusted party saw, never
 * text a client chose. IPv4-mapped IPv6 addresses are reported as IPv4.
 */
export function resolveClientAddress(req: ForwardedRequest, trusted: TrustedProxies | undefined): string {
  const raw = req.socket.remoteAddress;
  if (raw === undefined) return 'unknown';
  // The kernel's word, not a client's: a zone (`fe80::1%eth0`) only says which interface it came in on.
  const peer = canonicalAddress(raw.replace(/%.*$/, ''));
  if (peer === undefined) return raw;
  // RFC 7239 §8.1: the headers are believed only from a peer the operator vouches for.
  if (trusted === undefined || !trusted.trusts(peer)) return peer;

  const forwarded = forwardedHops(headerValue(req.headers.forwarded));
  const xff = xForwardedForHops(headerValue(req.headers['x-forwarded-for']));
  if (forwarded.length === 0) return walk(peer, xff, trusted);
  if (xff.length === 0) return walk(peer, forwarded, trusted);
  // Both present. RFC 7239 §7.4 lets a proxy carry the same hops in both during a transition, but a
  // proxy usually maintains only one of them and passes the other through as the client sent it
  // (RFC 7239 §8.1), so preferring either header would let a client choose its address behind a proxy
  // that maintains the other. Believe the headers only when both name the same client; otherwise
  // neither can be verified, and the request is attributed to the peer (the last verified address).
  const a = walk(peer, forwarded, trusted);
  const b = walk(peer, xff, trusted);
  return a === b ? a : peer;
}

function walk(peer: string, hops: readonly Hop[], trusted: TrustedProxies): string {
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (hop === null) break;
    client = hop;
    if (!trusted.trusts(hop)) break;
  }
  return client;
}

/** Several header lines arrive joined by Node with ", " (one list, RFC 9110 §5.3); an array is joined alike. */
function headerValue(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join(', ');
}

/**
 * X-Forwarded-For (no specification; the de-facto form is a comma-separated list of addresses, each
 * proxy appending its peer). Entries may carry a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some
 * balancers write them. Empty entries are skipped (RFC 9110 §5.6.1).
 */
function xForwardedForHops(value: string): Hop[] {
  const hops: Hop[] = [];
  for (const item of value.split(',')) {
    const entry = item.trim();
    if (entry !== '') hops.push(hostAddress(entry, false));
  }
  return hops;
}

// RFC 7239 §6: node-port = port / obfport; port = 1*5DIGIT; obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-").
const BRACKETED = /^\[([^\]]*)\](?::(?:\d{1,5}|_[A-Za-z0-9._-]+))?$/;
const DOTTED = /^(\d+\.\d+\.\d+\.\d+)(?::(?:\d{1,5}|_[A-Za-z0-9._-]+))?$/;

/**
 * `IPv4`, `IPv4:port`, `[IPv6]` or `[IPv6]:port` (RFC 7239 §6: brackets, as in RFC 3986 §3.2.2, keep an
 * IPv6 address apart from its port); a bare IPv6 address only where brackets are not required (X-Forwarded-For).
 */
function hostAddress(text: string, bracketsRequired: boolean): Hop {
  const bracketed = BRACKETED.exec(text);
  if (bracketed) return bracketed[1]!.includes(':') ? (canonicalAddress(bracketed[1]!) ?? null) : null;
  const dotted = DOTTED.exec(text);
  if (dotted) return canonicalAddress(dotted[1]!) ?? null;
  return bracketsRequired ? null : (canonicalAddress(text) ?? null);
}

// RFC 9110 §5.6.2 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The `for` node of each element of a Forwarded header (RFC 7239 §4), in order. An element without
 * `for`, with it twice (§4: "Each parameter MUST NOT occur more than once per forwarded-element"), or
 * that does not parse, is a hop that cannot be followed (null). Empty elements are skipped (RFC 9110
 * §5.6.1).
 */
function forwardedHops(value: string): Hop[] {
  const hops: Hop[] = [];
  for (const element of splitOutsideQuotes(value, ',')) {
    if (element.trim() === '') continue;
    hops.push(forNode(element));
  }
  return hops;
}

function forNode(element: string): Hop {
  let node: string | undefined;
  for (const pair of splitOutsideQuotes(element, ';')) {
    const text = pair.trim();
    // §4: forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
    if (text === '') continue;
    const eq = text.indexOf('=');
    if (eq <= 0) return null;
    const name = text.slice(0, eq);
    const value = unquote(text.slice(eq + 1));
    if (!TOKEN.test(name) || value === undefined) return null;
    // §4: "The parameter names are case-insensitive."
    if (name.toLowerCase() !== 'for') continue;
    if (node !== undefined) return null;
    node = value;
  }
  if (node === undefined) return null;
  // §6: node = nodename [ ":" node-port ]; nodename = IPv4address / "[" IPv6address "]" / "unknown"
  // / obfnode. §6.2 `unknown` and §6.3 obfuscated identifiers name no address: the walk stops there.
  return hostAddress(node, true);
}

/** value = token / quoted-string (RFC 7239 §4, RFC 9110 §5.6.4); undefined if it is neither. */
function unquote(value: string): string | undefined {
  if (TOKEN.test(value)) return value;
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return undefined;
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    let c = value[i]!;
    if (c === '"') return undefined;
    if (c === '\\') {
      if (i + 1 >= value.length - 1) return undefined;
      c = value[++i]!;
    }
    // qdtext and quoted-pair: HTAB, SP, visible ASCII (obs-text has no place in an address).
    if (!/^[\t\x20-\x7e]$/.test(c)) return undefined;
    out += c;
  }
  return out;
}

/** Splits at `separator` outside quoted strings; an unterminated quote runs to the end (and fails to parse). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
