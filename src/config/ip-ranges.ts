// IP addresses and ranges: the one grammar shared by the `http.trustedProxies` option (validated at
// start-up) and the client-address resolver (which reads addresses out of forwarding headers). Built
// on node:net, so an address means what the operating system's parser says it means.

import { isIP, SocketAddress } from 'node:net';

export type IpFamily = 'ipv4' | 'ipv6';

/** One range of a trust list: `prefix` leading bits of `network` (32 / 128 for a single address). */
export interface IpRange {
  readonly family: IpFamily;
  readonly network: string;
  readonly prefix: number;
}

/**
 * Named ranges accepted in a trust list. `private` is the RFC 1918 IPv4 space and the RFC 4193 unique
 * local IPv6 space; link-local (where a balancer rarely lives) has a name of its own, so trusting the
 * private networks does not also trust every neighbour on the link.
 */
export const IP_RANGE_NAMES: Readonly<Record<string, readonly IpRange[]>> = Object.freeze({
  // RFC 1122 §3.2.1.3 (127/8), RFC 4291 §2.5.3 (::1).
  loopback: [v4('127.0.0.0', 8), v6('::1', 128)],
  // RFC 1918 §3, RFC 4193 §3.1 (fc00::/7).
  private: [v4('10.0.0.0', 8), v4('172.16.0.0', 12), v4('192.168.0.0', 16), v6('fc00::', 7)],
  // RFC 3927 §2.1 (169.254/16), RFC 4291 §2.5.6 (fe80::/10).
  linklocal: [v4('169.254.0.0', 16), v6('fe80::', 10)],
});

function v4(network: string, prefix: number): IpRange {
  return { family: 'ipv4', network, prefix };
}

function v6(network: string, prefix: number): IpRange {
  return { family: 'ipv6', network, prefix };
}

/**
 * An IP address in one canonical text form, or undefined if `text` is not exactly an address: IPv6
 * lower-case and compressed (RFC 5952 §4), and an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2, how
 * IPv4 peers of a dual-stack socket appear) as the IPv4 address it maps. Zone identifiers (`%eth0`)
 * are refused: they name an interface of the sender, not a client.
 */
export function canonicalAddress(text: string): string | undefined {
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  if (family === 4) return text;
  if (family !== 6) return undefined;
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canonical);
  return mapped ? mapped[1] : canonical;
}

export function familyOf(address: string): IpFamily {
  return isIP(address) === 4 ? 'ipv4' : 'ipv6';
}

/** Why an entry that is neither an address, a CIDR range nor a name is refused. */
export const NOT_A_RANGE = `must be an IP address, a CIDR range (10.0.0.0/8, fd00::/8) or ${Object.keys(IP_RANGE_NAMES).join(', ')}`;

export type ParsedRange =
  | { ok: true; text: string; ranges: readonly IpRange[] }
  | { ok: false; reason: string };

/**
 * One entry of a trust list: an IPv4 or IPv6 address, a CIDR range (`10.0.0.0/8`, `fd00::/8`, RFC 4632
 * §3.1 prefix notation) or one of the names of IP_RANGE_NAMES. `text` is the entry in canonical form.
 * A range with bits set beyond its prefix is refused (it is usually a typo for a narrower or a wider
 * range), and so is a `/0`, which would trust every address: any client could then choose its own.
 */
export function parseIpRange(entry: string): ParsedRange {
  const trimmed = entry.trim();
  const name = trimmed.toLowerCase();
  if (Object.hasOwn(IP_RANGE_NAMES, name)) return { ok: true, text: name, ranges: IP_RANGE_NAMES[name]! };
  const slash = trimmed.indexOf('/');
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const address = canonicalAddress(addressText);
  if (address === undefined) return { ok: false, reason: NOT_A_RANGE };
  const family = familyOf(address);
  const width = family === 'ipv4' ? 32 : 128;
  if (slash < 0) return { ok: true, text: address, ranges: [{ family, network: address, prefix: width }] };
  if (family === 'ipv4' && isIP(addressText) === 6) {
    return { ok: false, reason: 'is an IPv4-mapped IPv6 range: write it as the IPv4 range' };
  }
  const prefixText = trimmed.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > width) {
    return { ok: false, reason: `needs a prefix length 1-${width} after the slash` };
  }
  if (prefix === 0) {
    return { ok: false, reason: 'would trust every address, so any client could choose its own' };
  }
  const network = networkOf(address, family, prefix);
  if (network !== address)
    return { ok: false, reason: `has bits set beyond the prefix (the range is ${network}/${prefix})` };
  return { ok: true, text: `${address}/${prefix}`, ranges: [{ family, network, prefix }] };
}

/** The first address of the `prefix`-bit network holding `address`. */
function networkOf(address: string, family: IpFamily, prefix: number): string {
  const bytes = family === 'ipv4' ? address.split('.').map(Number) : ipv6Bytes(address);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefix - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  if (family === 'ipv4') return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalAddress(groups.join(':'))!;
}

/** The 16 bytes of a valid IPv6 address (possibly compressed, possibly ending in dotted IPv4). */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const left = part(head);
  const right = part(tail);
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}
