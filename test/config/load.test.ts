// Configuration: precedence (defaults < file < environment < flags), validation that names the bad
// key for every option and every source, unknown keys, secrets and path resolution.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { ConfigError, type ConfigSources, describeConfig, loadConfig } from '../../src/config/load.ts';
import { OPTIONS } from '../../src/config/options.ts';

const dir = mkdtempSync(join(tmpdir(), 'keyhole-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function load(sources: ConfigSources) {
  return loadConfig({ env: {}, cwd: dir, ...sources });
}

function issues(sources: ConfigSources): readonly string[] {
  try {
    load(sources);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the configuration to be rejected');
}

const SECRET = 'x'.repeat(40);

describe('defaults', () => {
  test('with no sources the configuration is the documented defaults', () => {
    const config = load({});
    assert.deepEqual(config, {
      ...DEFAULTS,
      server: { ...DEFAULTS.server, dataDir: join(dir, '.keyhole') },
    });
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 3000);
    assert.equal(config.protocol.stateSecret, undefined);
  });

  test('every option has an environment variable and a default', () => {
    const envs = new Set<string>();
    for (const o of OPTIONS) {
      assert.match(o.env, /^KEYHOLE_[A-Z0-9_]+$/);
      assert.ok(!envs.has(o.env), `${o.env} is used twice`);
      envs.add(o.env);
      const [section, field] = o.key.split('.') as [string, string];
      const defaults = DEFAULTS as unknown as Record<string, Record<string, unknown>>;
      assert.ok(field in defaults[section]!, `${o.key} has no default`);
    }
  });
});

describe('precedence: defaults < config file < environment < flags', () => {
  const path = file({ server: { port: 4001, host: '0.0.0.0' }, log: { level: 'warn' } });

  test('the file overrides the defaults', () => {
    const c = load({ flags: { config: path } });
    assert.equal(c.server.port, 4001);
    assert.equal(c.server.host, '0.0.0.0');
    assert.equal(c.log.level, 'warn');
  });

  test('the environment overrides the file', () => {
    const c = load({ flags: { config: path }, env: { KEYHOLE_PORT: '4002' } });
    assert.equal(c.server.port, 4002);
    assert.equal(c.server.host, '0.0.0.0');
  });

  test('flags override the environment', () => {
    const c = load({
      flags: { config: path, port: '4003', 'log-level': 'debug' },
      env: { KEYHOLE_PORT: '4002', KEYHOLE_LOG_LEVEL: 'error' },
    });
    assert.equal(c.server.port, 4003);
    assert.equal(c.log.level, 'debug');
    assert.equal(c.server.host, '0.0.0.0');
  });

  test('KEYHOLE_CONFIG names the file when --config is absent; --config wins', () => {
    const other = file({ server: { port: 4100 } });
    assert.equal(load({ env: { KEYHOLE_CONFIG: path } }).server.port, 4001);
    assert.equal(load({ env: { KEYHOLE_CONFIG: path }, flags: { config: other } }).server.port, 4100);
  });

  test('an empty environment variable counts as unset', () => {
    const c = load({ flags: { config: path }, env: { KEYHOLE_PORT: '', KEYHOLE_PUBLIC_URL: '' } });
    assert.equal(c.server.port, 4001);
    assert.equal(c.server.publicUrl, undefined);
  });

  test('the --dev flag and KEYHOLE_DEV', () => {
    assert.equal(load({ flags: { dev: true } }).server.dev, true);
    assert.equal(load({ env: { KEYHOLE_DEV: '1' } }).server.dev, true);
    assert.equal(load({ env: { KEYHOLE_DEV: 'false' } }).server.dev, false);
  });
});

describe('values', () => {
  test('lists come from comma-separated text or JSON arrays, normalized', () => {
    const c = load({
      env: { KEYHOLE_ALLOWED_ORIGINS: 'https://App.Example.com, http://localhost:5173,' },
      flags: {
        config: file({ http: { allowedHosts: ['MCP.example.com', 'mcp.example.com:8443', '[::1]:3000'] } }),
      },
    });
    assert.deepEqual(c.http.allowedOrigins, ['https://app.example.com', 'http://localhost:5173']);
    assert.deepEqual(c.http.allowedHosts, ['mcp.example.com', 'mcp.example.com:8443', '[::1]:3000']);
  });

  test('trusted proxies: none by default; addresses, CIDR ranges and names, canonical', () => {
    assert.deepEqual(load({}).http.trustedProxies, []);
    const c = load({
      env: { KEYHOLE_TRUSTED_PROXIES: '10.0.0.0/8, 2001:DB8::/32,Loopback,::ffff:192.0.2.1, private,' },
    });
    assert.deepEqual(c.http.trustedProxies, [
      '10.0.0.0/8',
      '2001:db8::/32',
      'loopback',
      '192.0.2.1',
      'private',
    ]);
    const fromFile = load({
      flags: { config: file({ http: { trustedProxies: ['172.16.0.0/12', 'fd00::/8', 'linklocal'] } }) },
    });
    assert.deepEqual(fromFile.http.trustedProxies, ['172.16.0.0/12', 'fd00::/8', 'linklocal']);
  });

  test('trusted proxies: a bad entry is refused at start, naming the key and the entry', () => {
    const one = (value: string) => {
      const found = issues({ env: { KEYHOLE_TRUSTED_PROXIES: value } });
      assert.equal(found.length, 1, found.join('\n'));
      return found[0]!;
    };
    assert.equal(
      one('10.0.0.0/8,proxy.internal'),
      'KEYHOLE_TRUSTED_PROXIES: item 2 ("proxy.internal") must be an IP address, a CIDR range (10.0.0.0/8, fd00::/8) or loopback, private, linklocal, got "10.0.0.0/8,proxy.internal"',
    );
    assert.match(
      one('10.0.0.1/8'),
      /^KEYHOLE_TRUSTED_PROXIES: item 1 \("10\.0\.0\.1\/8"\) has bits set beyond the prefix \(the range is 10\.0\.0\.0\/8\)/,
    );
    assert.match(
      one('0.0.0.0/0'),
      /^KEYHOLE_TRUSTED_PROXIES: item 1 \("0\.0\.0\.0\/0"\) would trust every address/,
    );
    assert.match(one('::/0'), /would trust every address/);
    assert.match(one('192.168.0.0/33'), /item 1 \("192\.168\.0\.0\/33"\) needs a prefix length 1-32/);
    assert.match(one('fe80::1%eth0'), /item 1 \("fe80::1%eth0"\) must be an IP address/);
    assert.match(one('::ffff:10.0.0.0/104'), /IPv4-mapped IPv6 range/);
    assert.deepEqual(issues({ flags: { config: file({ http: { trustedProxies: '10.0.0.0/8' } }) } }), [
      'config file http.trustedProxies: must be an array, got "10.0.0.0/8"',
    ]);
    assert.match(
      issues({ flags: { config: file({ http: { trustedProxies: ['10.0.0.0/8', 'everyone'] } }) } })[0]!,
      /^config file http\.trustedProxies: item 2 \("everyone"\) must be an IP address/,
    );
  });

  test('publicUrl loses its trailing slash; paths are kept as given', () => {
    const c = load({ env: { KEYHOLE_PUBLIC_URL: 'https://mcp.example.com/', KEYHOLE_MCP_PATH: '/api/mcp' } });
    assert.equal(c.server.publicUrl, 'https://mcp.example.com');
    assert.equal(c.http.mcpPath, '/api/mcp');
  });

  test('relative paths: from the file, against its directory; from flags and env, against the cwd', () => {
    const sub = join(dir, 'sub');
    const path = file({ server: { dataDir: 'state', app: './app.ts' } });
    const fromFile = load({ flags: { config: path }, cwd: sub });
    assert.equal(fromFile.server.dataDir, join(dir, 'state'));
    assert.equal(fromFile.server.app, join(dir, 'app.ts'));
    const fromFlag = load({
      flags: { config: path, 'data-dir': 'mine' },
      env: { KEYHOLE_APP: 'a.ts' },
      cwd: sub,
    });
    assert.equal(fromFlag.server.dataDir, join(sub, 'mine'));
    assert.equal(fromFlag.server.app, join(sub, 'a.ts'));
  });

  test('the state secret comes from the environment and is never shown', () => {
    const c = load({ env: { KEYHOLE_STATE_SECRET: SECRET } });
    assert.equal(c.protocol.stateSecret, SECRET);
    assert.ok(!JSON.stringify(describeConfig(c)).includes(SECRET));
  });

  test('every secret is hidden when the configuration is described', () => {
    const c = load({
      env: {
        KEYHOLE_STATE_SECRET: SECRET,
        KEYHOLE_KEY_SECRET: `k${SECRET}`,
        KEYHOLE_HS256_SECRET: `h${SECRET}`,
      },
    });
    const text = JSON.stringify(describeConfig(c));
    for (const s of [SECRET, `k${SECRET}`, `h${SECRET}`]) assert.ok(!text.includes(s), s);
  });

  test('PostgreSQL and Redis URLs come from the environment or the file; passwords are never shown', () => {
    const db = 'postgres://keyhole:pg-password-1@db.internal:5432/keyhole';
    const redis = 'rediss://:redis-password-2@cache.internal:6380/0';
    const c = load({
      env: { KEYHOLE_DATABASE_URL: db, KEYHOLE_REDIS_URL: redis, KEYHOLE_REDIS_PREFIX: 'kh1:' },
    });
    assert.equal(c.storage.databaseUrl, db);
    assert.equal(c.storage.redisUrl, redis);
    assert.equal(c.storage.redisPrefix, 'kh1:');
    assert.equal(c.storage.databasePoolSize, DEFAULTS.storage.databasePoolSize);
    const described = JSON.stringify(describeConfig(c));
    assert.ok(!described.includes('pg-password-1') && !described.includes('redis-password-2'), described);
    assert.ok(described.includes('db.internal:5432'), described);

    const fromFile = load({
      flags: { config: file({ storage: { databaseUrl: db, redisUrl: redis, databasePoolSize: 4 } }) },
    });
    assert.equal(fromFile.storage.databaseUrl, db);
    assert.equal(fromFile.storage.databasePoolSize, 4);
  });

  test('audit retention: forever by default; whole days 1-36500 from the environment or the file', () => {
    assert.equal(load({}).auth.auditRetentionDays, undefined);
    assert.equal(load({ env: { KEYHOLE_AUDIT_RETENTION_DAYS: '30' } }).auth.auditRetentionDays, 30);
    assert.equal(load({ env: { KEYHOLE_AUDIT_RETENTION_DAYS: '' } }).auth.auditRetentionDays, undefined);
    const path = file({ auth: { auditRetentionDays: 400 } });
    assert.equal(load({ flags: { config: path } }).auth.auditRetentionDays, 400);
    assert.equal(
      load({ flags: { config: path }, env: { KEYHOLE_AUDIT_RETENTION_DAYS: '36500' } }).auth
        .auditRetentionDays,
      36_500,
    );
  });

  test('audit retention: zero, negative, fractional, too large or not a number is refused, naming the key', () => {
    for (const bad of ['0', '-1', '1.5', '36501', 'forever', '30d', '1e2']) {
      assert.deepEqual(issues({ env: { KEYHOLE_AUDIT_RETENTION_DAYS: bad } }), [
        `KEYHOLE_AUDIT_RETENTION_DAYS: must be an integer 1-36500, got ${JSON.stringify(bad)}`,
      ]);
    }
    for (const bad of [0, -7, 2.5, 36_501, '30', null, true]) {
      assert.deepEqual(issues({ flags: { config: file({ auth: { auditRetentionDays: bad } }) } }), [
        `config file auth.auditRetentionDays: must be an integer 1-36500, got ${JSON.stringify(bad)}`,
      ]);
    }
  });

  test('PostgreSQL replaces SQLite: setting both is refused', () => {
    const found = issues({
      env: { KEYHOLE_DATABASE_URL: 'postgres://db/keyhole', KEYHOLE_SQLITE_PATH: 'x.db' },
    });
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, /^KEYHOLE_SQLITE_PATH: must not be set with storage.databaseUrl/);
  });
});

