// The `keyhole` command, black-box: `serve` prints its URL, serves MCP over HTTP and drains on
// SIGTERM; usage and configuration errors exit 2 naming the problem; runtime failures exit 1 with
// one JSON log line; the examples runner.

import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, launch, listening, logLines, tempDir } from './helpers.ts';

const tmp = tempDir();

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'cli-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

let dirs = 0;
const dataDir = () => join(tmp, `data-${++dirs}`, 'nested');

function post(url: URL, body: Record<string, unknown>, name?: string): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': String(body.method),
  };
  if (name) headers['mcp-name'] = name;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

describe('keyhole serve', () => {
  test('prints the MCP URL, serves health and MCP, creates the data dir 0700, exits 0 on SIGTERM', async () => {
    const dir = dataDir();
    // Authentication off (loopback only): this test is about serving and draining; auth.test.ts covers tokens.
    const run = cli(['serve', '--port', '0', '--data-dir', dir, '--auth', 'none']);
    const url = await listening(run);
    assert.equal(url.hostname, '127.0.0.1');
    assert.equal(url.pathname, '/mcp');
    assert.notEqual(url.port, '0');
    assert.equal(statSync(dir).mode & 0o777, 0o700);

    const live = await fetch(new URL('/health/live', url));
    assert.equal(live.status, 200);
    await live.arrayBuffer();

    const res = await post(
      url,
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'over http' }, _meta: META },
      },
      'echo',
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: { content: unknown[] } };
    assert.deepEqual(body.result.content, [{ type: 'text', text: 'over http' }]);

    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr());
    // stdout holds the URL line only; stderr holds JSON log lines only.
    assert.equal(run.stdout(), `Keyhole MCP server listening on ${url.href}\n`);
    const logs = logLines(run.stderr());
    assert.ok(logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
  });

  test('SIGTERM lets a request in flight finish before exiting 0', async () => {
    const run = cli(['serve', '--port', '0', '--data-dir', dataDir(), '--auth', 'none']);
    const url = await listening(run);
    const res = await post(
      url,
      {
        jsonrpc: '2.0',
        id: 'count',
        method: 'tools/call',
        params: {
          name: 'countdown',
          arguments: { from: 3, intervalMs: 200 },
          _meta: { ...META, progressToken: 'p' },
        },
      },
      'countdown',
    );
    assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let signalled = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      // The request is provably in flight once its first progress notification arrived.
      if (!signalled && text.includes('notifications/progress')) {
        signalled = true;
        run.child.kill('SIGTERM');
      }
    }
    assert.ok(signalled, text);
    const events = text
      .split(/\r?\n\r?\n/)
      .flatMap((e) =>
        e
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim()),
      )
      .filter((d) => d !== '')
      .map((d) => JSON.parse(d) as { id?: string; result?: { content: { text: string }[] } });
    const final = events.find((e) => e.id === 'count');
    assert.equal(final?.result?.content[0]?.text, 'Lift-off!');
    assert.equal(await run.exited, 0, run.stderr());
  });

  test('--dev prints a banner with the URLs to try', async () => {
    const run = cli(['serve', '--dev', '--port', '0', '--data-dir', dataDir(), '--auth', 'none']);
    const url = await listening(run);
    await new Promise<void>((resolve) => {
      const check = () => run.stdout().includes('\n\n') && resolve();
      run.child.stdout.on('data', check);
      check();
    });
    assert.match(run.stdout(), /Development mode/);
    assert.ok(run.stdout().includes(new URL('/health/live', url).href));
    assert.match(run.stdout(), /auth {7}none/);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 0, run.stderr());
  });

  test('a port in use: one JSON log line, exit 1', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const run = cli(['serve', '--port', String(port), '--data-dir', dataDir()]);
      assert.equal(await run.exited, 1);
      const logs = logLines(run.stderr());
      const errors = logs.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1);
      assert.match(JSON.stringify(errors[0]), /EADDRINUSE/);
      assert.equal(run.stdout(), '');
    } finally {
      blocker.close();
    }
  });

  test('an app module without createServer: exit 1 naming the module', async () => {
    const app = join(tmp, 'not-an-app.ts');
    writeFileSync(app, 'export const nothing = 1;\n');
    const run = cli(['serve', '--port', '0', '--data-dir', dataDir(), '--app', app]);
    assert.equal(await run.exited, 1);
    const [line] = logLines(run.stderr());
    assert.equal(line!.level, 'error');
    assert.ok(String(line!.msg).includes(`app ${app}: the module does not export a createServer() function`));
  });
});

