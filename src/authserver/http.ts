// HTTP plumbing shared by the authorization server's endpoints: bounded form and JSON bodies, query
// parameters, no-store JSON responses, the one place OAuthError becomes a response (and a storage
// outage a 503), and the client address.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/logger.ts';
import { isStorageUnavailable } from '../storage/errors.ts';
import { isJsonContentType, readBody } from '../transport/http/body.ts';
import { resolveClientAddress, type TrustedProxies } from './client-address.ts';
import { OAuthError } from './oauth-error.ts';

/** Default cap on form and JSON bodies: token requests are a few hundred bytes, registrations a few KiB. */
export const MAX_BODY_BYTES = 64 * 1024;

/** RFC 6749 §5.1 (no-store) and §5.1's `Pragma: no-cache` for HTTP/1.0 caches. */
export const NO_STORE: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  pragma: 'no-cache',
});

/** Request parameters after RFC 6749 §3.1: empty values dropped, each name at most once unless declared repeatable. */
export class Params {
  readonly #values: ReadonlyMap<string, readonly string[]>;

  constructor(values: ReadonlyMap<string, readonly string[]>) {
    this.#values = values;
  }

  /** The value of a parameter (for a repeatable parameter, its first value). */
  get(name: string): string | undefined {
    return this.#values.get(name)?.[0];
  }

  /** Every value of a repeatable parameter (RFC 8707 §2: `resource` may be given more than once). */
  all(name: string): readonly string[] {
    return this.#values.get(name) ?? [];
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  /** Only the named parameters: a handler never sees what it did not declare. */
  pick(names: readonly string[]): Params {
    const picked = new Map<string, readonly string[]>();
    for (const name of names) {
      const values = this.#values.get(name);
      if (values !== undefined) picked.set(name, values);
    }
    return new Params(picked);
  }
}

export interface ParamOptions {
  /** Names that may occur more than once (RFC 8707 `resource`); every other repeated name is refused. */
  repeatable?: readonly string[];
}

/** Parses application/x-www-form-urlencoded text into Params. */
export function parseParams(text: string, options: ParamOptions = {}): Params {
  const values = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(text)) {
    // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted".
    if (value === '') continue;
    const seen = values.get(name);
    if (seen === undefined) {
      values.set(name, [value]);
      continue;
    }
    // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
    if (!options.repeatable?.includes(name)) {
      throw new OAuthError('invalid_request', `parameter ${safeName(name)} is included more than once`);
    }
    seen.push(value);
  }
  return new Params(values);
}

export interface BodyOptions extends ParamOptions {
  maxBytes?: number;
}

/**
 * Reads an application/x-www-form-urlencoded body (RFC 6749 §3.2: the token endpoint takes POST with
 * form parameters; RFC 7009 §2.1 and RFC 7662 §2.1 alike). Throws OAuthError for anything else.
 */
export async function readForm(req: IncomingMessage, options: BodyOptions = {}): Promise<Params> {
  if (!isFormContentType(req.headers['content-type'])) {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  }
  return parseParams(await readText(req, options.maxBytes ?? MAX_BODY_BYTES), options);
}

/** Reads an application/json body (RFC 7591 §3.1 registration requests). */
export async function readJsonBody(
  req: IncomingMessage,
  options: { maxBytes?: number } = {},
): Promise<unknown> {
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new OAuthError('invalid_request', 'the request body must be application/json');
  }
  const text = await readText(req, options.maxBytes ?? MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch {
    throw new OAuthError('invalid_request', 'the request body is not valid JSON');
  }
}

async function readText(req: IncomingMessage, maxBytes: number): Promise<string> {
  const body = await readBody(req, maxBytes);
  if (body.ok) return body.text;
  if (body.reason === 'too-large') {
    // RFC 9110 §15.5.14; the unread rest of the body is not worth keeping the connection for.
    throw new OAuthError('invalid_request', `the request body exceeds ${maxBytes} bytes`, {
      status: 413,
      headers: { connection: 'close' },
    });
  }
  throw new OAuthError('invalid_request', 'the request body was not received in full');
}

