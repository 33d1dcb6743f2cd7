// Authorization server metadata (RFC 8414), its OpenID discovery alias, the JWKS, and the route table's
// handling of methods and CORS.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveAuthServerConfig } from '../../src/authserver/context.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { type Harness, startAuthServer } from './backchannel-fixture.ts';

function expectedDocument(issuer: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    jwks_uri: `${issuer}/jwks.json`,
    scopes_supported: ['files:read', 'files:write', 'admin'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint: `${issuer}/revoke`,
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint: `${issuer}/introspect`,
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
    ...extra,
  };
}

describe('authorization server metadata RFC 8414', () => {
  let h: Harness;
  before(async () => {
    h = await startAuthServer();
  });
  after(() => h.close());

  test('§3: the document at /.well-known/oauth-authorization-server, exactly', async () => {
    const reply = await h.request('/.well-known/oauth-authorization-server');
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(reply.json, expectedDocument(h.origin));
  });

  test('§3.3: issuer is the URL the document was fetched from, without a trailing slash', async () => {
    const reply = await h.request('/.well-known/oauth-authorization-server');
    assert.equal(reply.json.issuer, h.origin);
    assert.equal(new URL('/.well-known/oauth-authorization-server', reply.json.issuer).origin, h.origin);
  });

  test('OpenID Connect Discovery 1.0 §4: the same document at /.well-known/openid-configuration', async () => {
    const oidc = await h.request('/.well-known/openid-configuration');
    assert.equal(oidc.status, 200);
    assert.deepEqual(oidc.json, expectedDocument(h.origin));
  });

  test('no-store, and readable cross-origin (browser-based clients discover too)', async () => {
    const reply = await h.request('/.well-known/oauth-authorization-server', {
      headers: { origin: 'http://app.example' },
    });
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(reply.headers.get('access-control-allow-origin'), '*');
    assert.equal(reply.headers.get('access-control-allow-credentials'), null);
  });

  test('HEAD is served like GET without a body', async () => {
    const reply = await h.request('/.well-known/oauth-authorization-server', { method: 'HEAD' });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, '');
  });

  test('RFC 9110 §15.5.6: another method is 405 with Allow and an OAuth-shaped body', async () => {
    const reply = await h.request('/.well-known/oauth-authorization-server', { method: 'POST', body: '' });
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.get('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(reply.json.error, 'invalid_request');
  });

  test('unknown paths are left to the app (404)', async () => {
    const reply = await h.request('/.well-known/oauth-authorization-server/elsewhere');
    assert.equal(reply.status, 404);
  });
});

describe('metadata follows the configuration', () => {
  test('no registration_endpoint without dynamic registration, and /register is gone', async () => {
    const h = await startAuthServer({ auth: { dynamicRegistration: false } });
    try {
      const reply = await h.request('/.well-known/oauth-authorization-server');
      const expected = expectedDocument(h.origin);
      delete expected.registration_endpoint;
      assert.deepEqual(reply.json, expected);
      assert.equal((await h.request('/register', { method: 'POST', body: '{}' })).status, 404);
    } finally {
      await h.close();
    }
  });

  test('no client_id_metadata_document_supported when CIMD is off', async () => {
    const h = await startAuthServer({ auth: { clientIdMetadataDocuments: false } });
    try {
      const reply = await h.request('/.well-known/oauth-authorization-server');
      const expected = expectedDocument(h.origin);
      delete expected.client_id_metadata_document_supported;
      assert.deepEqual(reply.json, expected);
    } finally {
      await h.close();
    }
  });

  test('RFC 7636 §4.2: plain is advertised only when enabled', async () => {
    const h = await startAuthServer({ auth: { allowPlainPkce: true } });
    try {
      const reply = await h.request('/.well-known/oauth-authorization-server');
      assert.deepEqual(reply.json.code_challenge_methods_supported, ['S256', 'plain']);
    } finally {
      await h.close();
    }
  });

  test('scopes_supported: the tools scopes plus configured ones, omitted when there are none', async () => {
    const h = await startAuthServer({ toolScopes: ['a'], auth: { scopes: ['b', 'a'] } });
    const none = await startAuthServer({ toolScopes: [] });
    try {
      assert.deepEqual((await h.request('/.well-known/oauth-authorization-server')).json.scopes_supported, [
        'a',
        'b',
      ]);
      const doc = (await none.request('/.well-known/oauth-authorization-server')).json;
      assert.equal('scopes_supported' in doc, false);
    } finally {
      await h.close();
      await none.close();
    }
  });

  test('RFC 8414 §3.1: an issuer with a path gets the path-inserted well-known URIs', async () => {
    const h = await startAuthServer({ issuerPath: '/tenant' });
    try {
      const issuer = `${h.origin}/tenant`;
      const expected = expectedDocument(issuer);
      for (const path of [
        '/.well-known/oauth-authorization-server/tenant',
        '/.well-known/openid-configuration/tenant',
        '/tenant/.well-known/openid-configuration',
      ]) {
        const reply = await h.request(path);
        assert.equal(reply.status, 200, path);
        assert.deepEqual(reply.json, expected, path);
      }
      // The root form belongs to an issuer without a path.
      assert.equal((await h.request('/.well-known/oauth-authorization-server')).status, 404);
      // Endpoints live under the issuer.
      assert.equal((await h.request('/tenant/jwks.json')).status, 200);
      assert.equal((await h.request('/jwks.json')).status, 404);
    } finally {
      await h.close();
    }
  });
});