/** An invalid value of every option: as text (environment, flag) and as JSON (config file). */
const BAD: Record<string, { text?: string; json: unknown }> = {
  'server.host': { text: 'not a host!', json: 42 },
  'server.port': { text: 'abc', json: 70000 },
  'server.publicUrl': { text: 'ftp://example.com', json: 'https://example.com/?q=1' },
  // Any non-empty text is a path; only the file can hold a non-path.
  'server.dataDir': { json: 7 },
  'server.app': { json: ['a.ts'] },
  'server.shutdownGraceMs': { text: '-1', json: 1.5 },
  'server.dev': { text: 'maybe', json: 'yes' },
  'http.mcpPath': { text: 'mcp', json: '/mcp?x=1' },
  'http.legacySsePath': { text: 'sse', json: '' },
  'http.legacyMessagesPath': { text: '/a b', json: null },
  'http.allowedOrigins': {
    text: 'https://ok.example.com,https://bad.example.com/path',
    json: 'https://a.example',
  },
  'http.allowedHosts': { text: 'ok.example.com,bad host', json: [1] },
  'http.trustedProxies': { text: '10.0.0.0/8,10.0.0.300', json: ['loopback', 42] },
  'http.maxBodyBytes': { text: '10', json: '4096' },
  'http.headersTimeoutMs': { text: '0', json: 0 },
  'http.requestTimeoutMs': { text: '1e3', json: -5 },
  'http.keepAliveTimeoutMs': { text: ' ', json: true },
  'http.sseKeepAliveMs': { text: '10', json: 999 },
  'http.sseRetryMs': { text: 'soon', json: 0 },
  'sessions.idleTimeoutMs': { text: '1', json: 0 },
  'sessions.max': { text: '0', json: 0 },
  'log.level': { text: 'verbose', json: 'trace' },
  'protocol.stateSecret': { text: 'too short', json: SECRET },
  'auth.mode': { text: 'basic', json: false },
  'auth.issuer': { text: 'issuer', json: 'https://a.example/#frag' },
  'auth.accessTokenTtlSec': { text: '5', json: 86401 },
  'auth.refreshTokenTtlSec': { text: 'week', json: 1 },
  'auth.codeTtlSec': { text: '601', json: 0 },
  'auth.signingAlg': { text: 'none', json: 'EdDSA' },
  'auth.hs256Secret': { text: 'too short', json: SECRET },
  'auth.keySecret': { text: 'too short', json: SECRET },
  'auth.keyRotationOverlapSec': { text: '-1', json: 'a day' },
  'auth.allowPlainPkce': { text: 'sometimes', json: 1 },
  'auth.dynamicRegistration': { text: 'on?', json: 'true' },
  'auth.clientIdMetadataDocuments': { text: 'x', json: null },
  'auth.refreshGraceSec': { text: '61', json: -1 },
  'auth.scopes': { text: 'read,bad"scope', json: [1] },
  'auth.loginSessionTtlSec': { text: '1', json: 59 },
  'auth.rateLimitPerMinute': { text: '0', json: 0 },
  'auth.secureCookies': { text: 'maybe', json: 'no' },
  'auth.auditRetentionDays': { text: '0', json: -30 },
  'storage.sqlitePath': { json: 3 },
  'storage.databaseUrl': {
    text: 'mysql://keyhole:hunter2-db-password@db/keyhole',
    json: 'http://keyhole:hunter2-db-password@db/keyhole',
  },
  'storage.databasePoolSize': { text: '0', json: 1001 },
  'storage.redisUrl': { text: 'http://:hunter2-db-password@cache:6379', json: 6379 },
  'storage.redisPrefix': { text: 'has space', json: '' },
};

