// The wiring behind the CLI (src/app): building a running Keyhole from a configuration, loading the
// application module, the state-secret warning, handler errors reaching the log, the public exports.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkExposure, createKeyhole, isLoopback, UnsafeConfigError } from '../../src/app/keyhole.ts';
import { AppLoadError, loadServerModule } from '../../src/app/load-app.ts';
import { loadConfig } from '../../src/config/load.ts';
import * as keyhole from '../../src/index.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { McpServer } from '../../src/server/server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'keyhole-app-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  return { logger, lines };
}

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};

function config(flags: Record<string, string | boolean> = {}, env: Record<string, string> = {}) {
  return loadConfig({ flags: { port: '0', 'data-dir': join(tmp, 'data'), ...flags }, env, cwd: tmp });
}

describe('createKeyhole', () => {
  test('serves the given server on the configured path; close() is idempotent', async () => {
    const server = new McpServer({ name: 'wired', version: '1.0.0' });
    server.resource({
      uri: 'test://broken',
      name: 'broken',
      read: () => {
        throw new Error('disk on fire');
      },
    });
    const { logger, lines } = capture();
    // Authentication off: this test is about the wiring of the engine and the log (see 'the authorization server').
    const k = await createKeyhole(config({}, { KEYHOLE_MCP_PATH: '/api/mcp', KEYHOLE_AUTH: 'none' }), {
      logger,
      server,
    });
    assert.equal(k.auth, undefined);
    assert.equal(k.server, server);
    const url = await k.listen();
    assert.equal(url.pathname, '/api/mcp');
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'resources/read',
          'mcp-name': 'test://broken',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'resources/read',
          params: { uri: 'test://broken', _meta: META },
        }),
      });
      const body = (await res.json()) as { error: { code: number; message: string } };
      // The client sees a generic error; the cause goes to the log with the method.
      assert.deepEqual(body.error, { code: -32603, message: 'Internal error' });
      const logged = lines.find((l) => l.msg === 'handler failed');
      assert.equal(logged?.method, 'resources/read');
      assert.match(JSON.stringify(logged?.error), /disk on fire/);
    } finally {
      await k.close();
      await k.close();
    }
  });

  test('loads config.server.app when no server is given', async () => {
    const app = join(tmp, 'async-app.ts');
    writeFileSync(
      app,
      `import { McpServer } from ${JSON.stringify(new URL('../../src/server/server.ts', import.meta.url).pathname)};
export async function createServer() { return new McpServer({ name: 'from-module', version: '2.0.0' }); }
`,
    );
    const k = await createKeyhole(config({ app }), { logger: capture().logger });
    assert.equal(k.server.info.name, 'from-module');
    await k.close();
  });

  test('warns about a missing state secret only when bound beyond loopback', async () => {
    const server = new McpServer();
    const wide = capture();
    await (await createKeyhole(config({ host: '0.0.0.0' }), { logger: wide.logger, server })).close();
    assert.ok(wide.lines.some((l) => l.level === 'warn' && String(l.msg).includes('KEYHOLE_STATE_SECRET')));

    const local = capture();
    await (await createKeyhole(config({ host: '127.0.0.1' }), { logger: local.logger, server })).close();
    assert.ok(!local.lines.some((l) => String(l.msg).includes('KEYHOLE_STATE_SECRET')));

    const secret = capture();
    const withSecret = config({ host: '0.0.0.0' }, { KEYHOLE_STATE_SECRET: 's'.repeat(32) });
    await (await createKeyhole(withSecret, { logger: secret.logger, server })).close();
    assert.ok(!secret.lines.some((l) => String(l.msg).includes('KEYHOLE_STATE_SECRET')));
  });

  test('the authorization server: storage, metadata with every declared scope, readiness, close()', async () => {
    const server = new McpServer({ name: 'scoped', version: '1.0.0' });
    server.tool({ name: 'read', scopes: ['notes:read'], handler: () => 'ok' });
    server.prompt({ name: 'p', scopes: ['prompts:use'], get: () => ({ messages: [] }) });
    const dataDir = join(tmp, 'auth-data');
    const k = await createKeyhole(config({ 'data-dir': dataDir }, { KEYHOLE_SCOPES: 'extra:scope' }), {
      logger: capture().logger,
      server,
    });
    const url = await k.listen();
    try {
      assert.ok(k.auth?.context);
      assert.equal(k.auth.storage.kind, 'sqlite');
      assert.equal(k.auth.context.config.issuer, url.origin);
      assert.equal(k.auth.context.config.resource, url.href);
      const scopes = async () =>
        (
          (await (await fetch(new URL('/.well-known/oauth-authorization-server', url))).json()) as {
            scopes_supported: string[];
          }
        ).scopes_supported;
      assert.deepEqual((await scopes()).sort(), ['extra:scope', 'notes:read', 'prompts:use']);
      // A tool added while serving brings its scope.
      server.tool({ name: 'write', scopes: ['notes:write'], handler: () => 'ok' });
      assert.ok((await scopes()).includes('notes:write'));
      const prm = (await (await fetch(new URL('/.well-known/oauth-protected-resource/mcp', url))).json()) as {
        scopes_supported: string[];
      };
      assert.ok(prm.scopes_supported.includes('notes:write'));
      const ready = await fetch(new URL('/health/ready', url));
      assert.deepEqual(await ready.json(), { status: 'ok', checks: { storage: 'ok' } });
    } finally {
      await k.close();
      await k.close();
    }
    await assert.rejects(k.auth.storage.ping(), 'storage is closed with Keyhole');
  });

  test('checkExposure: --auth none and --dev need loopback (bind address and public URL)', () => {
    assert.doesNotThrow(() => checkExposure(config({ host: '127.0.0.1' }, { KEYHOLE_AUTH: 'none' })));
    assert.doesNotThrow(() => checkExposure(config({ host: '0.0.0.0' })));
    for (const c of [
      config({ host: '0.0.0.0' }, { KEYHOLE_AUTH: 'none' }),
      config({ host: '127.0.0.1', 'public-url': 'https://mcp.example.com' }, { KEYHOLE_AUTH: 'none' }),
      config({ host: '10.0.0.5', dev: true }),
    ]) {
      assert.throws(() => checkExposure(c), UnsafeConfigError);
    }
  });

  test('isLoopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'a.localhost'])
      assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', 'localhost.example.com'])
      assert.ok(!isLoopback(h), h);
  });
});

