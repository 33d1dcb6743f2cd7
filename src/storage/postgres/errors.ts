// Telling "PostgreSQL cannot be reached" apart from every other failure, naming the server but never
// the credentials of its URL.

import { StorageUnavailableError } from '../errors.ts';

/**
 * The server could not be reached, dropped the connection, or did not answer in time. The message
 * names host, port and database.
 */
export class PostgresUnavailableError extends StorageUnavailableError {
  /** `host:port/database` — never the user name or password. */
  readonly target: string;

  constructor(target: string, options?: ErrorOptions) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('postgres', `PostgreSQL at ${target} is unreachable${reason}`, options);
    this.name = 'PostgresUnavailableError';
    this.target = target;
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/**
 * SQLSTATEs that mean "not now" rather than "wrong": class 08 (connection exception), 53300
 * (too_many_connections), 57014 (query_canceled: our statement_timeout fired), 57P01–57P03 (admin or
 * crash shutdown, cannot connect now: a server restarting or still starting).
 */
function isUnavailableState(code: string): boolean {
  return code.startsWith('08') || code === '53300' || code === '57014' || /^57P0[123]$/.test(code);
}

/** Network failures, the SQLSTATEs above, and pg's own connect and read timeouts. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isUnavailableState(code))) return true;
  // pg reports a dropped socket, a connect timeout and a query read timeout by message only.
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(
    err.message,
  );
}

/**
 * `host:port/database` of a connection URL, for messages. Throws without echoing the URL (it may hold a
 * password) when it does not parse.
 */
export function describeTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('invalid PostgreSQL URL (expected postgres://user:password@host:port/database)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error('invalid PostgreSQL URL: the scheme must be postgres: or postgresql:');
  }
  // A `host` query parameter (e.g. a Unix socket directory) overrides the authority, as in libpq.
  const host = parsed.searchParams.get('host') || decodeURIComponent(parsed.hostname) || 'localhost';
  const port = parsed.port || '5432';
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '(default database)';
  return `${host}:${port}/${database}`;
}