/** `application/x-www-form-urlencoded`, case-insensitive, parameters (charset) allowed. */
export function isFormContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded';
}

/** Writes a JSON response that no cache may keep (RFC 6749 §5.1), in one socket write. */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...NO_STORE,
    ...headers,
  });
  res.end(body);
}

/** An empty 200 that no cache may keep (RFC 7009 §2.2: the revocation response body is ignored). */
export function sendEmpty(
  res: ServerResponse,
  status = 200,
  headers?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  res.writeHead(status, { 'content-length': 0, ...NO_STORE, ...headers });
  res.end();
}

/** RFC 9110 §10.2.3 delay-seconds after a storage outage: the adapters retry their connection about every second. */
export const OUTAGE_RETRY_AFTER_SEC = 1;

/**
 * A storage outage (StorageUnavailableError: PostgreSQL or Redis unreachable, issue #4 "Failure") as
 * the error a client can act on, or undefined for any other error. RFC 6749 §4.1.2.1 defines
 * `temporarily_unavailable` ("unable to handle the request due to a temporary overloading or
 * maintenance") for the authorization endpoint; the token (§5.2), revocation (RFC 7009), introspection
 * (RFC 7662) and registration (RFC 7591) endpoints define no code for it, so they use the same one,
 * with 503 and Retry-After (RFC 9110 §15.6.4), rather than a 500 server_error that says "do not retry".
 * The cause (which backend, why) stays internal.
 */
export function outageError(err: unknown): OAuthError | undefined {
  if (!isStorageUnavailable(err)) return undefined;
  return new OAuthError(
    'temporarily_unavailable',
    'The service is temporarily unavailable. Try again in a moment.',
    { status: 503, headers: { 'retry-after': String(OUTAGE_RETRY_AFTER_SEC) }, cause: err },
  );
}

/**
 * The one way an error leaves the authorization server's JSON endpoints: an OAuthError as its status,
 * headers and `{error, error_description}` body; a storage outage as 503 temporarily_unavailable;
 * anything else as `server_error`, logged with its cause and never with the cause on the wire. Every
 * answer is no-store (sendJson).
 */
export function sendOAuthError(
  res: ServerResponse,
  err: unknown,
  logger?: Logger,
  headers?: Readonly<Record<string, string>>,
): void {
  const outage = outageError(err);
  if (outage !== undefined) {
    // Debug only: the storage adapter reports the outage itself, once, not once per request.
    logger?.debug('storage unavailable: answered 503', { error: err });
    sendJson(res, outage.status, outage.toJSON(), { ...headers, ...outage.headers });
    return;
  }
  if (err instanceof OAuthError) {
    if (err.cause !== undefined)
      logger?.debug('oauth request refused', { error: err.error, cause: err.cause });
    sendJson(res, err.status, err.toJSON(), { ...headers, ...err.headers });
    return;
  }
  logger?.error('authorization server error', { error: err });
  sendJson(
    res,
    500,
    new OAuthError('server_error', 'the server encountered an unexpected error').toJSON(),
    headers,
  );
}

/**
 * The client address of a request (per-IP rate limits, audit events): the connection's peer, or behind
 * a trusted proxy (`http.trustedProxies`) the client it names in X-Forwarded-For / Forwarded
 * (client-address.ts). Without trusted proxies the headers are ignored: any client could pick its own
 * address and step around per-IP rate limits.
 */
export function clientIp(req: IncomingMessage, trusted: TrustedProxies | undefined): string {
  return resolveClientAddress(req, trusted);
}

/**
 * A parameter name echoed in an error description, limited to what RFC 6749 §5.2 allows there
 * (%x20-21 / %x23-5B / %x5D-7E: printable ASCII without double quote and backslash) and bounded in length.
 */
function safeName(name: string): string {
  return name.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?').slice(0, 64);
}
