// GET /jwks.json — the public keys that verify access tokens (RFC 7517 §5 JWK Set; RFC 8414 §2
// jwks_uri): the active key and those retiring after a rotation. Empty for HS256, whose key is a secret.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthServerContext } from '../context.ts';
import { sendJson } from '../http.ts';

export async function jwks(
  _req: IncomingMessage,
  res: ServerResponse,
  ctx: AuthServerContext,
): Promise<void> {
  sendJson(res, 200, ctx.keys.jwks());
}