describe('every validation error names its key', () => {
  test('the table covers every option', () => {
    assert.deepEqual(Object.keys(BAD).sort(), OPTIONS.map((o) => o.key).sort());
  });

  for (const o of OPTIONS) {
    const bad = BAD[o.key]!;
    if (bad.text !== undefined) {
      test(`${o.env}`, () => {
        const found = issues({ env: { [o.env]: bad.text } });
        assert.equal(found.length, 1, found.join('\n'));
        assert.ok(found[0]!.startsWith(`${o.env}: `), found[0]);
        if (o.secret || o.sensitive)
          assert.ok(!found[0]!.includes(bad.text!), 'the secret must not be echoed');
        else assert.ok(found[0]!.includes(`got ${JSON.stringify(bad.text)}`), found[0]);
      });
    }
    if (o.flag !== undefined && bad.text !== undefined && o.flag !== 'dev') {
      test(`--${o.flag}`, () => {
        const found = issues({ flags: { [o.flag!]: bad.text } });
        assert.equal(found.length, 1, found.join('\n'));
        assert.ok(found[0]!.startsWith(`--${o.flag}: `), found[0]);
      });
    }
    test(`config file ${o.key}`, () => {
      const [section, field] = o.key.split('.') as [string, string];
      const found = issues({ flags: { config: file({ [section]: { [field]: bad.json } }) } });
      assert.equal(found.length, 1, found.join('\n'));
      assert.ok(found[0]!.startsWith(`config file ${o.key}: `), found[0]);
      if (o.secret) {
        assert.ok(found[0]!.includes(`environment only (set ${o.env})`), found[0]);
        assert.ok(!found[0]!.includes(SECRET), 'the secret must not be echoed');
      }
      if (o.sensitive) assert.ok(!found[0]!.includes('hunter2'), 'credentials must not be echoed');
    });
  }

  test('the message says what is expected and what was given', () => {
    assert.deepEqual(issues({ env: { KEYHOLE_PORT: 'abc' } }), [
      'KEYHOLE_PORT: must be an integer 0-65535, got "abc"',
    ]);
    assert.deepEqual(issues({ flags: { config: file({ server: { port: 'abc' } }) } }), [
      'config file server.port: must be an integer 0-65535, got "abc"',
    ]);
  });

  test('all problems are reported at once, from every source', () => {
    const found = issues({
      flags: { config: file({ log: { level: 'loud' } }), host: '' },
      env: { KEYHOLE_MAX_SESSIONS: 'many' },
    });
    assert.deepEqual(
      found.map((i) => i.split(':')[0]),
      ['config file log.level', 'KEYHOLE_MAX_SESSIONS', '--host'],
    );
  });

  test('headersTimeoutMs may not exceed requestTimeoutMs (named by its source)', () => {
    const [issue] = issues({
      env: { KEYHOLE_HEADERS_TIMEOUT_MS: '60000', KEYHOLE_REQUEST_TIMEOUT_MS: '30000' },
    });
    assert.match(issue!, /^KEYHOLE_HEADERS_TIMEOUT_MS: must not exceed http\.requestTimeoutMs/);
  });

  test('the MCP and legacy paths must differ', () => {
    const [issue] = issues({ flags: { config: file({ http: { legacySsePath: '/mcp' } }) } });
    assert.match(issue!, /^config file http\.legacySsePath: must differ from http\.mcpPath/);
  });
});

