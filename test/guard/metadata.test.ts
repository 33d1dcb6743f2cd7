// OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint, served at the path-suffixed
// well-known URI (§3.1) and at the root one, and discoverable from the 401 challenge (§5.1).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { protectedResourceMetadata, resourceMetadataUrl } from '../../src/guard/metadata.ts';
import { call, callWhoami, type Harness, startGuarded } from './harness.ts';

let h: Harness;
before(async () => {
  h = await startGuarded();
});
after(() => h.close());

describe('protected-resource metadata RFC 9728', () => {
  test('the document: resource, our issuer, header-only bearer, scopes without offline_access', async () => {
    const r = await call(`${h.issuer}/.well-known/oauth-protected-resource/mcp`, {});
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(r.json, {
      resource: h.resource,
      authorization_servers: [h.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools'],
      resource_name: 'Guard test',
    });
  });

  test('the root well-known URI serves the same document', async () => {
    const suffixed = await call(`${h.issuer}/.well-known/oauth-protected-resource/mcp`, {});
    const root = await call(`${h.issuer}/.well-known/oauth-protected-resource`, {});
    assert.equal(root.status, 200);
    assert.deepEqual(root.json, suffixed.json);
  });

  test('discovery from the 401: resource_metadata leads to a document naming this resource (§5.1, §3.3)', async () => {
    const unauthorized = await callWhoami(h);
    const m = /resource_metadata="([^"]+)"/.exec(unauthorized.headers.get('www-authenticate') ?? '');
    assert.ok(m);
    const doc = await call(m[1]!, {});
    assert.equal(doc.status, 200);
    assert.equal(doc.json.resource, h.resource);
    assert.deepEqual(doc.json.authorization_servers, [h.issuer]);
  });

  test('GET only: other methods get 405 with Allow; OPTIONS is a CORS preflight', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await call(`${h.issuer}/.well-known/oauth-protected-resource/mcp`, { method });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.get('allow'), 'GET');
    }
    const pre = await call(`${h.issuer}/.well-known/oauth-protected-resource`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'mcp-protocol-version',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'mcp-protocol-version');
  });

  test('a query string is ignored; other paths under the well-known prefix are not ours (404)', async () => {
    assert.equal((await call(`${h.issuer}/.well-known/oauth-protected-resource/mcp?x=1`, {})).status, 200);
    assert.equal((await call(`${h.issuer}/.well-known/oauth-protected-resource/other`, {})).status, 404);
    assert.equal((await call(`${h.issuer}/.well-known/oauth-protected-resource/mcp/`, {})).status, 404);
  });

  test('the well-known URL goes between host and path (§3.1)', () => {
    assert.equal(
      resourceMetadataUrl('https://example.com/public/mcp'),
      'https://example.com/.well-known/oauth-protected-resource/public/mcp',
    );
    assert.equal(
      resourceMetadataUrl('https://example.com'),
      'https://example.com/.well-known/oauth-protected-resource',
    );
    assert.equal(
      resourceMetadataUrl('http://127.0.0.1:8080/mcp'),
      'http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp',
    );
  });

  test('no scopes_supported when there are none to advertise', () => {
    const doc = protectedResourceMetadata({
      resource: 'https://x.example/mcp',
      issuer: 'https://x.example',
      scopes: ['offline_access'],
    });
    assert.equal('scopes_supported' in doc, false);
  });
});