describe('JWKS RFC 7517', () => {
  test('ES256: the public signing key, by kid, without private members', async () => {
    const h = await startAuthServer();
    try {
      const reply = await h.request('/jwks.json');
      assert.equal(reply.status, 200);
      assert.equal(reply.headers.get('access-control-allow-origin'), '*');
      assert.equal(reply.json.keys.length, 1);
      const [jwk] = reply.json.keys;
      assert.equal(jwk.kid, h.keys.signingKey().kid);
      assert.equal(jwk.kty, 'EC');
      assert.equal(jwk.alg, 'ES256');
      assert.equal(jwk.use, 'sig');
      assert.equal('d' in jwk, false);
    } finally {
      await h.close();
    }
  });

  test('HS256: the key is a shared secret, so the set is empty', async () => {
    const h = await startAuthServer({ auth: { signingAlg: 'HS256', hs256Secret: 'x'.repeat(40) } });
    try {
      const reply = await h.request('/jwks.json');
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.json, { keys: [] });
    } finally {
      await h.close();
    }
  });
});

describe('route table', () => {
  let h: Harness;
  before(async () => {
    h = await startAuthServer();
  });
  after(() => h.close());

  test('back-channel endpoints take POST only: 405 with Allow', async () => {
    for (const path of ['/token', '/revoke', '/introspect', '/register']) {
      const reply = await h.request(path);
      assert.equal(reply.status, 405, path);
      assert.match(reply.headers.get('allow') ?? '', /^POST\b/, path);
      assert.equal(reply.json.error, 'invalid_request', path);
      assert.equal(reply.headers.get('cache-control'), 'no-store', path);
    }
  });

  test('CORS preflight on the token endpoint: POST with Authorization and Content-Type, no credentials', async () => {
    const reply = await h.request('/token', {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(reply.status, 204);
    assert.equal(reply.headers.get('access-control-allow-origin'), '*');
    assert.equal(reply.headers.get('access-control-allow-methods'), 'POST');
    assert.match(reply.headers.get('access-control-allow-headers') ?? '', /authorization/);
    assert.equal(reply.headers.get('access-control-allow-credentials'), null);
  });

  test('introspection is server to server: no CORS', async () => {
    const reply = await h.request('/introspect', {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.get('access-control-allow-origin'), null);
  });
});

describe('issuer, resource and mount path from the configuration', () => {
  const resolve = (publicUrl: string, issuer?: string) =>
    resolveAuthServerConfig(
      { ...DEFAULTS.auth, issuer },
      { publicUrl, mcpPath: '/mcp', toolScopes: ['a', 'b'] },
    );

  test('issuer = the public base URL without a trailing slash; resource = the MCP endpoint URL', () => {
    const c = resolve('https://mcp.example.com/');
    assert.equal(c.issuer, 'https://mcp.example.com');
    assert.equal(c.resource, 'https://mcp.example.com/mcp');
    assert.equal(c.mountPath, '');
    assert.equal(c.secureCookies, true);
    assert.equal(resolve('http://127.0.0.1:3000').secureCookies, false);
  });

  test('a public base path stripped by the proxy is not part of the local paths', () => {
    const c = resolve('https://example.com/keyhole');
    assert.equal(c.issuer, 'https://example.com/keyhole');
    assert.equal(c.resource, 'https://example.com/keyhole/mcp');
    assert.equal(c.mountPath, '');
    assert.equal(
      resolve('https://example.com/keyhole', 'https://example.com/keyhole/auth/').mountPath,
      '/auth',
    );
  });

  test('an issuer elsewhere keeps its own path', () => {
    const c = resolve('https://example.com/keyhole', 'https://auth.example.com/t1');
    assert.equal(c.issuer, 'https://auth.example.com/t1');
    assert.equal(c.mountPath, '/t1');
    // A sibling path is not under the base path.
    assert.equal(resolve('https://example.com/key', 'https://example.com/keyhole').mountPath, '/keyhole');
  });

  test('scopes_supported: tool scopes and configured ones, each once', () => {
    const c = resolveAuthServerConfig(
      { ...DEFAULTS.auth, scopes: ['b', 'c'] },
      { publicUrl: 'https://x.example', mcpPath: '/mcp', toolScopes: ['a', 'b'] },
    );
    assert.deepEqual(c.scopesSupported, ['a', 'b', 'c']);
  });
});