describe('the config file', () => {
  test('unknown keys are errors, with a suggestion when one is close', () => {
    const found = issues({
      flags: { config: file({ server: { prot: 1, port: 1 }, htp: {}, database: { url: 'x' } }) },
    });
    assert.deepEqual(found, [
      'config file server.prot: unknown key (did you mean server.port?)',
      'config file htp: unknown key (did you mean http?)',
      'config file database: unknown key',
    ]);
  });

  test('a section must be an object; the document must be an object', () => {
    assert.deepEqual(issues({ flags: { config: file({ server: 3 }) } }), [
      'config file server: must be an object',
    ]);
    const path = file([1, 2]);
    assert.deepEqual(issues({ flags: { config: path } }), [
      `config file ${path}: must contain a JSON object`,
    ]);
  });

  test('"$schema" is allowed (editor support)', () => {
    assert.equal(
      load({ flags: { config: file({ $schema: './schema.json', server: { port: 1 } }) } }).server.port,
      1,
    );
  });

  test('invalid JSON and a missing file name the source', () => {
    const path = file('{"server": ');
    assert.match(issues({ flags: { config: path } })[0]!, new RegExp(`^config file ${path}: invalid JSON`));
    assert.match(
      issues({ flags: { config: join(dir, 'nope.json') } })[0]!,
      /^--config: cannot read .*ENOENT/,
    );
    assert.match(
      issues({ env: { KEYHOLE_CONFIG: join(dir, 'nope.json') } })[0]!,
      /^KEYHOLE_CONFIG: cannot read/,
    );
  });
});

describe('the environment', () => {
  test('an unknown KEYHOLE_* variable is a warning, with a suggestion', () => {
    const warnings: string[] = [];
    loadConfig(
      { env: { KEYHOLE_PROT: '1', KEYHOLE_ZZZZZZZZZZ: '1', OTHER: 'x' }, cwd: dir },
      { onWarning: (w) => warnings.push(w) },
    );
    assert.deepEqual(warnings, [
      'KEYHOLE_PROT: unknown Keyhole setting, ignored (did you mean KEYHOLE_PORT?)',
      'KEYHOLE_ZZZZZZZZZZ: unknown Keyhole setting, ignored',
    ]);
  });
});
