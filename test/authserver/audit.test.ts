// The security audit trail: every EventBus event becomes one JSON log line and one audit row, in
// order, without secrets; `keyhole audit tail` prints the rows as JSON lines.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { run as auditCli } from '../../src/cli/audit.ts';
import type { CliIo } from '../../src/cli/run.ts';
import { subscribeAudit } from '../../src/observability/audit.ts';
import { EventBus } from '../../src/observability/events.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { AuditStore } from '../../src/storage/types.ts';

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) };
}

function io(env: Record<string, string> = {}, cwd = process.cwd()) {
  const out: string[] = [];
  const err: string[] = [];
  let onOut: (() => void) | undefined;
  const value: CliIo = {
    stdout: (t) => {
      out.push(t);
      onOut?.();
    },
    stderr: (t) => err.push(t),
    env,
    cwd,
  };
  /** Resolves once stdout holds text matching `re`. */
  const waitFor = (re: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (re.test(out.join(''))) {
          onOut = undefined;
          resolve();
        }
      };
      onOut = check;
      check();
    });
  return { io: value, out, err, waitFor };
}

describe('audit subscriber: one log line and one row per security event', () => {
  test('rows in event order with type, time and data; log lines carry the event name', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const bus = new EventBus();
    const { lines, logger } = capture();
    const sub = subscribeAudit(bus, { logger, audit: storage.audit });
    bus.emit('login.failed', { username: 'alice', ip: '192.0.2.1', reason: 'bad_password' }, 1_000);
    bus.emit('login.succeeded', { userId: 'u1', username: 'alice', ip: '192.0.2.1' }, 2_000);
    bus.emit(
      'token.issued',
      {
        grantType: 'authorization_code',
        clientId: 'c1',
        subject: 'u1',
        grantId: 'g1',
        jti: 'j1',
        scopes: ['a'],
        resource: 'http://127.0.0.1/mcp',
      },
      3_000,
    );
    bus.emit('rate_limit.hit', { endpoint: 'token', key: 'ip', ip: '192.0.2.1' }, 4_000);
    await sub.flush();

    const rows = await storage.audit.tail(10);
    assert.deepEqual(
      rows.map((r) => [r.type, r.time]),
      [
        ['login.failed', 1_000],
        ['login.succeeded', 2_000],
        ['token.issued', 3_000],
        ['rate_limit.hit', 4_000],
      ],
    );
    assert.deepEqual(rows[0]!.data, { username: 'alice', ip: '192.0.2.1', reason: 'bad_password' });
    assert.ok(rows.every((r, i) => i === 0 || r.id > rows[i - 1]!.id));

    assert.equal(lines.length, 4);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      logged.map((l) => [l.level, l.msg, l.event]),
      [
        ['info', 'security event', 'login.failed'],
        ['info', 'security event', 'login.succeeded'],
        ['info', 'security event', 'token.issued'],
        ['info', 'security event', 'rate_limit.hit'],
      ],
    );
    assert.equal(logged[2]!.jti, 'j1');
    assert.equal(logged[2]!.grantId, 'g1');
    await sub.close();
    await storage.close();
  });

  test('after close(), events are no longer recorded', async () => {
    const storage = await openStorage({ kind: 'memory' });
    const bus = new EventBus();
    const { lines, logger } = capture();
    const sub = subscribeAudit(bus, { logger, audit: storage.audit });
    bus.emit('user.deleted', { userId: 'u1' });
    await sub.close();
    bus.emit('user.deleted', { userId: 'u2' });
    assert.equal((await storage.audit.tail(10)).length, 1);
    assert.equal(lines.length, 1);
    await storage.close();
  });

  test('a failing audit store is logged and does not break the emitter or later rows', async () => {
    const stored: string[] = [];
    let fail = true;
    const audit: AuditStore = {
      append: async (type) => {
        if (fail) {
          fail = false;
          throw new Error('disk full');
        }
        stored.push(type);
      },
      tail: async () => [],
      find: async () => [],
    };
    const bus = new EventBus();
    const { lines, logger } = capture();
    const sub = subscribeAudit(bus, { logger, audit });
    assert.doesNotThrow(() => bus.emit('user.created', { userId: 'u1', username: 'a' }));
    bus.emit('user.created', { userId: 'u2', username: 'b' });
    await sub.flush();
    assert.deepEqual(stored, ['user.created']);
    const errors = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.msg, 'audit write failed');
    await sub.close();
  });
});

describe('keyhole audit tail', () => {
  async function seeded(count: number) {
    const storage = await openStorage({ kind: 'memory' });
    for (let i = 1; i <= count; i++)
      await storage.audit.append('user.created', { userId: `u${i}` }, i * 1_000);
    return storage;
  }

  test('-n N prints the newest N as JSON lines, oldest first', async () => {
    const storage = await seeded(5);
    const t = io();
    assert.equal(await auditCli(['tail', '-n', '2'], t.io, { storage }), 0);
    const printed = t.out
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(printed, [
      { id: 4, time: new Date(4_000).toISOString(), type: 'user.created', data: { userId: 'u4' } },
      { id: 5, time: new Date(5_000).toISOString(), type: 'user.created', data: { userId: 'u5' } },
    ]);
    await storage.close();
  });

  test('default is the newest 20', async () => {
    const storage = await seeded(25);
    const t = io();
    assert.equal(await auditCli(['tail'], t.io, { storage }), 0);
    const printed = t.out.join('').trim().split('\n');
    assert.equal(printed.length, 20);
    assert.equal((JSON.parse(printed[0]!) as { id: number }).id, 6);
    await storage.close();
  });

  test('--follow prints new rows until stopped', async () => {
    const storage = await seeded(1);
    const t = io();
    const stop = new AbortController();
    const running = auditCli(['tail', '--follow'], t.io, { storage, signal: stop.signal, pollMs: 5 });
    await t.waitFor(/"u1"/);
    await storage.audit.append(
      'consent.denied',
      { userId: 'u1', clientId: 'c', redirectUri: 'https://a/cb' },
      9_000,
    );
    await storage.audit.append('user.deleted', { userId: 'u1' }, 9_001);
    await t.waitFor(/"user\.deleted"/);
    stop.abort();
    assert.equal(await running, 0);
    const types = t.out
      .join('')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    assert.deepEqual(types, ['user.created', 'consent.denied', 'user.deleted']);
    await storage.close();
  });

  test('bad usage exits 2 with a message', async () => {
    const storage = await seeded(0);
    for (const argv of [['tail', '-n', '0'], ['tail', '-n', 'x'], ['tail', '--bogus'], ['head'], []]) {
      const t = io();
      assert.equal(await auditCli(argv, t.io, { storage }), 2, argv.join(' '));
      assert.match(t.err.join(''), /^keyhole: /);
      assert.deepEqual(t.out, []);
    }
    await storage.close();
  });

  test('reads the SQLite database in the data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyhole-audit-'));
    try {
      const storage = await openStorage({ kind: 'sqlite', path: join(dir, 'keyhole.db') });
      await storage.audit.append('user.created', { userId: 'u1', username: 'alice' }, 1_000);
      await storage.close();
      const t = io();
      assert.equal(await auditCli(['tail', '--data-dir', dir], t.io), 0, t.err.join(''));
      assert.deepEqual(JSON.parse(t.out.join('')), {
        id: 1,
        time: new Date(1_000).toISOString(),
        type: 'user.created',
        data: { userId: 'u1', username: 'alice' },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
