// The shape of a grant type (RFC 6749 §4): the token endpoint dispatches on `grant_type` to one of
// these, hands it only the parameters it declares, and sends what it returns as the RFC 6749 §5.1
// access token response.

import type { ClientRecord } from '../../storage/types.ts';
import type { ClientAuthMethod } from '../client-auth.ts';
import type { AuthServerContext } from '../context.ts';
import type { Params } from '../http.ts';

export interface TokenRequest {
  /** The authenticated client (RFC 6749 §3.2.1). */
  readonly client: ClientRecord;
  readonly authMethod: ClientAuthMethod;
  /** The request's parameters, limited to those the grant declares. */
  readonly params: Params;
  readonly ip: string;
  /** Epoch ms, read once per request. */
  readonly now: number;
}

/** RFC 6749 §5.1 successful response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  refresh_token?: string;
}

export interface Grant {
  /** The `grant_type` value (RFC 6749 §4.1.3, §4.4.2, §6). */
  readonly grantType: string;
  /** Parameters the grant reads; others are ignored (RFC 6749 §3.2: "MUST ignore unrecognized request parameters"). */
  readonly parameters: readonly string[];
  handle(ctx: AuthServerContext, request: TokenRequest): Promise<TokenResponse>;
}
