// Client rules shared by every way a client comes to be: redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7),
// client metadata (RFC 7591 §2), and the registry's lookup order.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CimdResolver } from '../../src/authserver/clients/cimd.ts';
import { REGISTRATION_RULES, validateClientMetadata } from '../../src/authserver/clients/metadata.ts';
import {
  checkRedirectUri,
  isLoopbackOnly,
  matchRedirectUri,
} from '../../src/authserver/clients/redirect-uri.ts';
import { ClientRegistry } from '../../src/authserver/clients/registry.ts';
import { isPublicAddress, publicOnlyLookup } from '../../src/authserver/clients/ssrf.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { ClientRecord } from '../../src/storage/types.ts';

describe('redirect URI registration rules (RFC 6749 §3.1.2, RFC 8252 §7, MCP authorization)', () => {
  const accepted: [string, string][] = [
    ['https://app.example.com/callback', 'https'],
    ['https://app.example.com:8443/cb?x=1', 'https'],
    ['http://127.0.0.1/callback', 'loopback'],
    ['http://127.0.0.1:33418/callback', 'loopback'],
    ['http://[::1]:8080/cb', 'loopback'],
    ['http://localhost:3000/callback', 'loopback'],
    ['com.example.app:/oauth2redirect', 'private-use'],
    ['cursor://anysphere.cursor-retrieval/oauth/user-callback', 'private-use'],
    ['vscode://vscode.github-authentication/did-authenticate', 'private-use'],
  ];
  for (const [uri, kind] of accepted) {
    test(`accepts ${uri} as ${kind}`, () => {
      assert.deepEqual(checkRedirectUri(uri), { ok: true, kind });
    });
  }

  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['/callback', /absolute/],
    ['https://app.example.com/cb#frag', /fragment/],
    ['https://app.example.com/cb#', /fragment/],
    ['http://app.example.com/cb', /loopback/],
    ['http://10.0.0.5/cb', /loopback/],
    ['https://user:pass@app.example.com/cb', /credentials/],
    ['https://@app.example.com/cb', /credentials/],
    ['http://user@127.0.0.1/cb', /credentials/],
    ['javascript:alert(1)', /not allowed/],
    ['JavaScript:alert(1)', /not allowed/],
    ['data:text/html,hi', /not allowed/],
    ['file:///etc/passwd', /not allowed/],
    ['urn:ietf:wg:oauth:2.0:oob', /not allowed/],
    ['https://app.example.com/c b', /ASCII/],
    ['https://app.example.com/cb\r\nSet-Cookie: x=1', /ASCII/],
    ['https://bücher.example/cb', /ASCII/],
    ['myapp:', /nothing after/],
    [`https://app.example.com/${'a'.repeat(2100)}`, /longer/],
  ];
  for (const [uri, reason] of refused) {
    test(`refuses ${JSON.stringify(uri.slice(0, 60))}`, () => {
      const r = checkRedirectUri(uri);
      assert.equal(r.ok, false);
      assert.match((r as { reason: string }).reason, reason);
    });
  }

  test('isLoopbackOnly: true only when every redirect URI is loopback http', () => {
    assert.equal(isLoopbackOnly(['http://127.0.0.1/cb', 'http://localhost/cb']), true);
    assert.equal(isLoopbackOnly(['http://127.0.0.1/cb', 'https://app.example.com/cb']), false);
    assert.equal(isLoopbackOnly([]), false);
  });
});

describe('redirect URI matching at /authorize (OAuth 2.1 §4.1.1 exact match, RFC 8252 §7.3 loopback port)', () => {
  test('exact string match', () => {
    assert.equal(matchRedirectUri(['https://a.example/cb'], 'https://a.example/cb'), true);
    assert.equal(matchRedirectUri(['com.example.app:/cb'], 'com.example.app:/cb'), true);
  });
  test('no normalisation: case, trailing slash, extra query, path prefix all differ', () => {
    const reg = ['https://a.example/cb'];
    for (const p of [
      'https://A.example/cb',
      'https://a.example/cb/',
      'https://a.example/cb?x=1',
      'https://a.example/cb/evil',
      'https://a.example/c',
      'https://a.example:443/cb',
      'http://a.example/cb',
    ]) {
      assert.equal(matchRedirectUri(reg, p), false, p);
    }
  });
  test('loopback IP literal: any port, same path and query', () => {
    assert.equal(matchRedirectUri(['http://127.0.0.1/callback'], 'http://127.0.0.1:51234/callback'), true);
    assert.equal(
      matchRedirectUri(['http://127.0.0.1:8080/callback'], 'http://127.0.0.1:9090/callback'),
      true,
    );
    assert.equal(matchRedirectUri(['http://[::1]:1/cb?a=b'], 'http://[::1]:65535/cb?a=b'), true);
    assert.equal(matchRedirectUri(['http://127.0.0.1/callback'], 'http://127.0.0.1:51234/other'), false);
    assert.equal(matchRedirectUri(['http://127.0.0.1/cb?a=b'], 'http://127.0.0.1:5/cb?a=c'), false);
    assert.equal(matchRedirectUri(['http://127.0.0.1/cb'], 'http://127.0.0.1:99999/cb'), false);
    assert.equal(matchRedirectUri(['http://127.0.0.1/cb'], 'http://127.0.0.1:80/cb#x'), false);
    // The IP must be the same one.
    assert.equal(matchRedirectUri(['http://127.0.0.1/cb'], 'http://[::1]:80/cb'), false);
  });
  test('localhost and https get no port exception', () => {
    assert.equal(matchRedirectUri(['http://localhost:3000/cb'], 'http://localhost:4000/cb'), false);
    assert.equal(matchRedirectUri(['https://127.0.0.1:3000/cb'], 'https://127.0.0.1:4000/cb'), false);
  });
});