describe('loadServerModule', () => {
  test('names the module and the problem', async () => {
    const noExport = join(tmp, 'no-export.ts');
    writeFileSync(noExport, 'export const x = 1;\n');
    const wrong = join(tmp, 'wrong.ts');
    writeFileSync(wrong, 'export function createServer() { return { tools: [] }; }\n');
    const missing = join(tmp, 'missing.ts');
    await assert.rejects(loadServerModule(noExport), (e: Error) => {
      assert.ok(e instanceof AppLoadError);
      assert.equal(e.message, `app ${noExport}: the module does not export a createServer() function`);
      return true;
    });
    await assert.rejects(loadServerModule(wrong), {
      message: `app ${wrong}: createServer() did not return an McpServer`,
    });
    await assert.rejects(loadServerModule(missing), (e: Error) =>
      e.message.startsWith(`app ${missing}: cannot load`),
    );
  });
});

describe('public exports (src/index.ts)', () => {
  test('the API a developer needs is exported', () => {
    for (const name of [
      'McpServer',
      'Engine',
      'McpError',
      'ErrorCode',
      'createHttpApp',
      'serveStdio',
      'loadConfig',
      'ConfigError',
      'DEFAULTS',
      'createKeyhole',
      'createStdioKeyhole',
      'loadServerModule',
      'createLogger',
    ]) {
      assert.notEqual((keyhole as Record<string, unknown>)[name], undefined, name);
    }
  });
});
