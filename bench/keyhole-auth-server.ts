// Keyhole with authorization on: the bench's `echo` tool behind the real resource-server guard, wired
// the way `keyhole serve` does it in oauth mode (src/app/auth.ts) with the default settings: SQLite
// storage in a temporary data directory, ES256 signing keys (imported once by the KeyManager), the
// guard on every MCP endpoint with its verified-token and revocation caches, and the tool requiring a
// scope, so every loaded request also passes the per-tool scope check.
//
// The runner gets its access tokens over the IPC channel (bench/lib/auth-protocol.ts): {op: 'token'}
// mints one with issueAccessToken, {op: 'revoke', jti} revokes one as the revocation endpoint does.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueAccessToken } from '../src/authserver/access-token.ts';
import { KeyManager } from '../src/authserver/keys.ts';
import { DEFAULTS } from '../src/config/defaults.ts';
import { createGuard, type ResourceGuard } from '../src/guard/guard.ts';
import { EventBus } from '../src/observability/events.ts';
import { Engine } from '../src/protocol/engine.ts';
import { openStorage } from '../src/storage/open.ts';
import { createHttpApp } from '../src/transport/http/app.ts';
import { announce, benchPort, exitWithParent } from './lib/announce.ts';
import {
  ECHO_SCOPE,
  type RevokeAsk,
  type RevokeReply,
  type TokenAsk,
  type TokenReply,
} from './lib/auth-protocol.ts';
import { echoServer } from './lib/echo.ts';

const { accessTokenTtlSec, keyRotationOverlapSec, signingAlg } = DEFAULTS.auth;
const CLIENT_ID = 'keyhole-bench-client';
/** Revocations of other tokens, so the revocation check on every request has entries to look through. */
const UNRELATED_REVOCATIONS = 100;

const dataDir = mkdtempSync(join(tmpdir(), 'keyhole-bench-auth-'));
const storage = await openStorage({ kind: 'sqlite', path: join(dataDir, 'keyhole.db') });
const events = new EventBus();
const keys = await KeyManager.open(storage.keys, {
  alg: signingAlg,
  dataDir,
  overlapSec: keyRotationOverlapSec,
  events,
});
const until = Date.now() + accessTokenTtlSec * 1000;
for (let i = 0; i < UNRELATED_REVOCATIONS; i++) await storage.revocations.revoke(`unrelated-${i}`, until);

const engine = new Engine(echoServer([ECHO_SCOPE]));
// The resource identifier is the endpoint URL, known once the port is: the guard is built after
// listen(), and nothing reaches it before the announce line.
let resourceGuard: ResourceGuard | undefined;
const app = createHttpApp(engine, {
  port: benchPort(),
  guard: (req, ctx) => resourceGuard!.guard(req, ctx),
  challenge: (scopes) => resourceGuard!.challenge({ scopes, error: 'insufficient_scope' }),
});
const resource = (await app.listen()).href;
const issuer = new URL(resource).origin;
resourceGuard = createGuard({
  keys,
  issuer,
  resource,
  revocations: storage.revocations,
  events,
  scopes: [ECHO_SCOPE],
  maxTokenTtlSec: accessTokenTtlSec,
});
await resourceGuard.ready();

let grants = 0;
async function answer(m: TokenAsk | RevokeAsk): Promise<TokenReply | RevokeReply> {
  if (m.op === 'token') {
    const issued = await issueAccessToken({
      keys,
      issuer,
      subject: 'keyhole-bench-user',
      clientId: CLIENT_ID,
      scopes: m.scopes ?? [ECHO_SCOPE],
      resource,
      grantId: `bench-grant-${++grants}`,
      ttlSec: accessTokenTtlSec,
    });
    return { op: 'token', token: issued.token, jti: issued.jti };
  }
  // As src/authserver/endpoints/revoke.ts revokes an access token: storage first, then the event.
  await storage.revocations.revoke(m.jti, Date.now() + accessTokenTtlSec * 1000);
  events.emit('token.revoked', { clientId: CLIENT_ID, what: 'access_token', id: m.jti, reason: 'bench' });
  return { op: 'revoke' };
}

process.on('message', (m: TokenAsk | RevokeAsk) => {
  if (m?.op !== 'token' && m?.op !== 'revoke') return;
  answer(m).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ op: m.op, error: err instanceof Error ? err.message : String(err) }),
  );
});

announce(app.address());

exitWithParent(() => {
  resourceGuard?.close();
  keys.close();
  engine.close();
  void app.close();
  void storage.close();
  rmSync(dataDir, { recursive: true, force: true });
});