describe('client metadata (RFC 7591 §2)', () => {
  const base = { redirect_uris: ['https://app.example.com/cb'] };
  test('defaults: authorization_code, code, client_secret_basic; unknown fields kept', () => {
    const r = validateClientMetadata(
      { ...base, software_id: 'x', 'client_name#fr': 'Appli', extra: { a: 1 } },
      REGISTRATION_RULES,
    );
    assert.ok(r.ok);
    assert.deepEqual(r.value.grantTypes, ['authorization_code']);
    assert.deepEqual(r.value.responseTypes, ['code']);
    assert.equal(r.value.tokenEndpointAuthMethod, 'client_secret_basic');
    assert.deepEqual(r.value.metadata, { software_id: 'x', 'client_name#fr': 'Appli', extra: { a: 1 } });
  });
  test('server-assigned fields in the request are dropped', () => {
    const r = validateClientMetadata(
      { ...base, client_id: 'mine', client_secret: 's', client_id_issued_at: 1, software_statement: 'jwt' },
      REGISTRATION_RULES,
    );
    assert.ok(r.ok);
    assert.deepEqual(r.value.metadata, {});
  });
  test('client_credentials only: no redirect URIs or response types needed', () => {
    const r = validateClientMetadata({ grant_types: ['client_credentials'] }, REGISTRATION_RULES);
    assert.ok(r.ok);
    assert.deepEqual(r.value.responseTypes, []);
    assert.deepEqual(r.value.redirectUris, []);
  });
  const bad: [string, unknown, string, RegExp][] = [
    ['not an object', [], 'invalid_client_metadata', /JSON object/],
    ['redirect_uris missing', {}, 'invalid_redirect_uri', /required/],
    ['redirect_uris empty', { redirect_uris: [] }, 'invalid_redirect_uri', /required/],
    ['redirect_uris not strings', { redirect_uris: [1] }, 'invalid_client_metadata', /array of strings/],
    [
      'bad redirect URI',
      { redirect_uris: ['http://evil.example/cb'] },
      'invalid_redirect_uri',
      /evil\.example/,
    ],
    ['grant type implicit', { ...base, grant_types: ['implicit'] }, 'invalid_client_metadata', /implicit/],
    ['grant type password', { ...base, grant_types: ['password'] }, 'invalid_client_metadata', /password/],
    ['no grant types', { ...base, grant_types: [] }, 'invalid_client_metadata', /empty/],
    ['response type token', { ...base, response_types: ['token'] }, 'invalid_client_metadata', /token/],
    [
      'code without authorization_code',
      {
        grant_types: ['client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
      'invalid_client_metadata',
      /inconsistent/,
    ],
    [
      'authorization_code without code',
      { ...base, response_types: [] },
      'invalid_client_metadata',
      /inconsistent/,
    ],
    [
      'private_key_jwt',
      { ...base, token_endpoint_auth_method: 'private_key_jwt' },
      'invalid_client_metadata',
      /private_key_jwt/,
    ],
    [
      'client_credentials for a public client',
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' },
      'invalid_client_metadata',
      /confidential/,
    ],
    [
      'application_type',
      { ...base, application_type: 'desktop' },
      'invalid_client_metadata',
      /application_type/,
    ],
    ['scope with a quote', { ...base, scope: 'read "write' }, 'invalid_client_metadata', /scope/],
    ['scope with two spaces', { ...base, scope: 'read  write' }, 'invalid_client_metadata', /scope/],
    ['scope not a string', { ...base, scope: ['read'] }, 'invalid_client_metadata', /scope/],
    [
      'logo_uri javascript',
      { ...base, logo_uri: 'javascript:alert(1)' },
      'invalid_client_metadata',
      /logo_uri/,
    ],
    ['client_uri relative', { ...base, client_uri: '/home' }, 'invalid_client_metadata', /client_uri/],
    ['client_name empty', { ...base, client_name: ' ' }, 'invalid_client_metadata', /client_name/],
    ['contacts not strings', { ...base, contacts: [{}] }, 'invalid_client_metadata', /contacts/],
  ];
  for (const [name, input, error, description] of bad) {
    test(`refuses: ${name}`, () => {
      const r = validateClientMetadata(input, REGISTRATION_RULES);
      assert.equal(r.ok, false);
      const p = r as { error: string; description: string };
      assert.equal(p.error, error);
      assert.match(p.description, description);
      // RFC 6749 §5.2: error_description characters.
      assert.match(p.description, /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/);
    });
  }
  test('a bad redirect URI is named in the description, unsafe characters replaced', () => {
    const r = validateClientMetadata({ redirect_uris: ['http://evil.example/"\\cb'] }, REGISTRATION_RULES);
    assert.equal(r.ok, false);
    assert.match(
      (r as { description: string }).description,
      /^redirect URI 'http:\/\/evil\.example\/\?\?cb'/,
    );
  });
});

describe('SSRF address classification', () => {
  test('public and non-public addresses', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ]) {
      assert.equal(isPublicAddress(a), true, a);
    }
    for (const a of [
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '100.64.0.1',
      '127.0.0.1',
      '127.255.0.1',
      '169.254.169.254',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:a9fe:a9fe',
      '64:ff9b::7f00:1',
      'fe80::1%eth0',
      'not-an-ip',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
  });
  test('the connect-time lookup refuses a name that resolves to loopback', async () => {
    const err = await new Promise<Error | null>((resolve) =>
      publicOnlyLookup('localhost', {}, (e) => resolve(e)),
    );
    assert.ok(err);
    assert.match(err.message, /not a public address/);
  });
});

describe('ClientRegistry lookup order', () => {
  const record = (clientId: string, source: ClientRecord['source']): ClientRecord => ({
    clientId,
    source,
    redirectUris: ['https://a.example/cb'],
    grantTypes: ['authorization_code'],
    responseTypes: ['code'],
    tokenEndpointAuthMethod: 'none',
    metadata: {},
    createdAt: 1,
  });

  test('storage first, then configuration; unknown ids are undefined', async () => {
    const storage = await openStorage({ kind: 'memory' });
    await storage.clients.create(record('stored', 'dynamic'));
    const registry = new ClientRegistry({ clients: storage.clients });
    registry.registerStatic({
      clientId: 'configured',
      redirectUris: ['https://b.example/cb'],
      clientName: 'Conf',
    });
    assert.equal((await registry.get('stored'))?.source, 'dynamic');
    const conf = await registry.get('configured');
    assert.equal(conf?.source, 'static');
    assert.equal(conf?.tokenEndpointAuthMethod, 'none');
    assert.equal(conf?.clientName, 'Conf');
    assert.equal(await registry.get('nope'), undefined);
    assert.equal(await registry.get(''), undefined);
    assert.deepEqual(await registry.lookup('nope'), { status: 'unknown' });
    await storage.close();
  });

  test('https client ids are not fetched when metadata documents are off', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const registry = new ClientRegistry({ clients: storage.clients });
    assert.equal(registry.cimdEnabled, false);
    assert.deepEqual(await registry.lookup('https://app.example.com/client.json'), { status: 'unknown' });
    await storage.close();
  });

  test('metadata-document failures say why (SSRF guard refuses loopback)', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const registry = new ClientRegistry({ clients: storage.clients, cimd: new CimdResolver() });
    const r = await registry.lookup('https://127.0.0.1:9/client.json');
    assert.equal(r.status, 'invalid');
    assert.match((r as { reason: string }).reason, /not a public address/);
    // A non-URL id is simply unknown.
    assert.deepEqual(await registry.lookup('plain-id'), { status: 'unknown' });
    await storage.close();
  });

  test('registerStatic validates like a registration', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const registry = new ClientRegistry({ clients: storage.clients });
    assert.throws(
      () => registry.registerStatic({ clientId: 'x', redirectUris: ['http://evil.example/cb'] }),
      /static client x: redirect URI/,
    );
    assert.throws(
      () => registry.registerStatic({ clientId: ' x', redirectUris: ['https://a.example/cb'] }),
      /client_id/,
    );
    assert.throws(
      () =>
        registry.registerStatic({
          clientId: 'y',
          tokenEndpointAuthMethod: 'client_secret_basic',
          redirectUris: ['https://a.example/cb'],
        }),
      /secret/,
    );
    const conf = registry.registerStatic({
      clientId: 'svc',
      secretHash: 'hash',
      grantTypes: ['client_credentials'],
    });
    assert.equal(conf.tokenEndpointAuthMethod, 'client_secret_basic');
    assert.equal(conf.secretHash, 'hash');
    assert.throws(
      () => registry.registerStatic({ clientId: 'svc', secretHash: 'h', grantTypes: ['client_credentials'] }),
      /twice/,
    );
    assert.deepEqual(
      registry.staticClients().map((c) => c.clientId),
      ['svc'],
    );
    await storage.close();
  });
});
