// The conformance pre-release's authorization-server scenarios (0.2.0-alpha.12, `conformance
// authorization`) against Keyhole's authorization server: authorization-server-metadata-endpoint
// (RFC 8414 document: status, content type, required members, issuer echo, PKCE S256, CIMD support) and
// authorization-code-grant (a public client with PKCE S256 and an RFC 8707 resource: the runner prints
// an authorization URL for a person to open and waits on http://127.0.0.1:<port>/callback, then checks
// the redirect — code, state, iss — and the token response). Here the person is the browser-like test
// client: it opens the printed URL, signs in, approves, and follows the redirect to the runner.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CONFORMANCE_NEXT,
  failures,
  notes,
  readChecks,
  runCli,
  scenarioNames,
} from './conformance-runner.ts';
import { addUser, authorizeInBrowser, type RunningKeyhole, registerClient, startKeyhole } from './harness.ts';

const RUN_TIMEOUT_MS = 60_000;

/** A free TCP port on 127.0.0.1 for the runner's callback server. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('conformance authorization-server scenarios against Keyhole', () => {
  let k: RunningKeyhole;
  let outDir: string;

  before(async () => {
    k = await startKeyhole();
    await addUser(k, 'alice');
    outDir = await mkdtemp(path.join(tmpdir(), 'keyhole-as-conformance-'));
  });
  after(async () => {
    await k.stop({ remove: true });
    await rm(outDir, { recursive: true, force: true });
  });

  test('every authorization-server scenario passes', { timeout: RUN_TIMEOUT_MS + 10_000 }, async (t) => {
    const listed = await runCli(CONFORMANCE_NEXT, ['list', '--authorization'], { timeoutMs: RUN_TIMEOUT_MS });
    assert.equal(listed.code, 0, listed.output);
    assert.match(listed.output, /Authorization server scenarios/);
    const scenarios = scenarioNames(listed.output);
    assert.deepEqual([...scenarios].sort(), [
      'authorization-code-grant',
      'authorization-server-metadata-endpoint',
    ]);

    const port = await freePort();
    const callback = `http://127.0.0.1:${port}/callback`;
    // The runner's client: a public client (no secret → token_endpoint_auth_method none) with its callback.
    const clientId = await registerClient(k, callback);
    let delivered = false;
    // Without --scenario the runner runs every scenario in order, handing the metadata to the grant.
    const run = await runCli(
      CONFORMANCE_NEXT,
      [
        'authorization',
        '--url',
        k.issuer,
        '--client-id',
        clientId,
        '--resource',
        k.mcpUrl.href,
        '--port',
        String(port),
        '--output-dir',
        outDir,
      ],
      {
        timeoutMs: RUN_TIMEOUT_MS,
        onOutput: async (output) => {
          // The runner prints the authorization URL and waits for a person to complete it.
          const m = new RegExp(`^(${escapeRegExp(k.issuer)}/authorize\\?\\S+)$`, 'm').exec(output);
          // Its callback server must be listening before the browser is sent there.
          if (!m || !output.includes(`Callback server started: http://127.0.0.1:${port}`)) return false;
          const back = await authorizeInBrowser(m[1]!, { username: 'alice' });
          assert.equal(`${back.origin}${back.pathname}`, callback);
          // The browser follows the redirect to the runner's callback server.
          const res = await fetch(back);
          assert.equal(res.status, 200);
          await res.arrayBuffer();
          delivered = true;
          return true;
        },
      },
    );
    assert.ok(delivered, `the runner never asked for the authorization:\n${run.output.slice(-3000)}`);
    const results = await readChecks(outDir, 'authorization-server');
    for (const line of notes(results)) t.diagnostic(line);
    const failed = failures(scenarios, results);
    assert.ok(
      failed.length === 0,
      `${failed.length} failing check(s):\n${failed.join('\n')}\n${run.output.slice(-3000)}`,
    );
    const passed = [...results.values()]
      .flat()
      .filter((c) => c.status === 'SUCCESS')
      .map((c) => c.id);
    for (const id of [
      'authorization-server-metadata',
      'authorization-server-metadata-cimd',
      'authorization-code-grant',
    ]) {
      assert.ok(passed.includes(id), `${id} passed`);
    }
    assert.equal(run.code, 0, run.output.slice(-3000));
  });
});
