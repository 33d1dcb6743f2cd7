// The official MCP conformance server suites with authentication ON: the conformance fixture
// (examples/conformance) served by a real Keyhole whose guard requires a bearer token on every MCP
// endpoint, and the runners holding an access token obtained through the real flow (registration,
// PKCE, sign-in and consent through the pages, code exchange).
//
// The runners cannot be given a token: `conformance server` has no header, token or environment option
// (0.1.16 and 0.2.0-alpha.12: --url, --scenario, --suite, --expected-failures, --output-dir,
// --spec-version, --verbose, and for 0.2 --requirements, --force, --timeout), their scenarios build
// `new StreamableHTTPClientTransport(new URL(url))` without an authProvider or requestInit and call
// fetch()/undici with fixed headers, and the only environment variable they read is GITHUB_TOKEN
// (tier-check). So the token is held by a reverse proxy in front of Keyhole — the way a deployment
// publishes Keyhole behind a proxy (KEYHOLE_PUBLIC_URL) — that adds `Authorization: Bearer` to MCP
// requests and forwards everything else (Host included) untouched. Same selections as
// test/conformance/conformance.test.ts: 0.1.16 (active + pending) on the session-based wire, and
// 0.2.0-alpha.12's 2026-07-28 scenarios on the stateless wire. No expected failures.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer } from '../../examples/conformance/server.ts';
import { type BearerProxy, startBearerProxy } from './bearer-proxy.ts';
import {
  CONFORMANCE,
  CONFORMANCE_NEXT,
  failures,
  notes,
  readChecks,
  runCli,
  scenarioNames,
} from './conformance-runner.ts';
import { addUser, callTool, obtainTokens, type RunningKeyhole, startKeyhole } from './harness.ts';

const RUN_TIMEOUT_MS = 110_000;

const SUITES = [
  {
    label: '@modelcontextprotocol/conformance 0.1.16, all server scenarios, authenticated',
    cli: CONFORMANCE,
    select: ['--suite', 'all'],
    list: ['--server'],
  },
  {
    label: '@modelcontextprotocol/conformance 0.2.0-alpha.12, 2026-07-28 scenarios, authenticated',
    cli: CONFORMANCE_NEXT,
    select: ['--suite', 'all', '--spec-version', '2026-07-28'],
    list: ['--server', '--spec-version', '2026-07-28'],
  },
] as const;

describe('MCP conformance suites with authentication on', () => {
  let proxy: BearerProxy;
  let k: RunningKeyhole;
  let outDir: string;
  /** The MCP endpoint as the runners see it: through the proxy, the public URL. */
  let publicMcp: string;

  before(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'keyhole-conformance-auth-'));
    proxy = await startBearerProxy(['/mcp', '/sse', '/messages']);
    k = await startKeyhole({ server: createServer(), flags: { 'public-url': proxy.origin } });
    proxy.target = new URL(`http://127.0.0.1:${(k.keyhole.http.address() ?? { port: 0 }).port}`);
    publicMcp = `${proxy.origin}/mcp`;
    assert.equal(k.mcpUrl.href, publicMcp, 'the resource identifier is the public URL');
    await addUser(k, 'conformance');
    // The real flow, through the public URL like any client.
    const tokens = await obtainTokens(k, { username: 'conformance' });
    proxy.token = tokens.access_token;
  });
  after(async () => {
    await k?.stop({ remove: true });
    await proxy?.close();
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  test('the guard is on: without the proxy token the endpoint refuses, with it the fixture answers', async () => {
    const direct = await fetch(new URL('/mcp', proxy.target), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{}',
    });
    assert.equal(direct.status, 401);
    await direct.arrayBuffer();
    const through = await callTool(k, undefined, 'test_simple_text');
    assert.equal(through.status, 200, 'the proxy adds the token');
    await through.arrayBuffer();
  });

  for (const suite of SUITES) {
    test(suite.label, { timeout: RUN_TIMEOUT_MS * 2 }, async (t) => {
      const listed = await runCli(suite.cli, ['list', ...suite.list], { timeoutMs: RUN_TIMEOUT_MS });
      assert.equal(listed.code, 0, listed.output);
      const expected = scenarioNames(listed.output);
      assert.ok(expected.length > 0, listed.output);
      const dir = await mkdtemp(path.join(outDir, 'run-'));
      const run = await runCli(
        suite.cli,
        ['server', '--url', publicMcp, '--output-dir', dir, ...suite.select],
        {
          timeoutMs: RUN_TIMEOUT_MS,
        },
      );
      const results = await readChecks(dir, 'server');
      for (const line of notes(results)) t.diagnostic(line);
      const failed = failures(expected, results);
      assert.ok(failed.length === 0, `${failed.length} failing check(s):\n${failed.join('\n')}`);
      assert.equal(run.code, 0, `runner exited with ${run.code}:\n${run.output.slice(-4000)}`);
    });
  }
});