describe('usage and configuration errors exit 2', () => {
  test('an unknown flag', async () => {
    const run = cli(['serve', '--bogus']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /^keyhole: Unknown option '--bogus'/);
    assert.match(run.stderr(), /Usage: keyhole serve/);
    assert.equal(run.stdout(), '');
  });

  test('a flag of another command, a missing value, an unknown command', async () => {
    const stdioPort = cli(['stdio', '--port', '1']);
    assert.equal(await stdioPort.exited, 2);
    assert.match(stdioPort.stderr(), /Unknown option '--port'/);
    const missing = cli(['serve', '--port']);
    assert.equal(await missing.exited, 2);
    assert.match(missing.stderr(), /--port/);
    const unknown = cli(['launch']);
    assert.equal(await unknown.exited, 2);
    assert.match(unknown.stderr(), /unknown command "launch"/);
  });

  test('a bad environment variable is named with the value it had', async () => {
    const run = cli(['serve', '--data-dir', dataDir()], { KEYHOLE_PORT: 'abc' });
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /KEYHOLE_PORT: must be an integer 0-65535, got "abc"/);
  });

  test('a bad flag value and an unknown config file key are named', async () => {
    const file = join(tmp, 'bad.json');
    writeFileSync(file, JSON.stringify({ server: { hots: 'x' } }));
    const run = cli(['serve', '--config', file, '--port', '99999']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /config file server\.hots: unknown key \(did you mean server\.host\?\)/);
    assert.match(run.stderr(), /--port: must be an integer 0-65535, got "99999"/);
  });

  test('the state secret is never echoed', async () => {
    const run = cli(['serve'], { KEYHOLE_STATE_SECRET: 'hunter2-short' });
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /KEYHOLE_STATE_SECRET: must be at least 32 bytes/);
    assert.ok(!run.stderr().includes('hunter2'));
  });
});

describe('help and version', () => {
  test('--version, --help, serve --help; bin/keyhole.js runs the same CLI', async () => {
    const version = cli(['--version']);
    assert.equal(await version.exited, 0);
    assert.match(version.stdout(), /^keyhole \d+\.\d+\.\d+\n$/);
    const help = cli(['--help']);
    assert.equal(await help.exited, 0);
    assert.match(help.stdout(), /Commands:\n {2}serve/);
    const serveHelp = cli(['serve', '--help']);
    assert.equal(await serveHelp.exited, 0);
    assert.match(serveHelp.stdout(), /KEYHOLE_PORT/);
    const bin = launch(['bin/keyhole.js', '--version']);
    assert.equal(await bin.exited, 0);
    assert.equal(bin.stdout(), version.stdout());
  });
});

describe('npm run example', () => {
  test('an unknown example exits 2 and lists the examples', async () => {
    const run = launch(['scripts/example.ts', 'no-such-example']);
    assert.equal(await run.exited, 2);
    assert.match(run.stderr(), /no example named "no-such-example"/);
    assert.match(run.stderr(), /^ {2}demo$/m);
    const outside = launch(['scripts/example.ts', '../src']);
    assert.equal(await outside.exited, 2);
  });

  test('runs keyhole serve with the example app and the given serve options', async () => {
    const run = launch([
      'scripts/example.ts',
      'demo',
      '--port',
      '0',
      '--data-dir',
      dataDir(),
      '--auth',
      'none',
    ]);
    const url = await listening(run);
    const res = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } });
    const body = (await res.json()) as { result: { tools: { name: string }[] } };
    assert.ok(body.result.tools.some((t) => t.name === 'echo'));
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, run.stderr());
  });
});
