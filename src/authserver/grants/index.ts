// The grant types the token endpoint serves, by `grant_type` (also `grant_types_supported`, RFC 8414 §2).

import { authorizationCode } from './authorization-code.ts';
import { clientCredentials } from './client-credentials.ts';
import type { Grant } from './grant.ts';
import { refreshToken } from './refresh-token.ts';

export const GRANTS: ReadonlyMap<string, Grant> = new Map(
  [authorizationCode, refreshToken, clientCredentials].map((g) => [g.grantType, g]),
);

export type { Grant, TokenRequest, TokenResponse } from './grant.ts';
