// Server-side request forgery guard for fetches the authorization server makes on a client's say-so
// (Client ID Metadata Documents). The check runs on the addresses the socket actually connects to —
// inside the DNS lookup the connection uses — so a name that resolves differently the second time
// (DNS rebinding) cannot slip past it. MCP 2026-07-28 authorization security-considerations "Client ID
// Metadata Document Security"; draft-ietf-oauth-client-id-metadata-document-00 §6 (SSRF).

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Addresses that are not the public internet: never fetched. */
const BLOCKED = new BlockList();
// IPv4 (RFC 6890 special-purpose registry). BlockList also matches IPv4-mapped IPv6 (::ffff:a.b.c.d).
BLOCKED.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network", unspecified
BLOCKED.addSubnet('10.0.0.0', 8, 'ipv4'); // RFC 1918 private
BLOCKED.addSubnet('100.64.0.0', 10, 'ipv4'); // RFC 6598 shared address space (CGNAT)
BLOCKED.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local (cloud metadata endpoints live here)
BLOCKED.addSubnet('172.16.0.0', 12, 'ipv4'); // RFC 1918 private
BLOCKED.addSubnet('192.0.0.0', 24, 'ipv4'); // IETF protocol assignments
BLOCKED.addSubnet('192.0.2.0', 24, 'ipv4'); // documentation (TEST-NET-1)
BLOCKED.addSubnet('192.168.0.0', 16, 'ipv4'); // RFC 1918 private
BLOCKED.addSubnet('198.18.0.0', 15, 'ipv4'); // benchmarking
BLOCKED.addSubnet('198.51.100.0', 24, 'ipv4'); // documentation (TEST-NET-2)
BLOCKED.addSubnet('203.0.113.0', 24, 'ipv4'); // documentation (TEST-NET-3)
BLOCKED.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
BLOCKED.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, and 255.255.255.255 broadcast
// IPv6 (RFC 6890, RFC 4291).
BLOCKED.addSubnet('::', 96, 'ipv6'); // unspecified, loopback (::1) and IPv4-compatible ::a.b.c.d
BLOCKED.addSubnet('64:ff9b:1::', 48, 'ipv6'); // local-use NAT64 (RFC 8215)
BLOCKED.addSubnet('100::', 64, 'ipv6'); // discard-only
BLOCKED.addSubnet('2001::', 32, 'ipv6'); // Teredo: tunnels to an embedded IPv4 address
BLOCKED.addSubnet('2001:db8::', 32, 'ipv6'); // documentation
BLOCKED.addSubnet('2002::', 16, 'ipv6'); // 6to4: tunnels to an embedded IPv4 address
BLOCKED.addSubnet('fc00::', 7, 'ipv6'); // unique local (private)
BLOCKED.addSubnet('fe80::', 10, 'ipv6'); // link-local
BLOCKED.addSubnet('fec0::', 10, 'ipv6'); // site-local (deprecated)
BLOCKED.addSubnet('ff00::', 8, 'ipv6'); // multicast

/** The well-known NAT64 prefix 64:ff9b::/96 (RFC 6052) carries an IPv4 address in its last 32 bits. */
const NAT64 = new BlockList();
NAT64.addSubnet('64:ff9b::', 96, 'ipv6');

/** True for an address on the public internet; false for private, loopback, link-local and other special ones. */
export function isPublicAddress(address: string): boolean {
  try {
    return checkPublic(address);
  } catch {
    return false; // unparsable (e.g. with a zone id): never public
  }
}

function checkPublic(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !BLOCKED.check(address, 'ipv4');
  if (family !== 6) return false;
  if (BLOCKED.check(address, 'ipv6')) return false;
  if (NAT64.check(address, 'ipv6')) {
    const v4 = lastIPv4(address);
    return v4 !== undefined && !BLOCKED.check(v4, 'ipv4');
  }
  return true;
}

/** Refusal to connect to a non-public address. */
export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
  constructor(hostname: string, address: string) {
    super(`${hostname} resolves to ${address}, which is not a public address`);
    this.name = 'BlockedAddressError';
  }
}

/**
 * A `lookup` for node:net / node:https that resolves like the system resolver but fails when any
 * resolved address is not public: the connection then never opens. IP literals never reach a lookup
 * function, so callers check those themselves with isPublicAddress.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  const opts: LookupOptions = { ...options, all: true };
  dnsLookup(hostname, opts, (err, result) => {
    if (err) {
      callback(err, '', 0);
      return;
    }
    const addresses = result as unknown as LookupAddress[];
    // Every address must be public: with several, the connection may try any of them.
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad !== undefined || addresses.length === 0) {
      callback(new BlockedAddressError(hostname, bad?.address ?? 'nothing'), '', 0);
      return;
    }
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

/** The IPv4 address in the last 32 bits of an IPv6 address, dotted. */
function lastIPv4(address: string): string | undefined {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) return dotted[1];
  const groups = address.split(':');
  const lo = groups.at(-1);
  const hi = groups.at(-2);
  if (lo === undefined || hi === undefined) return undefined;
  const h = hi === '' ? 0 : Number.parseInt(hi, 16);
  const l = lo === '' ? 0 : Number.parseInt(lo, 16);
  return `${h >> 8}.${h & 255}.${l >> 8}.${l & 255}`;
}
