// Client metadata (RFC 7591 §2) validated once, for every way a client comes to be: a registration
// request, a Client ID Metadata Document, the configuration or the CLI. The result says which rule
// failed in words a developer can act on; the caller picks the OAuth error it travels in.

import type { ClientRecord } from '../../storage/types.ts';
import { checkRedirectUri } from './redirect-uri.ts';

/** Grant types this authorization server implements (RFC 7591 §2 `grant_types`). */
export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
/** Response types (RFC 7591 §2 `response_types`): the code flow only (OAuth 2.1 §4.1). */
export const SUPPORTED_RESPONSE_TYPES = ['code'] as const;
/** Client authentication methods at the token endpoint (RFC 7591 §2 `token_endpoint_auth_method`). */
export const SUPPORTED_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;

export type AuthMethod = ClientRecord['tokenEndpointAuthMethod'];

/** Metadata fields with a first-class place in ClientRecord; everything else lands in `metadata`. */
const RECORD_FIELDS = new Set([
  'redirect_uris',
  'grant_types',
  'response_types',
  'token_endpoint_auth_method',
  'scope',
  'client_name',
]);

/**
 * Fields only the authorization server assigns (RFC 7591 §3.2.1) or that this server does not process
 * (`software_statement`, RFC 7591 §2.3): never stored or echoed from a request.
 */
const SERVER_FIELDS = new Set([
  'client_id',
  'client_secret',
  'client_id_issued_at',
  'client_secret_expires_at',
  'registration_access_token',
  'registration_client_uri',
  'software_statement',
]);

/** RFC 7591 §2 fields holding a URL of a web page or image shown to the user. */
const WEB_URL_FIELDS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri'] as const;

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const MAX_REDIRECT_URIS = 32;
const MAX_NAME_LENGTH = 200;
const MAX_STRING_LENGTH = 2048;

export type MetadataProblem = {
  /** RFC 7591 §3.2.2: which error code the problem maps to. */
  error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  description: string;
};

/** The validated metadata, ready to become a ClientRecord (id, secret and times are the caller's). */
export interface ValidatedMetadata {
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  tokenEndpointAuthMethod: AuthMethod;
  scope?: string;
  clientName?: string;
  /** Every other field, to be returned as registered (RFC 7591 §3.2.1). */
  metadata: Record<string, unknown>;
}

export type MetadataResult = { ok: true; value: ValidatedMetadata } | ({ ok: false } & MetadataProblem);

export interface MetadataRules {
  /** Auth method when the field is absent: RFC 7591 §2 says `client_secret_basic`. */
  defaultAuthMethod: AuthMethod;
  /** Methods allowed here (a Client ID Metadata Document can hold no shared secret). */
  allowedAuthMethods: readonly AuthMethod[];
}

export const REGISTRATION_RULES: MetadataRules = {
  defaultAuthMethod: 'client_secret_basic',
  allowedAuthMethods: SUPPORTED_AUTH_METHODS,
};

