// OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint: the document that tells a
// client which authorization server issues tokens for it (MCP 2026-07-28 authorization-server-discovery
// "Authorization Server Location"). Served at the path-suffixed well-known URI (RFC 9728 §3.1) and at
// the root one, which MCP clients fall back to.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Routes } from '../transport/http/app.ts';

export const WELL_KNOWN_PRM = '/.well-known/oauth-protected-resource';

/** RFC 9728 §2. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
  resource_documentation?: string;
}

export interface ProtectedResourceMetadataInit {
  /** The MCP endpoint URL, exactly as tokens name it in `aud`. */
  resource: string;
  /** The authorization server's issuer identifier. */
  issuer: string;
  scopes?: readonly string[];
  resourceName?: string;
  resourceDocumentation?: string;
}

export function protectedResourceMetadata(init: ProtectedResourceMetadataInit): ProtectedResourceMetadata {
  const doc: ProtectedResourceMetadata = {
    resource: init.resource, // RFC 9728 §3.3: identical to the resource the well-known URI was built from
    authorization_servers: [init.issuer], // MCP: at least one authorization server
    bearer_methods_supported: ['header'], // RFC 6750 §2.1 only: MCP forbids the query string
  };
  // MCP 2026-07-28 authorization "Refresh Tokens": offline_access is not a resource requirement.
  const scopes = [...new Set(init.scopes ?? [])].filter((s) => s !== 'offline_access');
  if (scopes.length > 0) doc.scopes_supported = scopes;
  if (init.resourceName !== undefined) doc.resource_name = init.resourceName;
  if (init.resourceDocumentation !== undefined) doc.resource_documentation = init.resourceDocumentation;
  return doc;
}

/** RFC 9728 §3.1: the well-known suffix goes between the host and the resource's path. */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}${WELL_KNOWN_PRM}${path}`;
}

export interface MetadataRoutesOptions {
  /** The document, or a function giving the current one (scopes may change as tools are added). */
  metadata: ProtectedResourceMetadata | (() => ProtectedResourceMetadata);
  /** Extra paths to serve it at besides the path-suffixed one and the root (e.g. behind a path-stripping proxy). */
  extraPaths?: readonly string[];
}

/**
 * Routes for createHttpApp: GET the document at the path-suffixed and root well-known paths;
 * other methods get 405 (OPTIONS is answered as a CORS preflight). Anything else is not handled.
 */
export function protectedResourceMetadataRoutes(options: MetadataRoutesOptions): Routes {
  const current =
    typeof options.metadata === 'function'
      ? options.metadata
      : () => options.metadata as ProtectedResourceMetadata;
  const paths = (): Set<string> => {
    const suffixed = new URL(resourceMetadataUrl(current().resource)).pathname;
    return new Set([suffixed, WELL_KNOWN_PRM, ...(options.extraPaths ?? [])]);
  };
  const fixed = typeof options.metadata === 'function' ? undefined : paths();
  let body: string | undefined;
  let bodyFor: ProtectedResourceMetadata | undefined;

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    if (!path.startsWith(WELL_KNOWN_PRM)) return false;
    if (!(fixed ?? paths()).has(path)) return false;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '*',
        'access-control-max-age': '600',
        'content-length': '0',
      });
      res.end();
      return true;
    }
    if (req.method !== 'GET') {
      const text = JSON.stringify({ error: 'method_not_allowed' });
      res.writeHead(405, {
        allow: 'GET',
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        'access-control-allow-origin': '*',
      });
      res.end(text);
      return true;
    }
    const doc = current();
    if (body === undefined || bodyFor !== doc) {
      body = JSON.stringify(doc);
      bodyFor = doc;
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      // Public, and not secret: any origin may read it (browser-based MCP clients discover from here).
      'access-control-allow-origin': '*',
      'cache-control': 'public, max-age=300',
    });
    res.end(body);
    return true;
  };
}
