// `keyhole serve` with its authorization server, black-box: by default every MCP endpoint needs a
// token (401 with the discovery challenge) and the server's state is in keyhole.db; `--auth none` and
// `--dev` are refused (exit 2) beyond loopback; `--dev` (npm start) prints a development user whose
// credentials really sign in through the pages, and no secret reaches the logs.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { authorizeInBrowser } from '../e2e/harness.ts';
import { cli, complete, listening, logLines, tempDir } from './helpers.ts';

const tmp = tempDir();
let dirs = 0;
const dataDir = () => join(tmp, `data-${++dirs}`);

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'cli-auth-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function callTool(url: URL, name: string, token?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': name,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name, arguments: {}, _meta: META },
    }),
  });
}

describe('keyhole serve: authorization on by default', () => {
  test('401 with the discovery challenge; metadata served; ready checks storage; keyhole.db in the data dir', async () => {
    const dir = dataDir();
    const run = cli(['serve', '--port', '0', '--data-dir', dir]);
    const url = await listening(run);
    try {
      const res = await callTool(url, 'echo');
      assert.equal(res.status, 401);
      const prm = new URL('/.well-known/oauth-protected-resource/mcp', url).href;
      assert.equal(
        res.headers.get('www-authenticate'),
        `Bearer resource_metadata="${prm}", scope="profile:read"`,
      );
      await res.arrayBuffer();

      const doc = (await (await fetch(prm)).json()) as { resource: string; authorization_servers: string[] };
      assert.equal(doc.resource, url.href);
      assert.deepEqual(doc.authorization_servers, [url.origin]);
      const as = (await (await fetch(new URL('/.well-known/oauth-authorization-server', url))).json()) as {
        issuer: string;
      };
      assert.equal(as.issuer, url.origin);

      const ready = await fetch(new URL('/health/ready', url));
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ok', checks: { storage: 'ok' } });
      assert.equal(statSync(join(dir, 'keyhole.db')).mode & 0o077, 0, 'the database is private');
    } finally {
      run.child.kill('SIGTERM');
    }
    assert.equal(await run.exited, 0, run.stderr());
  });
});

describe('keyhole serve: exposure rules (exit 2)', () => {
  test('--auth none beyond loopback is refused, by flag or environment, and through a public URL', async () => {
    for (const [args, env] of [
      [['--auth', 'none', '--host', '0.0.0.0'], {}],
      [['--host', '0.0.0.0'], { KEYHOLE_AUTH: 'none' }],
      [['--auth', 'none', '--public-url', 'https://mcp.example.com'], {}],
    ] as const) {
      const run = await complete(['serve', '--port', '0', '--data-dir', dataDir(), ...args], { env });
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        /^keyhole: --auth none \(KEYHOLE_AUTH=none\) turns authentication off and is only allowed on a loopback address/,
      );
      assert.equal(run.stdout, '', 'nothing was served');
    }
  });

  test('--dev beyond loopback is refused', async () => {
    const run = await complete([
      'serve',
      '--dev',
      '--port',
      '0',
      '--data-dir',
      dataDir(),
      '--host',
      '0.0.0.0',
    ]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(
      run.stderr,
      /^keyhole: --dev creates a development user .* only allowed on a loopback address/,
    );
  });

  test('a signing-key setting that cannot work is a configuration error', async () => {
    const run = await complete(['serve', '--port', '0', '--data-dir', dataDir()], {
      env: { KEYHOLE_SIGNING_ALG: 'HS256' },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(
      run.stderr,
      'keyhole: invalid configuration\n  auth.hs256Secret: required for HS256 (KEYHOLE_HS256_SECRET)\n',
    );
  });

  test('an unknown --auth mode is a configuration error', async () => {
    const run = await complete(['serve', '--auth', 'maybe', '--data-dir', dataDir()]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--auth/);
  });
});

describe('keyhole serve --dev (npm start)', () => {
  test('prints the dev user and the URLs; the credentials sign in and call tools; nothing secret is logged', async () => {
    const run = cli(['serve', '--dev', '--port', '0', '--data-dir', dataDir()]);
    const url = await listening(run);
    await new Promise<void>((resolve) => {
      const check = () => /\n\n[\s\S]*\n\n$/.test(run.stdout()) && resolve();
      run.child.stdout.on('data', check);
      check();
    });
    const out = run.stdout();
    assert.ok(out.includes(url.href));
    const m = /sign in {4}user "(\w+)", password (\S+)/.exec(out);
    assert.ok(m, out);
    const [, username, password] = m as unknown as [string, string, string];
    assert.equal(username, 'dev');
    assert.ok(password.length >= 16, 'a strong generated password');
    try {
      // A client as `npm start` users would connect one: registration, PKCE, the pages, the code exchange.
      const issuer = url.origin;
      const redirectUri = 'http://127.0.0.1:48124/callback';
      const reg = await fetch(`${issuer}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
      });
      assert.equal(reg.status, 201);
      const { client_id } = (await reg.json()) as { client_id: string };
      const verifier = randomBytes(32).toString('base64url');
      const authorize = new URL(`${issuer}/authorize`);
      authorize.search = new URLSearchParams({
        response_type: 'code',
        client_id,
        redirect_uri: redirectUri,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: url.href,
        scope: 'profile:read',
        state: 's',
      }).toString();
      const back = await authorizeInBrowser(authorize, { username, password });
      const token = await fetch(`${issuer}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code') ?? '',
          code_verifier: verifier,
          client_id,
          redirect_uri: redirectUri,
          resource: url.href,
        }),
      });
      assert.equal(token.status, 200);
      const { access_token } = (await token.json()) as { access_token: string };
      const who = await callTool(url, 'whoami', access_token);
      assert.equal(who.status, 200);
      const body = (await who.json()) as { result: { structuredContent: { clientId: string } } };
      assert.equal(body.result.structuredContent.clientId, client_id);
      // The password is on stdout for the person at the terminal, never in the logs.
      assert.ok(!run.stderr().includes(password));
      assert.ok(!run.stderr().includes(access_token));
    } finally {
      run.child.kill('SIGINT');
    }
    assert.equal(await run.exited, 0, run.stderr());
    const logs = logLines(run.stderr());
    assert.ok(logs.some((l) => l.event === 'login.succeeded' && l.username === 'dev'));
  });
});
