// The one OAuth error type. `error` is the registered code (annotated with where it is defined),
// `status` the HTTP status, `description` a safe text for the client; `cause` stays internal (audit
// and logs only). One function (`oauthErrorResponse`) turns it into a response.

export type OAuthErrorCode =
  // RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2 (token endpoint)
  | 'invalid_request'
  | 'unauthorized_client'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  // RFC 8707 §2: resource indicator not acceptable
  | 'invalid_target'
  // RFC 7591 §3.2.2
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  // RFC 7009 §2.2.1
  | 'unsupported_token_type'
  // RFC 6750 §3.1 (resource server)
  | 'invalid_token'
  | 'insufficient_scope'
  // RFC 6585 §4 rate limiting, OAuth-shaped (not registered; used with 429)
  | 'slow_down';

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly description: string | undefined;
  /** Extra response headers (WWW-Authenticate, Retry-After). */
  readonly headers: Record<string, string>;
  constructor(
    error: OAuthErrorCode,
    description?: string,
    options: { status?: number; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(description ?? error, { cause: options.cause });
    this.name = 'OAuthError';
    this.error = error;
    this.description = description;
    this.status = options.status ?? defaultStatus(error);
    this.headers = options.headers ?? {};
  }

  toJSON(): { error: OAuthErrorCode; error_description?: string } {
    return this.description === undefined
      ? { error: this.error }
      : { error: this.error, error_description: this.description };
  }
}

function defaultStatus(error: OAuthErrorCode): number {
  switch (error) {
    case 'invalid_client':
      return 401; // RFC 6749 §5.2
    case 'invalid_token':
      return 401; // RFC 6750 §3.1
    case 'insufficient_scope':
      return 403; // RFC 6750 §3.1
    case 'server_error':
      return 500;
    case 'temporarily_unavailable':
      return 503;
    case 'slow_down':
      return 429;
    default:
      return 400;
  }
}
