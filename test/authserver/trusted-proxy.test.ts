// Client addresses behind trusted proxies (`http.trustedProxies`): X-Forwarded-For and RFC 7239
// Forwarded are believed only from a trusted peer, walked from the right past trusted hops only, and
// never yield anything but an address a trusted party saw (RFC 7239 §8.1: the header "cannot be relied
// upon to be correct ... including the client making the request"). Then, through a started Keyhole:
// per-IP rate-limit buckets and audit rows follow the resolved client, and a forged header from an
// untrusted peer (or with no proxy trusted) escapes nothing.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createKeyhole, type Keyhole } from '../../src/app/keyhole.ts';
import { resolveClientAddress, TrustedProxies } from '../../src/authserver/client-address.ts';
import { parseIpRange } from '../../src/config/ip-ranges.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { SecurityEvent } from '../../src/observability/events.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { McpServer } from '../../src/server/server.ts';
import { openMemoryStorage } from '../../src/storage/memory/index.ts';

const PROXIES = new TrustedProxies(['10.0.0.0/8', '2001:db8:ffff::/48', '192.0.2.10']);

/** The client address of a request from `peer` with these headers, behind PROXIES (or `trusted`). */
function resolve(
  peer: string | undefined,
  headers: Record<string, string | string[]> = {},
  trusted: TrustedProxies | undefined = PROXIES,
): string {
  return resolveClientAddress({ socket: { remoteAddress: peer }, headers }, trusted);
}

describe('trust list: addresses, CIDR ranges, names', () => {
  test('addresses and ranges, IPv4 and IPv6', () => {
    assert.ok(PROXIES.trusts('10.0.0.1'));
    assert.ok(PROXIES.trusts('10.255.255.255'));
    assert.ok(!PROXIES.trusts('11.0.0.0'));
    assert.ok(PROXIES.trusts('192.0.2.10'));
    assert.ok(!PROXIES.trusts('192.0.2.11'));
    assert.ok(PROXIES.trusts('2001:db8:ffff:1::9'));
    assert.ok(!PROXIES.trusts('2001:db8:fffe::1'));
  });

  test('loopback, private (RFC 1918, fc00::/7) and linklocal are separate names', () => {
    const loopback = new TrustedProxies(['loopback']);
    assert.ok(loopback.trusts('127.0.0.1') && loopback.trusts('127.9.9.9') && loopback.trusts('::1'));
    assert.ok(!loopback.trusts('10.0.0.1'));
    const priv = new TrustedProxies(['private']);
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fc00::1', 'fd12:3456::1'])
      assert.ok(priv.trusts(a), a);
    for (const a of ['172.32.0.1', '192.169.0.1', '169.254.1.1', 'fe80::1', '127.0.0.1', '8.8.8.8', '::1'])
      assert.ok(!priv.trusts(a), a);
    const linklocal = new TrustedProxies(['linklocal']);
    assert.ok(linklocal.trusts('169.254.10.1') && linklocal.trusts('fe80::abcd'));
    assert.ok(!linklocal.trusts('10.0.0.1'));
  });

  test('an empty list trusts nobody', () => {
    assert.ok(!TrustedProxies.none.trusts('127.0.0.1'));
    assert.ok(!new TrustedProxies([]).trusts('10.0.0.1'));
  });

  test('entries are canonical; typos, /0 and mapped ranges are refused with a reason', () => {
    assert.deepEqual(parseIpRange('2001:DB8:0::/32'), {
      ok: true,
      text: '2001:db8::/32',
      ranges: [{ family: 'ipv6', network: '2001:db8::', prefix: 32 }],
    });
    assert.equal((parseIpRange('::ffff:192.0.2.1') as { text: string }).text, '192.0.2.1');
    assert.equal((parseIpRange(' Private ') as { text: string }).text, 'private');
    const reason = (entry: string) => {
      const r = parseIpRange(entry);
      assert.ok(!r.ok, entry);
      return r.reason;
    };
    assert.equal(reason('10.0.0.1/8'), 'has bits set beyond the prefix (the range is 10.0.0.0/8)');
    assert.equal(reason('fd00::1/8'), 'has bits set beyond the prefix (the range is fd00::/8)');
    assert.match(reason('0.0.0.0/0'), /would trust every address/);
    assert.match(reason('::/0'), /would trust every address/);
    assert.match(reason('10.0.0.0/33'), /prefix length 1-32/);
    assert.match(reason('2001:db8::/129'), /prefix length 1-128/);
    assert.match(reason('10.0.0.0/'), /prefix length/);
    assert.match(reason('::ffff:10.0.0.0/104'), /IPv4-mapped/);
    for (const bad of ['10.0.0.300', '010.0.0.1', 'proxy.internal', 'fe80::1%eth0', '', 'constructor', '*'])
      assert.match(
        reason(bad),
        /must be an IP address, a CIDR range \(10\.0\.0\.0\/8, fd00::\/8\) or loopback, private, linklocal/,
        bad,
      );
    assert.throws(() => new TrustedProxies(['10.0.0.1/8']), /trusted proxy "10.0.0.1\/8" has bits set/);
  });
});

