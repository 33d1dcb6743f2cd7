// The storage contract suite (STYLE 10): every adapter runs exactly this, so the authorization server
// can rely on the semantics documented in src/storage/types.ts whatever the backend. Time is passed
// explicitly (`now`); nothing sleeps. Each test gets a fresh, empty storage.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { StorageConflictError } from '../../src/storage/errors.ts';
import type {
  AuthorizationCodeRecord,
  ClientRecord,
  GrantRecord,
  RefreshTokenRecord,
  SigningKeyRecord,
  Storage,
  UserRecord,
} from '../../src/storage/types.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

export function storageContract(name: string, open: () => Promise<Storage>): void {
  describe(`storage contract: ${name}`, () => {
    let s: Storage;
    // Realistic times, so an adapter's default clock (Date.now) agrees with the explicit ones.
    let T: number;

    beforeEach(async () => {
      T = Date.now();
      s = await open();
    });
    afterEach(async () => {
      await s.close();
    });

    const client = (over: Partial<ClientRecord> = {}): ClientRecord => ({
      clientId: 'client-1',
      secretHash: 'c2VjcmV0LWhhc2g',
      secretExpiresAt: 0,
      source: 'dynamic',
      redirectUris: ['https://app.example/cb', 'http://127.0.0.1/cb'],
      grantTypes: ['authorization_code', 'refresh_token'],
      responseTypes: ['code'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      scope: 'read write',
      clientName: 'App',
      metadata: { logo_uri: 'https://app.example/logo.png', contacts: ['a@app.example'], nested: { n: 1 } },
      createdAt: T,
      ...over,
    });
    const user = (over: Partial<UserRecord> = {}): UserRecord => ({
      id: 'user-1',
      username: 'alice',
      passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
      createdAt: T,
      ...over,
    });
    const code = (over: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord => ({
      codeHash: 'code-hash-1',
      clientId: 'client-1',
      userId: 'user-1',
      redirectUri: 'https://app.example/cb',
      scopes: ['read', 'write'],
      resource: 'http://127.0.0.1:3000/mcp',
      codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      codeChallengeMethod: 'S256',
      authTime: T,
      expiresAt: T + MIN,
      ...over,
    });
    const grant = (over: Partial<GrantRecord> = {}): GrantRecord => ({
      id: 'grant-1',
      clientId: 'client-1',
      subject: 'user-1',
      scopes: ['read'],
      resource: 'http://127.0.0.1:3000/mcp',
      authTime: T,
      createdAt: T,
      expiresAt: T + 24 * HOUR,
      ...over,
    });
    const refresh = (over: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
      tokenHash: 'rt-1',
      grantId: 'grant-1',
      createdAt: T,
      expiresAt: T + 12 * HOUR,
      ...over,
    });
    const key = (over: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
      kid: 'kid-1',
      alg: 'ES256',
      privateJwkEncrypted: 'v1.aXY.Y2lwaGVy.dGFn',
      publicJwk: { kty: 'EC', crv: 'P-256', x: 'eA', y: 'eQ', kid: 'kid-1', alg: 'ES256', use: 'sig' },
      createdAt: T,
      status: 'active',
      ...over,
    });
    const rejectsConflict = (p: Promise<unknown>) => assert.rejects(p, StorageConflictError);

    describe('Storage', () => {
      test('kind names the adapter and ping answers', async () => {
        assert.ok(['memory', 'sqlite', 'postgres'].includes(s.kind));
        await s.ping();
      });
    });

    describe('clients', () => {
      test('create then get returns the record as given', async () => {
        await s.clients.create(client());
        assert.deepEqual(await s.clients.get('client-1'), client());
      });

      test('optional fields stay absent for a public client', async () => {
        const pub = client({ tokenEndpointAuthMethod: 'none', source: 'cimd' });
        delete pub.secretHash;
        delete pub.secretExpiresAt;
        delete pub.scope;
        delete pub.clientName;
        await s.clients.create(pub);
        const got = await s.clients.get('client-1');
        assert.deepEqual(got, pub);
        assert.equal(Object.hasOwn(got!, 'secretHash'), false);
      });

      test('unknown client is undefined', async () => {
        assert.equal(await s.clients.get('nope'), undefined);
      });

      test('duplicate client id is rejected and the original kept', async () => {
        await s.clients.create(client());
        await rejectsConflict(
          s.clients.create(client({ clientName: 'Impostor', redirectUris: ['https://evil/'] })),
        );
        assert.deepEqual(await s.clients.get('client-1'), client());
        assert.equal((await s.clients.list()).length, 1);
      });

      test('list is oldest first', async () => {
        await s.clients.create(client({ clientId: 'b', createdAt: T + 2 }));
        await s.clients.create(client({ clientId: 'a', createdAt: T + 1 }));
        await s.clients.create(client({ clientId: 'c', createdAt: T + 1 }));
        assert.deepEqual(
          (await s.clients.list()).map((c) => c.clientId),
          ['a', 'c', 'b'],
        );
      });

      test('delete removes the client and its consents, once', async () => {
        await s.clients.create(client());
        await s.clients.create(client({ clientId: 'client-2' }));
        await s.consents.put({
          userId: 'u',
          clientId: 'client-1',
          redirectUri: 'r',
          scopes: ['a'],
          grantedAt: T,
        });
        await s.consents.put({
          userId: 'u',
          clientId: 'client-2',
          redirectUri: 'r',
          scopes: ['a'],
          grantedAt: T,
        });
        assert.equal(await s.clients.delete('client-1'), true);
        assert.equal(await s.clients.delete('client-1'), false);
        assert.equal(await s.clients.get('client-1'), undefined);
        assert.equal(await s.consents.get('u', 'client-1', 'r'), undefined);
        assert.ok(await s.consents.get('u', 'client-2', 'r'));
        assert.deepEqual(
          (await s.clients.list()).map((c) => c.clientId),
          ['client-2'],
        );
      });

      test('returned records are copies', async () => {
        await s.clients.create(client());
        const got = (await s.clients.get('client-1'))!;
        got.redirectUris.push('https://evil/');
        (got.metadata.nested as { n: number }).n = 2;
        assert.deepEqual(await s.clients.get('client-1'), client());
      });
    });

    describe('users', () => {
      test('create, get by id and by username', async () => {
        await s.users.create(user());
        assert.deepEqual(await s.users.get('user-1'), user());
        assert.deepEqual(await s.users.getByUsername('alice'), user());
        assert.equal(await s.users.getByUsername('Alice'), undefined, 'usernames match exactly');
        assert.equal(await s.users.get('nope'), undefined);
        assert.equal(await s.users.getByUsername('nope'), undefined);
      });

      test('disabled round-trips', async () => {
        await s.users.create(user({ id: 'd', username: 'dis', disabled: true }));
        await s.users.create(user({ id: 'e', username: 'ena', disabled: false }));
        assert.equal((await s.users.get('d'))?.disabled, true);
        assert.equal((await s.users.get('e'))?.disabled, false);
        await s.users.create(user());
        assert.equal(Object.hasOwn((await s.users.get('user-1'))!, 'disabled'), false);
      });

      test('duplicate id or username is rejected', async () => {
        await s.users.create(user());
        await rejectsConflict(s.users.create(user({ username: 'bob' })));
        await rejectsConflict(s.users.create(user({ id: 'user-2' })));
        assert.deepEqual(
          (await s.users.list()).map((u) => u.username),
          ['alice'],
        );
        assert.equal(await s.users.get('user-2'), undefined);
        assert.equal(await s.users.getByUsername('bob'), undefined);
      });

      test('setPassword replaces the hash; false for unknown users', async () => {
        await s.users.create(user());
        assert.equal(await s.users.setPassword('user-1', 'scrypt$new'), true);
        assert.equal((await s.users.getByUsername('alice'))?.passwordHash, 'scrypt$new');
        assert.equal(await s.users.setPassword('nope', 'scrypt$x'), false);
        assert.equal(await s.users.get('nope'), undefined);
      });

      test('delete removes the user, frees the username and drops their consents', async () => {
        await s.users.create(user());
        await s.consents.put({ userId: 'user-1', clientId: 'c', redirectUri: 'r', scopes: [], grantedAt: T });
        await s.consents.put({ userId: 'user-2', clientId: 'c', redirectUri: 'r', scopes: [], grantedAt: T });
        assert.equal(await s.users.delete('user-1'), true);
        assert.equal(await s.users.delete('user-1'), false);
        assert.equal(await s.users.getByUsername('alice'), undefined);
        assert.equal(await s.consents.get('user-1', 'c', 'r'), undefined);
        assert.ok(await s.consents.get('user-2', 'c', 'r'));
        await s.users.create(user({ id: 'user-3' }));
        assert.equal((await s.users.getByUsername('alice'))?.id, 'user-3');
      });

      test('list is oldest first', async () => {
        await s.users.create(user({ id: '1', username: 'zed', createdAt: T + 5 }));
        await s.users.create(user({ id: '2', username: 'amy', createdAt: T + 9 }));
        await s.users.create(user({ id: '3', username: 'bob', createdAt: T + 5 }));
        assert.deepEqual(
          (await s.users.list()).map((u) => u.username),
          ['bob', 'zed', 'amy'],
        );
      });
    });

    describe('users: setDisabled', () => {
      test('sets and clears the flag, idempotently; the rest of the record is untouched', async () => {
        await s.users.create(user());
        await s.users.create(user({ id: 'user-2', username: 'bob' }));
        assert.equal(await s.users.setDisabled('user-1', true), true);
        assert.deepEqual(await s.users.get('user-1'), user({ disabled: true }));
        assert.deepEqual(await s.users.getByUsername('alice'), user({ disabled: true }));
        assert.equal(await s.users.setDisabled('user-1', true), true, 'disabling again is fine');
        assert.equal((await s.users.get('user-1'))?.disabled, true);
        assert.deepEqual(
          (await s.users.list()).map((u) => [u.username, u.disabled]),
          [
            ['alice', true],
            ['bob', undefined],
          ],
        );
        assert.equal(await s.users.setDisabled('user-1', false), true);
        assert.deepEqual(await s.users.get('user-1'), user({ disabled: false }));
        assert.equal(await s.users.setDisabled('user-1', false), true);
        assert.equal(Object.hasOwn((await s.users.get('user-2'))!, 'disabled'), false, 'bob untouched');
      });

      test('false for an unknown user, and nothing is created', async () => {
        assert.equal(await s.users.setDisabled('nope', true), false);
        assert.equal(await s.users.get('nope'), undefined);
        assert.deepEqual(await s.users.list(), []);
        await s.users.create(user());
        await s.users.delete('user-1');
        assert.equal(await s.users.setDisabled('user-1', true), false, 'a deleted user is unknown');
      });

      test('the returned record is a copy', async () => {
        await s.users.create(user());
        await s.users.setDisabled('user-1', true);
        const got = (await s.users.get('user-1'))!;
        got.disabled = false;
        assert.equal((await s.users.get('user-1'))?.disabled, true);
      });
    });

    describe('consents', () => {
      const consent = { userId: 'u', clientId: 'c', redirectUri: 'https://app.example/cb', scopes: ['read'] };

      test('put then get; unknown is undefined', async () => {
        await s.consents.put({ ...consent, grantedAt: T });
        assert.deepEqual(await s.consents.get('u', 'c', 'https://app.example/cb'), {
          ...consent,
          grantedAt: T,
        });
        assert.equal(await s.consents.get('u', 'c', 'https://other.example/cb'), undefined);
        assert.equal(await s.consents.get('v', 'c', 'https://app.example/cb'), undefined);
      });

      test('put replaces the same user, client and redirect URI', async () => {
        await s.consents.put({ ...consent, grantedAt: T });
        await s.consents.put({ ...consent, scopes: ['read', 'write'], grantedAt: T + 1 });
        assert.deepEqual(await s.consents.get('u', 'c', consent.redirectUri), {
          ...consent,
          scopes: ['read', 'write'],
          grantedAt: T + 1,
        });
      });

      test('revoke removes every redirect URI of that client only, and counts them', async () => {
        await s.consents.put({ ...consent, grantedAt: T });
        await s.consents.put({ ...consent, redirectUri: 'http://127.0.0.1/cb', grantedAt: T });
        await s.consents.put({ ...consent, clientId: 'other', grantedAt: T });
        await s.consents.put({ ...consent, userId: 'v', grantedAt: T });
        assert.equal(await s.consents.revoke('u', 'c'), 2);
        assert.equal(await s.consents.get('u', 'c', consent.redirectUri), undefined);
        assert.equal(await s.consents.get('u', 'c', 'http://127.0.0.1/cb'), undefined);
        assert.ok(await s.consents.get('u', 'other', consent.redirectUri));
        assert.ok(await s.consents.get('v', 'c', consent.redirectUri));
        assert.equal(await s.consents.revoke('u', 'c'), 0);
      });
    });

    describe('authorization codes', () => {
      test('consume: ok once, then replayed until expiry, then missing', async () => {
        await s.codes.put(code());
        assert.deepEqual(await s.codes.consume('code-hash-1', T + 1), { status: 'ok', record: code() });
        assert.deepEqual(await s.codes.consume('code-hash-1', T + 2), { status: 'replayed', record: code() });
        assert.deepEqual(await s.codes.consume('code-hash-1', T + MIN - 1), {
          status: 'replayed',
          record: code(),
        });
        assert.deepEqual(await s.codes.consume('code-hash-1', T + MIN), { status: 'missing' });
      });

      test('unknown code is missing', async () => {
        assert.deepEqual(await s.codes.consume('nope', T), { status: 'missing' });
      });

      test('a code expired before its first use is missing, and stays missing', async () => {
        await s.codes.put(code());
        assert.deepEqual(await s.codes.consume('code-hash-1', T + MIN), { status: 'missing' });
        assert.deepEqual(await s.codes.consume('code-hash-1', T + MIN + 1), { status: 'missing' });
      });

      test('markRedeemed: the replay carries the grant id', async () => {
        await s.codes.put(code());
        assert.equal((await s.codes.consume('code-hash-1', T + 1)).status, 'ok');
        await s.codes.markRedeemed('code-hash-1', 'grant-9');
        assert.deepEqual(await s.codes.consume('code-hash-1', T + 2), {
          status: 'replayed',
          record: code({ grantId: 'grant-9' }),
        });
        await s.codes.markRedeemed('nope', 'grant-9'); // no-op, no throw
        assert.deepEqual(await s.codes.consume('nope', T + 2), { status: 'missing' });
      });

      test('plain method and codes are independent', async () => {
        await s.codes.put(code({ codeChallengeMethod: 'plain', codeChallenge: 'verifier' }));
        await s.codes.put(code({ codeHash: 'code-hash-2' }));
        const first = await s.codes.consume('code-hash-1', T + 1);
        assert.equal(first.status, 'ok');
        assert.equal(first.status === 'ok' && first.record.codeChallengeMethod, 'plain');
        assert.equal((await s.codes.consume('code-hash-2', T + 1)).status, 'ok');
      });

      test('duplicate code hash is rejected and the original kept', async () => {
        await s.codes.put(code());
        await rejectsConflict(s.codes.put(code({ clientId: 'other' })));
        assert.deepEqual(await s.codes.consume('code-hash-1', T + 1), { status: 'ok', record: code() });
      });

      test('50 concurrent consumers: exactly one ok, the rest replayed', async () => {
        await s.codes.put(code());
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => s.codes.consume('code-hash-1', T + 1 + i)),
        );
        assert.equal(results.filter((r) => r.status === 'ok').length, 1);
        assert.equal(results.filter((r) => r.status === 'replayed').length, 49);
      });

      test('purging expired codes never touches live ones', async () => {
        for (let i = 0; i < 20; i++) await s.codes.put(code({ codeHash: `old-${i}`, expiresAt: T + 10 }));
        await s.codes.put(code({ codeHash: 'live', expiresAt: T + HOUR }));
        assert.equal((await s.codes.consume('live', T + MIN)).status, 'ok');
        assert.equal((await s.codes.consume('old-3', T + MIN)).status, 'missing');
        assert.equal((await s.codes.consume('live', T + 2 * MIN)).status, 'replayed');
      });
    });

    describe('grants and refresh tokens', () => {
      test('create with a first refresh token; get and findRefresh', async () => {
        await s.grants.create(grant(), refresh());
        assert.deepEqual(await s.grants.get('grant-1', T), grant());
        assert.deepEqual(await s.grants.findRefresh('rt-1', T), { token: refresh(), grant: grant() });
        assert.equal(await s.grants.get('nope', T), undefined);
        assert.equal(await s.grants.findRefresh('nope', T), undefined);
      });

      test('create without a refresh token (client_credentials)', async () => {
        await s.grants.create(grant({ id: 'cc', subject: 'client-1' }));
        assert.deepEqual(await s.grants.get('cc', T), grant({ id: 'cc', subject: 'client-1' }));
      });

      test('duplicate grant id is rejected and nothing is stored', async () => {
        await s.grants.create(grant(), refresh());
        await rejectsConflict(s.grants.create(grant({ subject: 'mallory' }), refresh({ tokenHash: 'rt-2' })));
        assert.deepEqual(await s.grants.get('grant-1', T), grant());
        assert.equal(await s.grants.findRefresh('rt-2', T), undefined);
      });

      test('duplicate refresh hash is rejected and the grant is not created', async () => {
        await s.grants.create(grant(), refresh());
        await rejectsConflict(s.grants.create(grant({ id: 'grant-2' }), refresh({ grantId: 'grant-2' })));
        assert.equal(await s.grants.get('grant-2', T), undefined);
        assert.deepEqual(await s.grants.findRefresh('rt-1', T), { token: refresh(), grant: grant() });
      });

      test('a first refresh token of another grant is rejected', async () => {
        await assert.rejects(s.grants.create(grant(), refresh({ grantId: 'grant-x' })));
        assert.equal(await s.grants.get('grant-1', T), undefined);
        assert.equal(await s.grants.findRefresh('rt-1', T), undefined);
      });

      test('expired grants and tokens are absent', async () => {
        await s.grants.create(grant({ expiresAt: T + HOUR }), refresh({ expiresAt: T + MIN }));
        assert.equal(await s.grants.findRefresh('rt-1', T + MIN), undefined, 'token expired');
        assert.ok(await s.grants.get('grant-1', T + MIN));
        assert.equal(await s.grants.get('grant-1', T + HOUR), undefined, 'grant expired');
        await s.grants.create(
          grant({ id: 'g2', expiresAt: T + MIN }),
          refresh({ tokenHash: 'rt-2', grantId: 'g2' }),
        );
        assert.equal(
          await s.grants.findRefresh('rt-2', T + MIN),
          undefined,
          'grant expired before its token',
        );
      });

      test('without now, reads use the adapter clock', async () => {
        await s.grants.create(grant({ id: 'past', expiresAt: T - 1, createdAt: T - HOUR }));
        await s.grants.create(grant({ id: 'live', expiresAt: T + HOUR }), refresh({ grantId: 'live' }));
        assert.equal(await s.grants.get('past'), undefined);
        assert.ok(await s.grants.get('live'));
        assert.ok(await s.grants.findRefresh('rt-1'));
        assert.deepEqual(
          (await s.grants.listBySubject('user-1')).map((g) => g.id),
          ['live'],
        );
      });

      test('rotate: ok, the old token is marked, the new one is current', async () => {
        await s.grants.create(grant(), refresh());
        const next = refresh({ tokenHash: 'rt-2', createdAt: T + MIN });
        assert.deepEqual(await s.grants.rotate('rt-1', next, T + MIN), { status: 'ok', grant: grant() });
        assert.deepEqual(await s.grants.findRefresh('rt-1', T + MIN), {
          token: refresh({ rotatedAt: T + MIN }),
          grant: grant(),
        });
        assert.deepEqual(await s.grants.findRefresh('rt-2', T + MIN), { token: next, grant: grant() });
        const third = refresh({ tokenHash: 'rt-3', createdAt: T + 2 * MIN });
        assert.equal((await s.grants.rotate('rt-2', third, T + 2 * MIN)).status, 'ok');
      });

      test('rotate of a rotated token: reused, with when it was rotated; nothing stored', async () => {
        await s.grants.create(grant(), refresh());
        await s.grants.rotate('rt-1', refresh({ tokenHash: 'rt-2' }), T + MIN);
        assert.deepEqual(await s.grants.rotate('rt-1', refresh({ tokenHash: 'rt-x' }), T + 2 * MIN), {
          status: 'reused',
          grant: grant(),
          rotatedAt: T + MIN,
        });
        assert.equal(await s.grants.findRefresh('rt-x', T + 2 * MIN), undefined);
        assert.equal((await s.grants.findRefresh('rt-2', T + 2 * MIN))?.token.rotatedAt, undefined);
      });

      test('50 concurrent rotations of one token: exactly one ok, the rest reused', async () => {
        await s.grants.create(grant(), refresh());
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            s.grants.rotate('rt-1', refresh({ tokenHash: `next-${i}` }), T + 1),
          ),
        );
        const ok = results.flatMap((r, i) => (r.status === 'ok' ? [i] : []));
        assert.equal(ok.length, 1);
        assert.equal(results.filter((r) => r.status === 'reused').length, 49);
        for (let i = 0; i < 50; i++) {
          const found = await s.grants.findRefresh(`next-${i}`, T + 1);
          assert.equal(found !== undefined, i === ok[0], `next-${i} stored only if it won`);
        }
      });

      test('rotate of unknown or expired tokens, or of an expired grant: missing', async () => {
        await s.grants.create(grant({ expiresAt: T + HOUR }), refresh({ expiresAt: T + MIN }));
        assert.deepEqual(await s.grants.rotate('nope', refresh({ tokenHash: 'a' }), T), {
          status: 'missing',
        });
        assert.deepEqual(await s.grants.rotate('rt-1', refresh({ tokenHash: 'b' }), T + MIN), {
          status: 'missing',
        });
        await s.grants.create(
          grant({ id: 'g2', expiresAt: T + MIN }),
          refresh({ tokenHash: 'rt-2', grantId: 'g2' }),
        );
        assert.deepEqual(await s.grants.rotate('rt-2', refresh({ tokenHash: 'c', grantId: 'g2' }), T + MIN), {
          status: 'missing',
        });
        for (const h of ['a', 'b', 'c']) assert.equal(await s.grants.findRefresh(h, T), undefined);
      });

      test('rotate on a revoked grant: revoked (before reused); nothing stored', async () => {
        await s.grants.create(grant(), refresh());
        await s.grants.rotate('rt-1', refresh({ tokenHash: 'rt-2' }), T + 1);
        assert.equal(await s.grants.revoke('grant-1', 'refresh_reuse', T + 2), true);
        const revoked = grant({ revokedAt: T + 2, revokedReason: 'refresh_reuse' });
        assert.deepEqual(await s.grants.rotate('rt-2', refresh({ tokenHash: 'x' }), T + 3), {
          status: 'revoked',
          grant: revoked,
        });
        assert.deepEqual(await s.grants.rotate('rt-1', refresh({ tokenHash: 'y' }), T + 3), {
          status: 'revoked',
          grant: revoked,
        });
        assert.equal(await s.grants.findRefresh('x', T + 3), undefined);
        assert.equal(await s.grants.findRefresh('y', T + 3), undefined);
      });

      test('rotate into another grant or onto an existing hash fails and changes nothing', async () => {
        await s.grants.create(grant(), refresh());
        await s.grants.create(grant({ id: 'g2' }), refresh({ tokenHash: 'rt-g2', grantId: 'g2' }));
        await assert.rejects(s.grants.rotate('rt-1', refresh({ tokenHash: 'z', grantId: 'g2' }), T + 1));
        await rejectsConflict(s.grants.rotate('rt-1', refresh({ tokenHash: 'rt-g2' }), T + 1));
        assert.equal((await s.grants.findRefresh('rt-1', T + 1))?.token.rotatedAt, undefined);
        assert.equal(await s.grants.findRefresh('z', T + 1), undefined);
        assert.equal((await s.grants.findRefresh('rt-g2', T + 1))?.token.grantId, 'g2');
        assert.equal((await s.grants.rotate('rt-1', refresh({ tokenHash: 'rt-2' }), T + 2)).status, 'ok');
      });

      test('revoke is idempotent and keeps the family findable as revoked', async () => {
        await s.grants.create(grant(), refresh());
        assert.equal(await s.grants.revoke('grant-1', 'user', T + 5), true);
        assert.equal(await s.grants.revoke('grant-1', 'again', T + 6), false);
        const revoked = grant({ revokedAt: T + 5, revokedReason: 'user' });
        assert.deepEqual(await s.grants.get('grant-1', T + 7), revoked);
        assert.deepEqual(await s.grants.findRefresh('rt-1', T + 7), { token: refresh(), grant: revoked });
        assert.equal(await s.grants.revoke('nope', 'x', T), false);
      });

      test('revoke of an expired grant: false', async () => {
        await s.grants.create(grant({ expiresAt: T + MIN }));
        assert.equal(await s.grants.revoke('grant-1', 'late', T + MIN), false);
        assert.equal(await s.grants.get('grant-1', T + MIN), undefined);
      });

      test('listBySubject: that subject only, unexpired, revoked included, oldest first', async () => {
        await s.grants.create(grant({ id: 'b', createdAt: T + 2 }));
        await s.grants.create(grant({ id: 'a', createdAt: T + 1 }));
        await s.grants.create(grant({ id: 'old', createdAt: T, expiresAt: T + MIN }));
        await s.grants.create(grant({ id: 'other', subject: 'user-2' }));
        await s.grants.revoke('b', 'user', T + 3);
        const listed = await s.grants.listBySubject('user-1', T + MIN);
        assert.deepEqual(
          listed.map((g) => [g.id, g.revokedAt]),
          [
            ['a', undefined],
            ['b', T + 3],
          ],
        );
        assert.deepEqual(await s.grants.listBySubject('nobody', T), []);
      });
    });

    describe('revocations', () => {
      test('revoked until expiry, then not; unknown ids are not revoked', async () => {
        await s.revocations.revoke('jti-1', T + MIN);
        assert.equal(await s.revocations.isRevoked('jti-1', T), true);
        assert.equal(await s.revocations.isRevoked('jti-1', T + MIN - 1), true);
        assert.equal(await s.revocations.isRevoked('jti-1', T + MIN), false);
        assert.equal(await s.revocations.isRevoked('jti-2', T), false);
      });

      test('revoking again is idempotent and keeps the later expiry', async () => {
        await s.revocations.revoke('grant:g1', T + MIN);
        await s.revocations.revoke('grant:g1', T + HOUR);
        await s.revocations.revoke('grant:g1', T + 2 * MIN);
        assert.equal(await s.revocations.isRevoked('grant:g1', T + 30 * MIN), true);
        assert.deepEqual(await s.revocations.listActive(T), [{ id: 'grant:g1', expiresAt: T + HOUR }]);
      });

      test('listActive returns exactly the unexpired ones', async () => {
        await s.revocations.revoke('a', T + MIN);
        await s.revocations.revoke('b', T + HOUR);
        await s.revocations.revoke('grant:c', T + 2 * HOUR);
        const byId = (xs: { id: string; expiresAt: number }[]) =>
          [...xs].sort((x, y) => (x.id < y.id ? -1 : 1));
        assert.deepEqual(byId(await s.revocations.listActive(T)), [
          { id: 'a', expiresAt: T + MIN },
          { id: 'b', expiresAt: T + HOUR },
          { id: 'grant:c', expiresAt: T + 2 * HOUR },
        ]);
        assert.deepEqual(byId(await s.revocations.listActive(T + MIN)), [
          { id: 'b', expiresAt: T + HOUR },
          { id: 'grant:c', expiresAt: T + 2 * HOUR },
        ]);
        assert.equal(await s.revocations.isRevoked('b', T + MIN), true);
        assert.deepEqual(await s.revocations.listActive(T + 2 * HOUR), []);
      });
    });

    describe('signing keys', () => {
      test('put then list, oldest first, all statuses', async () => {
        const hs = key({ kid: 'k-hs', alg: 'HS256', createdAt: T + 2, status: 'retired' });
        delete hs.publicJwk;
        await s.keys.put(key({ kid: 'k-new', createdAt: T + 3 }));
        await s.keys.put(hs);
        await s.keys.put(key({ kid: 'k-old', alg: 'RS256', status: 'retiring', retiresAt: T + HOUR }));
        assert.deepEqual(await s.keys.list(), [
          key({ kid: 'k-old', alg: 'RS256', status: 'retiring', retiresAt: T + HOUR }),
          hs,
          key({ kid: 'k-new', createdAt: T + 3 }),
        ]);
        assert.equal(Object.hasOwn((await s.keys.list())[1]!, 'publicJwk'), false);
      });

      test('duplicate kid is rejected and the original kept', async () => {
        await s.keys.put(key());
        await rejectsConflict(s.keys.put(key({ privateJwkEncrypted: 'other' })));
        assert.deepEqual(await s.keys.list(), [key()]);
      });

      test('update sets status and retiresAt, clears retiresAt, and reports unknown kids', async () => {
        await s.keys.put(key());
        assert.equal(await s.keys.update('kid-1', { status: 'retiring', retiresAt: T + HOUR }), true);
        assert.deepEqual(await s.keys.list(), [key({ status: 'retiring', retiresAt: T + HOUR })]);
        assert.equal(await s.keys.update('kid-1', { status: 'retired' }), true);
        assert.deepEqual(await s.keys.list(), [key({ status: 'retired', retiresAt: T + HOUR })]);
        assert.equal(await s.keys.update('kid-1', { retiresAt: undefined }), true);
        assert.deepEqual(await s.keys.list(), [key({ status: 'retired' })]);
        assert.equal(await s.keys.update('kid-1', {}), true);
        assert.deepEqual(await s.keys.list(), [key({ status: 'retired' })]);
        assert.equal(await s.keys.update('nope', { status: 'active' }), false);
        assert.equal((await s.keys.list()).length, 1);
      });
    });

    describe('audit', () => {
      test('empty store: tail is empty', async () => {
        assert.deepEqual(await s.audit.tail(10), []);
        assert.deepEqual(await s.audit.tail(10, 0), []);
      });

      test('tail(limit): the newest records, oldest first, with increasing ids', async () => {
        for (let i = 0; i < 5; i++)
          await s.audit.append(`e${i}`, { i, list: [i], nested: { ok: true } }, T + i);
        const all = await s.audit.tail(100);
        assert.deepEqual(
          all.map((r) => [r.type, r.time, r.data]),
          [0, 1, 2, 3, 4].map((i) => [`e${i}`, T + i, { i, list: [i], nested: { ok: true } }]),
        );
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.id > all[i - 1]!.id, 'ids increase');
        assert.deepEqual(
          (await s.audit.tail(2)).map((r) => r.type),
          ['e3', 'e4'],
        );
        assert.deepEqual(await s.audit.tail(0), []);
      });

      test('tail(limit, afterId): the first records after that id', async () => {
        for (let i = 0; i < 5; i++) await s.audit.append(`e${i}`, {}, T + i);
        const all = await s.audit.tail(5);
        const after = all[1]!.id;
        assert.deepEqual(
          (await s.audit.tail(10, after)).map((r) => r.type),
          ['e2', 'e3', 'e4'],
        );
        assert.deepEqual(
          (await s.audit.tail(2, after)).map((r) => r.type),
          ['e2', 'e3'],
        );
        assert.deepEqual(await s.audit.tail(10, all[4]!.id), []);
        await s.audit.append('e5', {}, T + 5);
        assert.deepEqual(
          (await s.audit.tail(10, all[4]!.id)).map((r) => r.type),
          ['e5'],
        );
      });
    });
  });
}
