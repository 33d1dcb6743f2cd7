// A whole Keyhole as `keyhole serve` runs it in oauth mode (createKeyhole: authorization server, guard,
// rate limiter, audit trail), serving the bench's `echo` tool behind the scope `bench:echo`, for the
// token-endpoint and replicas suites. The configuration is loaded as the CLI loads it, from the KEYHOLE_*
// variables the runner sets, so the storage is what `keyhole serve` would open: SQLite in a temporary
// data directory by default; PostgreSQL + Redis (codes, revocations, change feed, rate-limit counters)
// with KEYHOLE_DATABASE_URL and KEYHOLE_REDIS_URL (+ KEYHOLE_REDIS_PREFIX). Several processes given the
// same database, prefix, KEYHOLE_KEY_SECRET and KEYHOLE_PUBLIC_URL are replicas of one deployment.
//
// IPC (bench/lib/oauth-protocol.ts): {op: 'info'} → issuer and resource; {op: 'codes'} mints a pool of
// authorization codes as the authorization endpoint does, so the runner can load /token with fresh codes
// without driving the login and consent pages in the timed window.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyhole } from '../src/app/keyhole.ts';
import { s256Challenge } from '../src/authserver/pkce.ts';
import { hashSecret, randomSecret } from '../src/authserver/secrets.ts';
import { createUser } from '../src/authserver/users.ts';
import { loadConfig } from '../src/config/load.ts';
import { announce, benchPort, exitWithParent, HOST } from './lib/announce.ts';
import { ECHO_SCOPE } from './lib/auth-protocol.ts';
import { echoServer } from './lib/echo.ts';
import type { CodesAsk, CodesReply, InfoAsk, InfoReply } from './lib/oauth-protocol.ts';

const BENCH_USERNAME = 'keyhole-bench-user';

const dataDir = mkdtempSync(join(tmpdir(), 'keyhole-bench-oauth-'));

const config = loadConfig({
  flags: { host: HOST, port: String(benchPort()), 'data-dir': dataDir },
  env: process.env,
  cwd: dataDir,
});
const keyhole = await createKeyhole(config, { server: echoServer([ECHO_SCOPE]) });
await keyhole.listen();
const auth = keyhole.auth;
const context = auth?.context;
if (!auth || !context) throw new Error('the authorization server is off (KEYHOLE_AUTH=none?)');
const { storage } = auth;

// Replicas share the users table: the first one creates the user, the others find it.
const user =
  (await storage.users.getByUsername(BENCH_USERNAME)) ??
  (await createUser(storage, BENCH_USERNAME, randomSecret()).catch(async (err: unknown) => {
    const raced = await storage.users.getByUsername(BENCH_USERNAME);
    if (raced) return raced;
    throw err;
  }));

async function mintCodes(m: CodesAsk): Promise<CodesReply> {
  if (!context) throw new Error('not started');
  const codes: { code: string; verifier: string }[] = [];
  const now = Date.now();
  // As respondWithCode stores a code once the user approved (RFC 6749 §4.1.2, RFC 7636 §4.4).
  const put = async () => {
    const code = randomSecret();
    const verifier = randomSecret();
    await storage.codes.put({
      codeHash: hashSecret(code),
      clientId: m.clientId,
      userId: user.id,
      redirectUri: m.redirectUri,
      scopes: [ECHO_SCOPE],
      resource: context.config.resource,
      codeChallenge: s256Challenge(verifier),
      codeChallengeMethod: 'S256',
      authTime: now,
      expiresAt: now + context.config.codeTtlSec * 1000,
    });
    codes.push({ code, verifier });
  };
  // A few hundred writes in flight: quick on Redis and on PostgreSQL, harmless on SQLite.
  for (let done = 0; done < m.count; ) {
    const batch = Math.min(200, m.count - done);
    await Promise.all(Array.from({ length: batch }, put));
    done += batch;
  }
  return { op: 'codes', codes };
}

process.on('message', (m: InfoAsk | CodesAsk) => {
  if (m?.op !== 'info' && m?.op !== 'codes') return;
  const reply: Promise<InfoReply | CodesReply> =
    m.op === 'info'
      ? Promise.resolve({ op: 'info', issuer: context.config.issuer, resource: context.config.resource })
      : mintCodes(m);
  reply.then(
    (r) => process.send?.(r),
    (err: unknown) => process.send?.({ op: m.op, error: err instanceof Error ? err.message : String(err) }),
  );
});

announce(keyhole.http.address());

exitWithParent(() => {
  void keyhole.close();
  rmSync(dataDir, { recursive: true, force: true });
});