describe('resolution: the peer unless it is a trusted proxy', () => {
  test('no trusted proxies: the peer, whatever the headers say', () => {
    const headers = { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9' };
    // The context of a fixture that sets no trust list at all.
    assert.equal(
      resolveClientAddress({ socket: { remoteAddress: '10.0.0.1' }, headers }, undefined),
      '10.0.0.1',
    );
    assert.equal(resolve('10.0.0.1', headers, TrustedProxies.none), '10.0.0.1');
  });

  test('an untrusted peer: its headers are ignored entirely', () => {
    assert.equal(resolve('198.51.100.7', { 'x-forwarded-for': '203.0.113.9' }), '198.51.100.7');
    assert.equal(resolve('198.51.100.7', { forwarded: 'for=203.0.113.9' }), '198.51.100.7');
    // Naming a trusted proxy in the header does not make the peer one.
    assert.equal(resolve('198.51.100.7', { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' }), '198.51.100.7');
  });

  test('a trusted peer without forwarding headers is the client', () => {
    assert.equal(resolve('10.0.0.1'), '10.0.0.1');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': ' , ' }), '10.0.0.1');
  });

  test('IPv4-mapped peers are IPv4, trusted or not (RFC 4291 §2.5.5.2)', () => {
    assert.equal(resolve('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(resolve('::ffff:10.0.0.1', { 'x-forwarded-for': '203.0.113.9' }), '203.0.113.9');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '::ffff:203.0.113.9' }), '203.0.113.9');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '::ffff:cb00:7109' }), '203.0.113.9');
  });

  test('a link-local peer with a zone is matched without it', () => {
    const linklocal = new TrustedProxies(['linklocal']);
    assert.equal(resolve('fe80::1%eth0', { 'x-forwarded-for': '203.0.113.9' }, linklocal), '203.0.113.9');
    assert.equal(resolve('fe80::1%eth0', { 'x-forwarded-for': '203.0.113.9' }), 'fe80::1');
  });

  test('no socket address (a destroyed socket): "unknown", as before', () => {
    assert.equal(resolve(undefined, { 'x-forwarded-for': '203.0.113.9' }), 'unknown');
  });
});

describe('X-Forwarded-For: walked from the right, past trusted hops only', () => {
  test('one trusted hop', () => {
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '203.0.113.9' }), '203.0.113.9');
  });

  test('a chain of several trusted proxies', () => {
    assert.equal(
      resolve('10.0.0.1', { 'x-forwarded-for': '203.0.113.9, 192.0.2.10, 10.0.0.7' }),
      '203.0.113.9',
    );
  });

  test('spoofed left-most entries are ignored: the first untrusted hop from the right is the client', () => {
    // The client sent "X-Forwarded-For: 198.51.100.66"; our balancer appended the peer it saw.
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '198.51.100.66, 203.0.113.9' }), '203.0.113.9');
    // Claiming to be behind one of our proxies does not help either.
    assert.equal(
      resolve('10.0.0.1', { 'x-forwarded-for': '198.51.100.66, 10.0.0.99, 203.0.113.9' }),
      '203.0.113.9',
    );
  });

  test('every hop trusted: the left-most (the request began at a proxy)', () => {
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '10.0.0.3, 10.0.0.2' }), '10.0.0.3');
  });

  test('IPv6, canonicalised (RFC 5952 §4), with or without brackets and port', () => {
    assert.equal(resolve('2001:db8:ffff::1', { 'x-forwarded-for': '2001:DB8:0:0::7' }), '2001:db8::7');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]:443' }), '2001:db8::7');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]' }), '2001:db8::7');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': '203.0.113.9:4711' }), '203.0.113.9');
    assert.equal(
      resolve('2001:db8:ffff::1', { 'x-forwarded-for': '203.0.113.9, 2001:db8:ffff::2' }),
      '203.0.113.9',
    );
  });

  test('malformed entries stop the walk at the last trusted hop, never a garbage key', () => {
    for (const garbage of [
      'not-an-ip',
      '203.0.113.9<script>',
      '010.0.0.1',
      '1.2.3',
      '1.2.3.4.5',
      'fe80::1%eth0',
      '[203.0.113.9]',
      'unknown',
      '203.0.113.9:123456',
    ]) {
      assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': garbage }), '10.0.0.1', garbage);
      assert.equal(
        resolve('10.0.0.1', { 'x-forwarded-for': `203.0.113.9, ${garbage}, 10.0.0.5` }),
        '10.0.0.5',
        garbage,
      );
    }
  });

  test('several header lines are one list, in order', () => {
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': ['203.0.113.9', '10.0.0.5'] }), '203.0.113.9');
    assert.equal(resolve('10.0.0.1', { 'x-forwarded-for': ['10.0.0.5', '203.0.113.9'] }), '203.0.113.9');
  });
});