/** Validates a client metadata object against RFC 7591 §2 and this server's capabilities. */
export function validateClientMetadata(input: unknown, rules: MetadataRules): MetadataResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return metadataError('the client metadata must be a JSON object');
  }
  const body = input as Record<string, unknown>;

  const grantTypes = stringArray(body, 'grant_types') ?? ['authorization_code']; // RFC 7591 §2 default
  if (grantTypes instanceof Problem) return grantTypes.result();
  if (grantTypes.length === 0) return metadataError('grant_types must not be empty');
  for (const g of grantTypes) {
    if (!(SUPPORTED_GRANT_TYPES as readonly string[]).includes(g)) {
      return metadataError(
        `grant_types: '${quoted(g)}' is not supported (supported: ${SUPPORTED_GRANT_TYPES.join(', ')})`,
      );
    }
  }
  const usesCode = grantTypes.includes('authorization_code');

  // RFC 7591 §2.1: `code` goes with `authorization_code`. An omitted list defaults to `code` only for
  // clients that use the code flow, so a client_credentials-only client needs no response type.
  const responseTypes = stringArray(body, 'response_types') ?? (usesCode ? ['code'] : []);
  if (responseTypes instanceof Problem) return responseTypes.result();
  for (const r of responseTypes) {
    if (!(SUPPORTED_RESPONSE_TYPES as readonly string[]).includes(r)) {
      return metadataError(`response_types: '${quoted(r)}' is not supported (supported: code)`);
    }
  }
  if (usesCode !== responseTypes.includes('code')) {
    return metadataError(
      "grant_types and response_types are inconsistent: 'authorization_code' and 'code' go together (RFC 7591 section 2.1)",
    );
  }

  const method = body.token_endpoint_auth_method ?? rules.defaultAuthMethod;
  if (typeof method !== 'string') return metadataError('token_endpoint_auth_method must be a string');
  if (!(rules.allowedAuthMethods as readonly string[]).includes(method)) {
    return metadataError(
      `token_endpoint_auth_method '${quoted(method)}' is not supported here (supported: ${rules.allowedAuthMethods.join(', ')})`,
    );
  }
  const authMethod = method as AuthMethod;
  // OAuth 2.1 §4.2: the client credentials grant is for confidential clients only.
  if (grantTypes.includes('client_credentials') && authMethod === 'none') {
    return metadataError(
      'grant type client_credentials requires a confidential client (token_endpoint_auth_method client_secret_basic or client_secret_post)',
    );
  }

  const redirectUris = stringArray(body, 'redirect_uris');
  if (redirectUris instanceof Problem) return redirectUris.result();
  // RFC 7591 §2: redirect-based flows MUST register redirect URIs (OAuth 2.1 §2.3.1).
  if (usesCode && (redirectUris === undefined || redirectUris.length === 0)) {
    return {
      ok: false,
      error: 'invalid_redirect_uri',
      description: 'redirect_uris is required for the authorization_code grant',
    };
  }
  if (redirectUris !== undefined && redirectUris.length > MAX_REDIRECT_URIS) {
    return metadataError(`redirect_uris: at most ${MAX_REDIRECT_URIS} are accepted`);
  }
  for (const uri of redirectUris ?? []) {
    const check = checkRedirectUri(uri);
    // RFC 7591 §3.2.2 invalid_redirect_uri: "the value of one or more redirection URIs is invalid".
    if (!check.ok) {
      return {
        ok: false,
        error: 'invalid_redirect_uri',
        description: `redirect URI '${quoted(uri)}' ${check.reason}`,
      };
    }
  }

  const scope = body.scope;
  if (scope !== undefined) {
    if (typeof scope !== 'string')
      return metadataError('scope must be a string of space-separated scope values');
    if (scope.length > MAX_STRING_LENGTH) return metadataError('scope is too long');
    const tokens = scope.split(' ');
    for (const t of tokens) {
      if (!SCOPE_TOKEN.test(t)) {
        return metadataError('scope must be scope tokens separated by single spaces (RFC 6749 section 3.3)');
      }
    }
  }

  const clientName = body.client_name;
  if (clientName !== undefined) {
    if (typeof clientName !== 'string' || clientName.trim() === '') {
      return metadataError('client_name must be a non-empty string');
    }
    if (clientName.length > MAX_NAME_LENGTH)
      return metadataError(`client_name is longer than ${MAX_NAME_LENGTH} characters`);
    // The name is shown to people on the consent page: no control characters (C0, DEL, C1).
    if (CONTROL.test(clientName)) return metadataError('client_name must not contain control characters');
  }
  // No NUL anywhere in the metadata: it is stored (and echoed) verbatim, and text columns of some
  // databases (PostgreSQL) cannot hold U+0000.
  if (containsNul(body)) return metadataError('client metadata must not contain NUL characters');

  const applicationType = body.application_type;
  // OpenID Connect Dynamic Client Registration 1.0 §2 `application_type` (MCP client-registration
  // "Application Type and Redirect URI Constraints").
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
    return metadataError("application_type must be 'web' or 'native'");
  }

  for (const field of WEB_URL_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !isWebUrl(value)) {
      return metadataError(`${field} must be an absolute https or http URL`);
    }
  }

  if (body.contacts !== undefined) {
    const contacts = stringArray(body, 'contacts');
    if (contacts instanceof Problem) return contacts.result();
  }
  for (const field of ['software_id', 'software_version'] as const) {
    const v = body[field];
    if (v !== undefined && (typeof v !== 'string' || v.length > MAX_STRING_LENGTH)) {
      return metadataError(`${field} must be a string`);
    }
  }

  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!RECORD_FIELDS.has(key) && !SERVER_FIELDS.has(key)) metadata[key] = value;
  }
  return {
    ok: true,
    value: {
      redirectUris: redirectUris ?? [],
      grantTypes: dedupe(grantTypes),
      responseTypes: dedupe(responseTypes),
      tokenEndpointAuthMethod: authMethod,
      ...(typeof scope === 'string' ? { scope } : {}),
      ...(typeof clientName === 'string' ? { clientName } : {}),
      metadata,
    },
  };
}

/** The RFC 7591 §3.2.1 metadata view of a client: what a registration response returns besides its id and secret. */
export function metadataOf(client: ClientRecord): Record<string, unknown> {
  return {
    ...client.metadata,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.responseTypes,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(client.scope !== undefined ? { scope: client.scope } : {}),
    ...(client.clientName !== undefined ? { client_name: client.clientName } : {}),
  };
}

/** A field-level problem carried through the small helpers above as a value. */
class Problem {
  readonly description: string;
  constructor(description: string) {
    this.description = description;
  }
  result(): { ok: false } & MetadataProblem {
    return metadataError(this.description);
  }
}

function stringArray(body: Record<string, unknown>, field: string): string[] | Problem | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    return new Problem(`${field} must be an array of strings`);
  }
  return value as string[];
}

function isWebUrl(value: string): boolean {
  if (value.length > MAX_STRING_LENGTH) return false;
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === ''
    );
  } catch {
    return false;
  }
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * A client-supplied value inside an error_description: RFC 6749 §5.2 allows only %x20-21 / %x23-5B /
 * %x5D-7E there, so other characters (quotes, backslashes, controls, non-ASCII) become '?'.
 */
export function quoted(value: string, max = 100): string {
  const clipped = value.length > max ? `${value.slice(0, max)}...` : value;
  return clipped.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?');
}

function metadataError(description: string): { ok: false } & MetadataProblem {
  return { ok: false, error: 'invalid_client_metadata', description };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 16 || value === null || typeof value !== 'object') return false;
  for (const [k, v] of Object.entries(value))
    if (k.includes('\u0000') || containsNul(v, depth + 1)) return true;
  return false;
}
