// Local user accounts: creation, password checks, password changes, disabling and removal, over the
// UserStore.
// Passwords are only ever kept as scrypt hashes (passwords.ts); every check costs the same whether
// or not the account exists, so login answers and timings do not reveal which usernames are taken.

import { randomBytes, randomUUID } from 'node:crypto';
import type { EventBus } from '../observability/events.ts';
import type { Logger } from '../observability/logger.ts';
import type { Storage, UserRecord } from '../storage/types.ts';
import { grantRevocationId } from './grants/revoke.ts';
import { burnTime, hashPassword, needsRehash, verifyPassword } from './passwords.ts';

/** Letters, digits and `._@-`, starting with a letter or digit: safe in logs, URLs and the CLI. */
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** NIST SP 800-63B §5.1.1.2: at least 8 characters; a generous maximum bounds the hashing input. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export type UserErrorCode = 'invalid_username' | 'invalid_password' | 'exists' | 'not_found';

export class UserError extends Error {
  readonly code: UserErrorCode;
  constructor(code: UserErrorCode, message: string) {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

/** Why a username is not acceptable, or undefined when it is. */
export function usernameProblem(username: string): string | undefined {
  return USERNAME.test(username)
    ? undefined
    : 'a username is 1-64 characters: letters, digits and . _ @ -, starting with a letter or digit';
}

/** Why a password is not acceptable, or undefined when it is. */
export function passwordProblem(password: string): string | undefined {
  const length = [...password.normalize('NFKC')].length;
  if (length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `a password has at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

export interface UserOptions {
  events?: EventBus;
  now?: () => number;
}

export async function createUser(
  storage: Storage,
  username: string,
  password: string,
  options: UserOptions = {},
): Promise<UserRecord> {
  const nameProblem = usernameProblem(username);
  if (nameProblem) throw new UserError('invalid_username', nameProblem);
  const passProblem = passwordProblem(password);
  if (passProblem) throw new UserError('invalid_password', passProblem);
  if (await storage.users.getByUsername(username)) {
    throw new UserError('exists', `user "${username}" already exists`);
  }
  const user: UserRecord = {
    id: randomUUID(),
    username,
    passwordHash: await hashPassword(password),
    createdAt: (options.now ?? Date.now)(),
  };
  try {
    await storage.users.create(user);
  } catch (err) {
    // Lost a race with another creation of the same name: the store's uniqueness decides.
    if (await storage.users.getByUsername(username)) {
      throw new UserError('exists', `user "${username}" already exists`);
    }
    throw err;
  }
  options.events?.emit('user.created', { userId: user.id, username }, user.createdAt);
  return user;
}

export type VerifyResult =
  | { ok: true; user: UserRecord }
  | { ok: false; reason: 'unknown_user' | 'bad_password' | 'disabled' };

/** Checks a login. The reason is for the audit trail only; the person sees one generic message. */
export async function verifyUser(
  storage: Storage,
  username: string,
  password: string,
): Promise<VerifyResult> {
  const user = usernameProblem(username) ? undefined : await storage.users.getByUsername(username);
  if (!user) {
    await burnTime(password);
    return { ok: false, reason: 'unknown_user' };
  }
  if (!(await verifyPassword(password, user.passwordHash))) return { ok: false, reason: 'bad_password' };
  // Checked after the password so a disabled account is not revealed to someone without it.
  if (user.disabled) return { ok: false, reason: 'disabled' };
  if (needsRehash(user.passwordHash)) {
    const passwordHash = await hashPassword(password);
    if (await storage.users.setPassword(user.id, passwordHash))
      return { ok: true, user: { ...user, passwordHash } };
  }
  return { ok: true, user };
}

export async function setUserPassword(
  storage: Storage,
  username: string,
  password: string,
): Promise<UserRecord> {
  const passProblem = passwordProblem(password);
  if (passProblem) throw new UserError('invalid_password', passProblem);
  const user = await storage.users.getByUsername(username);
  if (!user) throw new UserError('not_found', `no user "${username}"`);
  const passwordHash = await hashPassword(password);
  // A new hash also ends every browser session of the user (browser-session.ts binds sessions to it).
  if (!(await storage.users.setPassword(user.id, passwordHash))) {
    throw new UserError('not_found', `no user "${username}"`);
  }
  return { ...user, passwordHash };
}

export interface DeleteOptions extends UserOptions {
  /**
   * How long the `grant:<id>` revocations are kept: the access-token lifetime plus the guard's clock
   * leeway, so every access token minted before the deletion has expired by then.
   */
  revocationTtlSec: number;
}

/** disableUser's options: those of deleteUser (the same revocations). */
export type DisableOptions = DeleteOptions;

/**
 * Revokes every live grant of the user: its refresh-token family at once, the access tokens minted
 * from it through the `grant:<id>` revocation every guard reads (kept until they would have expired
 * anyway; with a change feed, on every replica within a second). Per grant, the revocation entry goes
 * first and the grant record second, as in revokeGrant (grants/revoke.ts): if storage fails between
 * the two, the grant still lists as live, so running the command again completes it. Returns how
 * many grants were live.
 */
async function revokeUserGrants(
  storage: Storage,
  userId: string,
  reason: 'user_deleted' | 'user_disabled',
  options: DeleteOptions,
  now: number,
): Promise<number> {
  let grantsRevoked = 0;
  for (const grant of await storage.grants.listBySubject(userId, now)) {
    // Revoked earlier: its entry was written then (revokeGrant, or a previous run of this loop).
    if (grant.revokedAt !== undefined) continue;
    await storage.revocations.revoke(grantRevocationId(grant.id), now + options.revocationTtlSec * 1000);
    if (!(await storage.grants.revoke(grant.id, reason, now))) continue;
    grantsRevoked++;
    // This process's guard (if any) learns it at once; other processes through the change feed.
    options.events?.emit(
      'token.revoked',
      { clientId: grant.clientId, what: 'grant', id: grant.id, reason },
      now,
    );
  }
  return grantsRevoked;
}

/**
 * Removes the user and revokes every grant issued to them (refresh-token families at once; access
 * tokens through `grant:<id>` revocations until they would have expired anyway).
 */
export async function deleteUser(
  storage: Storage,
  username: string,
  options: DeleteOptions,
): Promise<{ user: UserRecord; grantsRevoked: number }> {
  const user = await storage.users.getByUsername(username);
  if (!user) throw new UserError('not_found', `no user "${username}"`);
  const now = (options.now ?? Date.now)();
  const grantsRevoked = await revokeUserGrants(storage, user.id, 'user_deleted', options, now);
  if (!(await storage.users.delete(user.id))) throw new UserError('not_found', `no user "${username}"`);
  options.events?.emit('user.deleted', { userId: user.id }, now);
  return { user, grantsRevoked };
}

export interface DisableResult {
  user: UserRecord;
  /** False when the account already was disabled (nothing was emitted for the account itself). */
  changed: boolean;
  /** Grants that were live and are now revoked: none on a repeat, unless a previous run was cut short. */
  grantsRevoked: number;
}

/**
 * Disables the account: sign-in (verifyUser), token issuance (grants/issue.ts) and the user's browser
 * sessions (browser-session.ts) refuse it from now on, and every grant issued to the user is revoked
 * as by deleteUser, so refresh tokens die and access tokens already issued are refused by the guards.
 * The flag is set before the grants are listed, so a sign-in, code exchange or refresh that checks the
 * account after that point gets nothing (a code exchange already past its check when the flag is set
 * can still store a grant after the listing: the same narrow window deleteUser has). Idempotent: on a
 * disabled account it only revokes grants still live (those a run cut short by a storage failure left).
 * Emits `user.disabled` when the flag changes.
 */
export async function disableUser(
  storage: Storage,
  username: string,
  options: DisableOptions,
): Promise<DisableResult> {
  const user = await storage.users.getByUsername(username);
  if (!user) throw new UserError('not_found', `no user "${username}"`);
  const now = (options.now ?? Date.now)();
  const changed = user.disabled !== true;
  if (changed) {
    if (!(await storage.users.setDisabled(user.id, true)))
      throw new UserError('not_found', `no user "${username}"`);
    // Emitted before the grants' `token.revoked` events, in the order things happened.
    options.events?.emit('user.disabled', { userId: user.id, username: user.username }, now);
  }
  const grantsRevoked = await revokeUserGrants(storage, user.id, 'user_disabled', options, now);
  return { user: { ...user, disabled: true }, changed, grantsRevoked };
}

/**
 * Lets a disabled account sign in again. Grants revoked by disableUser stay revoked (the user signs
 * in and consents again). Idempotent: `changed` is false, and nothing is emitted, if it was enabled.
 */
export async function enableUser(
  storage: Storage,
  username: string,
  options: UserOptions = {},
): Promise<{ user: UserRecord; changed: boolean }> {
  const user = await storage.users.getByUsername(username);
  if (!user) throw new UserError('not_found', `no user "${username}"`);
  if (user.disabled !== true) return { user, changed: false };
  if (!(await storage.users.setDisabled(user.id, false)))
    throw new UserError('not_found', `no user "${username}"`);
  options.events?.emit(
    'user.enabled',
    { userId: user.id, username: user.username },
    (options.now ?? Date.now)(),
  );
  return { user: { ...user, disabled: false }, changed: true };
}

export const DEV_USERNAME = 'dev';

/** A password a person can copy from a terminal: 128 bits, URL-safe characters. */
export function randomPassword(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * For `keyhole serve --dev`: makes sure user `dev` exists with a fresh random password and returns
 * the credentials to print. An existing `dev` gets a new password, so what is printed always works
 * (and browser sessions from the previous run end with the old hash).
 */
export async function ensureDevUser(
  storage: Storage,
  logger: Logger,
): Promise<{ username: string; password: string; created: boolean }> {
  const password = randomPassword();
  const existing = await storage.users.getByUsername(DEV_USERNAME);
  if (existing) {
    await setUserPassword(storage, DEV_USERNAME, password);
    logger.info('development user password reset', { username: DEV_USERNAME });
    return { username: DEV_USERNAME, password, created: false };
  }
  await createUser(storage, DEV_USERNAME, password);
  logger.info('development user created', { username: DEV_USERNAME });
  return { username: DEV_USERNAME, password, created: true };
}