describe('Forwarded (RFC 7239)', () => {
  test('§5.2 for=, IPv4 as a token or quoted, with a port, other parameters ignored', () => {
    assert.equal(resolve('10.0.0.1', { forwarded: 'for=203.0.113.9' }), '203.0.113.9');
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="203.0.113.9:4711"' }), '203.0.113.9');
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'proto=https;for=203.0.113.9;by=10.0.0.1;host=mcp.example.com' }),
      '203.0.113.9',
    );
    // §4: parameter names are case-insensitive; empty pairs are allowed.
    assert.equal(resolve('10.0.0.1', { forwarded: 'For=203.0.113.9;;PROTO=https' }), '203.0.113.9');
  });

  test('§6.1 IPv6 quoted in brackets, with an optional port', () => {
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="[2001:db8:cafe::17]"' }), '2001:db8:cafe::17');
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="[2001:DB8:CAFE::17]:4711"' }), '2001:db8:cafe::17');
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="[::ffff:203.0.113.9]"' }), '203.0.113.9');
  });

  test('§7.5 chains: elements walked from the right past trusted proxies; spoofed ones ignored', () => {
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'for=198.51.100.66, for=203.0.113.9, for="10.0.0.5:80"' }),
      '203.0.113.9',
    );
    assert.equal(resolve('10.0.0.1', { forwarded: ['for=203.0.113.9', 'for=10.0.0.5'] }), '203.0.113.9');
    // A comma inside a quoted string does not split the element.
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'for=198.51.100.66, for=203.0.113.9;ext="a, for=10.0.0.5"' }),
      '203.0.113.9',
    );
  });

  test('§6.2 unknown and §6.3 obfuscated identifiers stop the walk at the last trusted hop', () => {
    assert.equal(resolve('10.0.0.1', { forwarded: 'for=unknown' }), '10.0.0.1');
    assert.equal(resolve('10.0.0.1', { forwarded: 'for=203.0.113.9, for=UNKNOWN' }), '10.0.0.1');
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'for=203.0.113.9, for=_hidden, for=10.0.0.5' }),
      '10.0.0.5',
    );
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="_gazonk"' }), '10.0.0.1');
    // An obfuscated port is fine: the address is known.
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="203.0.113.9:_p1"' }), '203.0.113.9');
  });

  test('malformed elements stop the walk; a later well-formed element still counts', () => {
    for (const bad of [
      'for="2001:db8::1"', // §6.1: IPv6 needs brackets
      'for=[2001:db8::1]', // brackets are not token characters: must be quoted
      'for="[203.0.113.9]"', // brackets are for IPv6
      'for=203.0.113.9;for=198.51.100.1', // §4: a parameter at most once per element
      'proto=https', // no for
      'for', // no value
      'for=', // empty value
      '=203.0.113.9',
      'f or=203.0.113.9',
      'for=not-an-ip',
      'for="203.0.113.9\u0000"',
    ]) {
      assert.equal(resolve('10.0.0.1', { forwarded: bad }), '10.0.0.1', bad);
      assert.equal(
        resolve('10.0.0.1', { forwarded: `for=203.0.113.9, ${bad}, for=10.0.0.5` }),
        '10.0.0.5',
        bad,
      );
    }
    // An unterminated quoted-string swallows the rest of the header: nothing after it can be believed.
    assert.equal(resolve('10.0.0.1', { forwarded: 'for="203.0.113.9' }), '10.0.0.1');
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'for=203.0.113.9, for="198.51.100.1, for=10.0.0.5' }),
      '10.0.0.1',
    );
  });

  test('both headers: believed when they name the same client, else the peer (neither can be verified)', () => {
    // A proxy that writes both (RFC 7239 §7.4 transition).
    assert.equal(
      resolve('10.0.0.1', {
        forwarded: 'for=203.0.113.9, for=10.0.0.5',
        'x-forwarded-for': '203.0.113.9, 10.0.0.5',
      }),
      '203.0.113.9',
    );
    // A proxy that appends to X-Forwarded-For and passes the client's own Forwarded through.
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'for=198.51.100.66', 'x-forwarded-for': '203.0.113.9' }),
      '10.0.0.1',
    );
    // ... and the other way round.
    assert.equal(
      resolve('10.0.0.1', { forwarded: 'for=203.0.113.9', 'x-forwarded-for': '198.51.100.66' }),
      '10.0.0.1',
    );
    // A header with no elements says nothing.
    assert.equal(resolve('10.0.0.1', { forwarded: 'for=203.0.113.9', 'x-forwarded-for': '' }), '203.0.113.9');
  });
});

