// Reading required parameters with the RFC 6749 §5.2 error for their absence.

import type { Params } from '../http.ts';
import { OAuthError } from '../oauth-error.ts';

/** RFC 6749 §5.2 invalid_request: "The request is missing a required parameter". */
export function requireParam(params: Params, name: string): string {
  const value = params.get(name);
  if (value === undefined) throw new OAuthError('invalid_request', `missing required parameter: ${name}`);
  return value;
}
