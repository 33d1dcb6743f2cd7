// GET /.well-known/oauth-authorization-server — authorization server metadata (RFC 8414 §2), also
// served at the OpenID Connect discovery locations (MCP 2026-07-28 authorization-server-discovery: a
// client tries both). Built once per configuration object: it changes only with the configuration
// (a new object when the application's tools bring new scopes).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { AS_PATHS, type AuthServerContext, endpointUrl } from '../context.ts';
import { GRANTS } from '../grants/index.ts';
import { sendJson } from '../http.ts';
import { challengeMethods } from '../pkce.ts';

/** RFC 6749 §2.3 methods the token endpoint accepts (client-auth.ts). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;
/** RFC 7662 §2.1: introspection callers must authenticate, so `none` is not offered. */
export const INTROSPECTION_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const;

const documents = new WeakMap<AuthServerContext['config'], Record<string, unknown>>();

export async function metadata(
  _req: IncomingMessage,
  res: ServerResponse,
  ctx: AuthServerContext,
): Promise<void> {
  sendJson(res, 200, metadataDocument(ctx));
}

/** The RFC 8414 §2 document; `issuer` is exactly the identifier the metadata URL was built from (§3.3). */
export function metadataDocument(ctx: AuthServerContext): Record<string, unknown> {
  let doc = documents.get(ctx.config);
  if (doc === undefined) {
    doc = build(ctx);
    documents.set(ctx.config, doc);
  }
  return doc;
}

function build(ctx: AuthServerContext): Record<string, unknown> {
  const c = ctx.config;
  const url = (path: string) => endpointUrl(c, path);
  const doc: Record<string, unknown> = {
    issuer: c.issuer,
    authorization_endpoint: url(AS_PATHS.authorize),
    token_endpoint: url(AS_PATHS.token),
  };
  // RFC 8414 §2: registration_endpoint only where RFC 7591 registration is offered.
  if (c.dynamicRegistration) doc.registration_endpoint = url(AS_PATHS.register);
  doc.jwks_uri = url(AS_PATHS.jwks);
  if (c.scopesSupported.length > 0) doc.scopes_supported = [...c.scopesSupported];
  // OAuth 2.1: the authorization code flow only; results in the query (RFC 6749 §4.1.2).
  doc.response_types_supported = ['code'];
  doc.response_modes_supported = ['query'];
  doc.grant_types_supported = [...GRANTS.keys()];
  doc.token_endpoint_auth_methods_supported = [...TOKEN_ENDPOINT_AUTH_METHODS];
  doc.revocation_endpoint = url(AS_PATHS.revoke);
  // RFC 7009 §2.1: public clients revoke their tokens identifying themselves with client_id.
  doc.revocation_endpoint_auth_methods_supported = [...TOKEN_ENDPOINT_AUTH_METHODS];
  doc.introspection_endpoint = url(AS_PATHS.introspect);
  doc.introspection_endpoint_auth_methods_supported = [...INTROSPECTION_AUTH_METHODS];
  // RFC 7636 §4.2 / OAuth 2.1 §4.1.1: S256 always; plain only when the configuration allows it.
  doc.code_challenge_methods_supported = challengeMethods(c.allowPlainPkce);
  // RFC 9207 §3: `iss` is in every authorization response, errors included.
  doc.authorization_response_iss_parameter_supported = true;
  // MCP 2026-07-28 client-registration "Client ID Metadata Documents".
  if (c.clientIdMetadataDocuments) doc.client_id_metadata_document_supported = true;
  if (c.serviceDocumentation !== undefined) doc.service_documentation = c.serviceDocumentation;
  return doc;
}
