// Origin and Host validation for every MCP endpoint (MCP 2026-07-28 streamable-http "Security & Endpoint";
// security best practices "DNS rebinding"): a browser tricked into talking to a local server carries
// the attacker's host name in `Host` and the attacker's page in `Origin`, so both are checked against
// what this server is actually called.

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface SecurityPolicyInit {
  /** The public base URL (its host and origin are always allowed). */
  readonly publicUrl: URL;
  /** The address the listener is bound to. */
  readonly bindHost: string;
  /** The port actually bound. */
  readonly port: number;
  readonly allowedHosts: readonly string[];
  readonly allowedOrigins: readonly string[];
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** The host name of a `Host` header value, lower-cased, without its port. */
export function hostName(header: string): string {
  const h = header.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

function normalizeOrigin(value: string): string | undefined {
  try {
    const u = new URL(value);
    return u.origin === 'null' ? undefined : u.origin;
  } catch {
    return undefined;
  }
}

export class SecurityPolicy {
  readonly #hosts = new Set<string>();
  readonly #origins = new Set<string>();
  readonly #seen = new Set<string>();

  constructor(init: SecurityPolicyInit) {
    this.#hosts.add(hostName(init.publicUrl.host));
    this.#origins.add(init.publicUrl.origin);
    // A server bound to loopback (or to every interface) is reachable as localhost on its own port.
    if (isLoopbackHost(init.bindHost) || isWildcardHost(init.bindHost)) {
      for (const name of LOOPBACK_NAMES) {
        this.#hosts.add(name);
        this.#origins.add(`http://${name}:${init.port}`);
        this.#origins.add(`https://${name}:${init.port}`);
      }
    }
    for (const h of init.allowedHosts) this.#hosts.add(hostName(h));
    for (const o of init.allowedOrigins) {
      const n = normalizeOrigin(o);
      if (!n) throw new TypeError(`http option allowedOrigins: "${o}" is not an origin`);
      this.#origins.add(n);
    }
  }

  /**
   * `Host` must name this server. Only the host name is compared: DNS rebinding works by a foreign name
   * resolving to our address, while ports legitimately change behind proxies and port mappings.
   */
  hostAllowed(host: string | undefined): boolean {
    if (host === undefined) return false;
    if (this.#seen.has(host)) return true;
    if (!this.#hosts.has(hostName(host))) return false;
    // Remembers the exact header values that passed (bounded), so the usual request skips the parsing.
    if (this.#seen.size < 64) this.#seen.add(host);
    return true;
  }

  /** MCP streamable-http "Security & Endpoint": an `Origin` that is present must be one we serve. */
  originAllowed(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    if (this.#origins.has(origin)) return true;
    const n = normalizeOrigin(origin);
    return n !== undefined && this.#origins.has(n);
  }
}

/** Response headers that let an allowed browser origin read MCP responses (Fetch standard, CORS protocol). */
export function corsHeaders(origin: string): Record<string, string> {
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'Mcp-Session-Id, WWW-Authenticate',
    vary: 'Origin',
  };
}

/** Answer to a CORS preflight from an allowed origin. */
export function preflightHeaders(
  origin: string,
  requestedHeaders: string | undefined,
): Record<string, string> {
  return {
    ...corsHeaders(origin),
    'access-control-allow-methods': 'GET, POST, DELETE',
    // The Mcp-Param-* names vary per tool, so the requested list is echoed (the origin is trusted).
    'access-control-allow-headers':
      requestedHeaders ??
      'Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID',
    'access-control-max-age': '600',
  };
}
