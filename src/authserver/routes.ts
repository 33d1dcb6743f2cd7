// THE route table of the authorization server: method and path to endpoint module, for every endpoint
// (RFC 8414 §2 names them; paths relative to the issuer, see context.ts). Plugs into createHttpApp's
// `routes` hook. A known path with another method gets 405 with Allow (RFC 9110 §15.5.6); endpoints a
// browser-based client calls with fetch() answer CORS, without credentials.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Routes } from '../transport/http/app.ts';
import {
  AS_PATHS,
  type AuthServerContext,
  OAUTH_METADATA_WELL_KNOWN,
  OPENID_METADATA_WELL_KNOWN,
} from './context.ts';
import { handleAuthorize } from './endpoints/authorize.ts';
import { handleConsent } from './endpoints/consent.ts';
import { introspect } from './endpoints/introspect.ts';
import { jwks } from './endpoints/jwks.ts';
import { handleLogin } from './endpoints/login.ts';
import { metadata } from './endpoints/metadata.ts';
import { register } from './endpoints/register.ts';
import { revoke } from './endpoints/revoke.ts';
import { token } from './endpoints/token.ts';
import { NO_STORE, sendJson, sendOAuthError } from './http.ts';
import { OAuthError } from './oauth-error.ts';

export type Endpoint = (req: IncomingMessage, res: ServerResponse, ctx: AuthServerContext) => Promise<void>;

interface Route {
  readonly methods: Readonly<Record<string, Endpoint>>;
  /** Cross-origin readable (Access-Control-Allow-Origin: *, no credentials). */
  readonly cors: boolean;
}

/** The method → endpoint map of every path, for a context. */
export function routeTable(ctx: AuthServerContext): ReadonlyMap<string, Route> {
  const c = ctx.config;
  const at = (path: string) => `${c.mountPath}${path}`;
  const table = new Map<string, Route>();
  const add = (path: string, methods: Record<string, Endpoint>, cors: boolean) => {
    table.set(path, { methods, cors });
  };

  // Metadata (RFC 8414 §3.1: the well-known suffix goes between host and issuer path), the OpenID
  // Connect Discovery forms MCP clients also try (path-inserted, and §4's path-appended), the keys.
  const issuerPath = new URL(c.issuer).pathname.replace(/\/+$/, '');
  for (const path of [
    `${OAUTH_METADATA_WELL_KNOWN}${issuerPath}`,
    `${OPENID_METADATA_WELL_KNOWN}${issuerPath}`,
    at(OPENID_METADATA_WELL_KNOWN),
  ]) {
    add(path, { GET: metadata }, true);
  }
  add(at(AS_PATHS.jwks), { GET: jwks }, true);

  // Front channel: browser navigations and form posts, never cross-origin fetches.
  // RFC 6749 §3.1: the authorization endpoint MUST support GET and MAY support POST.
  add(at(AS_PATHS.authorize), { GET: handleAuthorize, POST: handleAuthorize }, false);
  add(at(AS_PATHS.login), { POST: handleLogin }, false);
  add(at(AS_PATHS.consent), { POST: handleConsent }, false);

  // Back channel: POST only (RFC 6749 §3.2, RFC 7009 §2.1, RFC 7662 §2.1, RFC 7591 §3.1).
  add(at(AS_PATHS.token), { POST: token }, true);
  add(at(AS_PATHS.revoke), { POST: revoke }, true);
  // Introspection is for resource servers, server to server: no CORS.
  add(at(AS_PATHS.introspect), { POST: introspect }, false);
  // RFC 8414 §2: no registration endpoint unless dynamic registration is on.
  if (c.dynamicRegistration) add(at(AS_PATHS.register), { POST: register }, true);
  return table;
}

/** The `routes` hook of createHttpApp serving the authorization server; false for other paths. */
export function createAuthRoutes(ctx: AuthServerContext): Routes {
  const table = routeTable(ctx);
  return (req, res) => {
    const route = table.get(pathOf(req.url ?? '/'));
    if (route === undefined) return false;
    const method = req.method ?? 'GET';
    if (route.cors) {
      if (method === 'OPTIONS') {
        preflight(res, route);
        return true;
      }
      res.setHeader('access-control-allow-origin', '*');
    }
    // HEAD is GET without the body (RFC 9110 §9.3.2); Node leaves the body out itself.
    const endpoint = route.methods[method] ?? (method === 'HEAD' ? route.methods.GET : undefined);
    if (endpoint === undefined) {
      methodNotAllowed(res, route);
      return true;
    }
    return endpoint(req, res, ctx).then(
      () => true,
      (err: unknown) => {
        // Endpoints answer their own errors; this catches what escaped them.
        sendOAuthError(res, err, ctx.logger);
        return true;
      },
    );
  };
}

function allowOf(route: Route): string {
  const methods = Object.keys(route.methods);
  if (route.methods.GET) methods.push('HEAD');
  if (route.cors) methods.push('OPTIONS');
  return methods.join(', ');
}

function methodNotAllowed(res: ServerResponse, route: Route): void {
  const err = new OAuthError('invalid_request', 'method not allowed', {
    status: 405,
    headers: { allow: allowOf(route) },
  });
  sendJson(res, err.status, err.toJSON(), err.headers);
}

/** OPTIONS (RFC 9110 §9.3.7), the CORS preflight (Fetch standard): methods and request headers taken. */
function preflight(res: ServerResponse, route: Route): void {
  res.writeHead(204, {
    allow: allowOf(route),
    'access-control-allow-origin': '*',
    'access-control-allow-methods': Object.keys(route.methods).join(', '),
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-max-age': '600',
    'content-length': 0,
    ...NO_STORE,
  });
  res.end();
}

/** The path of a request target (origin-form, or absolute-form as some proxies send it). */
function pathOf(target: string): string {
  if (target.charCodeAt(0) !== 0x2f) {
    try {
      return new URL(target).pathname;
    } catch {
      return target;
    }
  }
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}