// --- Through a started Keyhole: the per-IP limits on /token follow the resolved client. ---

const tmp = mkdtempSync(join(tmpdir(), 'keyhole-proxy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const LIMIT = 2;

interface Started {
  keyhole: Keyhole;
  url: URL;
  events: SecurityEvent[];
  storage: ReturnType<typeof openMemoryStorage>;
}

async function start(env: Record<string, string>): Promise<Started> {
  const config = loadConfig({
    flags: { port: '0', 'data-dir': join(tmp, 'data') },
    env: { KEYHOLE_KEY_SECRET: 'k'.repeat(32), KEYHOLE_RATE_LIMIT_PER_MINUTE: String(LIMIT), ...env },
    cwd: tmp,
  });
  const storage = openMemoryStorage();
  const keyhole = await createKeyhole(config, {
    logger: silentLogger,
    server: new McpServer({ name: 'proxy-test', version: '1.0.0' }),
    auth: { storage },
  });
  const url = await keyhole.listen();
  const events: SecurityEvent[] = [];
  keyhole.auth!.events.on((e) => events.push(e));
  return { keyhole, url, events, storage };
}

let clients = 0;

/**
 * POST /token from local address `from` with these headers, for a client nobody registered (a fresh
 * id each time, so only the per-IP limit can refuse): 401 invalid_client when allowed, 429 when limited.
 */
function postToken(
  s: Started,
  headers: Record<string, string | string[]> = {},
  from = '127.0.0.1',
): Promise<number> {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: 'x',
    client_id: `unregistered-${++clients}`,
  }).toString();
  return new Promise((done, fail) => {
    const req = request(
      new URL('/token', s.url),
      {
        method: 'POST',
        localAddress: from,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/** The statuses of `n` token requests. */
async function statuses(n: number, send: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await send(i));
  return out;
}

const ALLOWED = Array(LIMIT).fill(401);

/** The `ip` of every rate_limit.hit event so far: what the log line and the audit row carry. */
function limitedIps(s: Started): string[] {
  return s.events.flatMap((e) => (e.type === 'rate_limit.hit' ? [e.data.ip] : []));
}

describe('through a started Keyhole: per-IP rate limits behind a trusted proxy', () => {
  test('two clients behind the same trusted peer get separate buckets; events and audit name them', async () => {
    const s = await start({ KEYHOLE_TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const a = { 'x-forwarded-for': '198.51.100.1' };
      const b = { 'x-forwarded-for': '198.51.100.2' };
      assert.deepEqual(await statuses(LIMIT + 1, () => postToken(s, a)), [...ALLOWED, 429]);
      // Client A is limited; client B, behind the same balancer, is not.
      assert.deepEqual(await statuses(LIMIT, () => postToken(s, b)), ALLOWED);
      assert.equal(await postToken(s, b), 429);
      // A forged left-most entry does not move A to a fresh bucket: the balancer appended the real one.
      assert.equal(await postToken(s, { 'x-forwarded-for': '203.0.113.77, 198.51.100.1' }), 429);
      // Two header lines are one list: "203.0.113.78, 198.51.100.1".
      assert.equal(await postToken(s, { 'x-forwarded-for': ['203.0.113.78', '198.51.100.1'] }), 429);
      // The same client in RFC 7239 form is the same bucket.
      assert.equal(await postToken(s, { forwarded: 'for="198.51.100.1:5000";proto=https' }), 429);
      // Malformed: the request counts against the peer (the balancer), never a garbage key.
      assert.equal(await postToken(s, { 'x-forwarded-for': 'garbage' }), 401);

      assert.deepEqual(limitedIps(s), [
        '198.51.100.1',
        '198.51.100.2',
        '198.51.100.1',
        '198.51.100.1',
        '198.51.100.1',
      ]);
    } finally {
      await s.keyhole.close();
    }
    // The audit trail (written by the audit subscriber, flushed on close) has the client's address.
    const rows = await s.storage.audit.tail(100);
    const audited = rows.filter((r) => r.type === 'rate_limit.hit').map((r) => r.data.ip);
    assert.ok(audited.includes('198.51.100.1') && audited.includes('198.51.100.2'), JSON.stringify(audited));
    assert.ok(!audited.includes('127.0.0.1'), JSON.stringify(audited));
  });

  test('from an untrusted peer, a forged X-Forwarded-For does not escape the limit', async () => {
    // Only 127.0.0.1 is trusted; this client connects from 127.0.0.2.
    const s = await start({ KEYHOLE_TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const forged = (i: number) =>
        postToken(
          s,
          { 'x-forwarded-for': `198.51.100.${10 + i}`, forwarded: `for=198.51.100.${10 + i}` },
          '127.0.0.2',
        );
      assert.deepEqual(await statuses(LIMIT + 2, forged), [...ALLOWED, 429, 429]);
      assert.deepEqual(limitedIps(s), ['127.0.0.2', '127.0.0.2']);
      // The trusted peer's clients are unaffected.
      assert.equal(await postToken(s, { 'x-forwarded-for': '198.51.100.99' }), 401);
    } finally {
      await s.keyhole.close();
    }
  });

  test('with no trusted proxies (the default), forwarding headers change nothing', async () => {
    const s = await start({});
    try {
      assert.deepEqual(s.keyhole.config.http.trustedProxies, []);
      const forged = (i: number) => postToken(s, { 'x-forwarded-for': `198.51.100.${20 + i}` });
      assert.deepEqual(await statuses(LIMIT + 1, forged), [...ALLOWED, 429]);
      assert.equal(await postToken(s, { forwarded: 'for=198.51.100.200' }), 429);
      assert.deepEqual(limitedIps(s), ['127.0.0.1', '127.0.0.1']);
    } finally {
      await s.keyhole.close();
    }
  });
});
