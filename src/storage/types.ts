// Storage contract for the authorization server: one small interface per record kind. Every adapter
// (memory, SQLite; PostgreSQL and Redis later) implements all of them and passes the same contract
// suite (test/storage/contract.ts). Secrets are never stored: codes, refresh tokens and client secrets
// are kept as SHA-256 hashes of high-entropy values (RFC 6749 §10.3, §10.4; RFC 9700 §4.14), passwords
// as scrypt hashes. All times are epoch milliseconds. Expired records behave as absent: a record is
// expired when `expiresAt <= now`. Methods without a required `now` take an optional one and otherwise use
// the adapter's clock (`openStorage({ now })`, default Date.now). A `create`/`put` documented to fail on
// duplicates rejects with StorageConflictError (src/storage/errors.ts). Records are returned as copies.

import type { RedisConnections } from './redis/client.ts';

export interface ClientRecord {
  clientId: string;
  /** SHA-256 (base64url) of the client secret; absent for public clients. */
  secretHash?: string;
  /** RFC 7591 §3.2.1 client_secret_expires_at, epoch ms; 0 = never. */
  secretExpiresAt?: number;
  /** How the client came to be: RFC 7591 registration, configuration / CLI, or a CIMD fetch (cached). */
  source: 'dynamic' | 'static' | 'cimd';
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post';
  /** Space-separated scopes the client may request; absent = any supported scope. */
  scope?: string;
  clientName?: string;
  /** Every other registered metadata field, returned as-is by the registration response (RFC 7591 §3.2.1). */
  metadata: Record<string, unknown>;
  createdAt: number;
}

export interface ClientStore {
  get(clientId: string): Promise<ClientRecord | undefined>;
  /** Fails (rejects) if the id exists. */
  create(client: ClientRecord): Promise<void>;
  /** Also removes the client's remembered consents. */
  delete(clientId: string): Promise<boolean>;
  /** Oldest first. */
  list(): Promise<ClientRecord[]>;
}

export interface UserRecord {
  id: string;
  username: string;
  /** scrypt, in the PHC-like form `scrypt$N$r$p$salt$hash` (see authserver/passwords.ts). */
  passwordHash: string;
  createdAt: number;
  disabled?: boolean;
}

export interface UserStore {
  get(id: string): Promise<UserRecord | undefined>;
  /** Exact (case-sensitive) match. */
  getByUsername(username: string): Promise<UserRecord | undefined>;
  /** Fails if the id or the username exists. */
  create(user: UserRecord): Promise<void>;
  setPassword(id: string, passwordHash: string): Promise<boolean>;
  /**
   * Sets `disabled` (false clears it: the record then reads `disabled: false`). Idempotent; false if
   * the user is unknown. Grants are revoked by the caller (authserver/users.ts disableUser).
   */
  setDisabled(id: string, disabled: boolean): Promise<boolean>;
  /** Also removes the user's remembered consents (grants are revoked by the caller). */
  delete(id: string): Promise<boolean>;
  /** Oldest first. */
  list(): Promise<UserRecord[]>;
}

/** A remembered consent: per user, client and redirect URI (MCP 2026-07-28 security best practices "Confused Deputy"). */
export interface ConsentRecord {
  userId: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  grantedAt: number;
}

export interface ConsentStore {
  get(userId: string, clientId: string, redirectUri: string): Promise<ConsentRecord | undefined>;
  /** Inserts or replaces. */
  put(consent: ConsentRecord): Promise<void>;
  /** Removes every consent of the user for the client; returns how many. */
  revoke(userId: string, clientId: string): Promise<number>;
}

export interface AuthorizationCodeRecord {
  /** SHA-256 (base64url) of the code. */
  codeHash: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scopes: string[];
  /** RFC 8707 resource the token will be bound to. */
  resource: string;
  codeChallenge: string;
  codeChallengeMethod: 'S256' | 'plain';
  /** When the user authenticated (for auth_time / audit). */
  authTime: number;
  expiresAt: number;
  /** Set by `markRedeemed` when the code's tokens were issued: the grant they belong to. */
  grantId?: string;
}

export type ConsumeResult<T> =
  | { status: 'ok'; record: T }
  /** Consumed before: the record as it was (RFC 6749 §4.1.2 — a replay should revoke what it issued). */
  | { status: 'replayed'; record: T }
  | { status: 'missing' };

export interface AuthorizationCodeStore {
  /** Fails if the hash exists. */
  put(code: AuthorizationCodeRecord): Promise<void>;
  /**
   * Atomic one-time consumption: exactly one caller ever gets 'ok' for a code, even under races;
   * later callers get 'replayed' (until the record expires) and unknown or expired codes 'missing'.
   */
  consume(codeHash: string, now: number): Promise<ConsumeResult<AuthorizationCodeRecord>>;
  /** Records which grant the code's tokens belong to, so a replay can revoke it. No-op for unknown codes. */
  markRedeemed(codeHash: string, grantId: string): Promise<void>;
}

/** A grant: one authorization (user, client, scopes, resource) and its refresh-token family. */
export interface GrantRecord {
  id: string;
  clientId: string;
  /** The token subject: the user id, or the client id for client_credentials. */
  subject: string;
  scopes: string[];
  resource: string;
  authTime: number;
  createdAt: number;
  /** Absolute end of the refresh-token family. */
  expiresAt: number;
  revokedAt?: number;
  revokedReason?: string;
}

export interface RefreshTokenRecord {
  /** SHA-256 (base64url) of the refresh token. */
  tokenHash: string;
  grantId: string;
  createdAt: number;
  expiresAt: number;
  /** Set when this token was exchanged for a new one (RFC 9700 §4.14.2 rotation). */
  rotatedAt?: number;
}

export type RotateResult =
  | { status: 'ok'; grant: GrantRecord }
  /** The token was already rotated: reuse (RFC 9700 §4.14.2) — caller revokes the grant. `rotatedAt` for the grace window. */
  | { status: 'reused'; grant: GrantRecord; rotatedAt: number }
  | { status: 'missing' }
  | { status: 'revoked'; grant: GrantRecord };

export interface GrantStore {
  /** Fails if the grant id or the refresh-token hash exists, or if `firstRefresh.grantId` is not `grant.id`. */
  create(grant: GrantRecord, firstRefresh?: RefreshTokenRecord): Promise<void>;
  /** Revoked grants too (see `revokedAt`); undefined if unknown or expired. */
  get(id: string, now?: number): Promise<GrantRecord | undefined>;
  /** The refresh token and its grant, whether rotated or not; undefined if unknown or expired (token or grant). */
  findRefresh(
    tokenHash: string,
    now?: number,
  ): Promise<{ token: RefreshTokenRecord; grant: GrantRecord } | undefined>;
  /**
   * Atomically marks `oldHash` rotated and stores `next`, only if `oldHash` is current (not rotated,
   * not expired) and its grant is live. Exactly one of concurrent callers gets 'ok'. Unknown or expired
   * token or grant: 'missing'; revoked grant: 'revoked' (before 'reused'). Fails if `next.grantId` is not
   * the old token's grant or `next.tokenHash` exists.
   */
  rotate(oldHash: string, next: RefreshTokenRecord, now: number): Promise<RotateResult>;
  /**
   * Revokes the grant and with it every refresh token of the family (they stay findable, and `rotate`
   * answers 'revoked', until they expire). Idempotent; true if it was live (known, unexpired, unrevoked).
   */
  revoke(grantId: string, reason: string, now: number): Promise<boolean>;
  /** Unexpired grants of the subject, revoked ones included, oldest first. */
  listBySubject(subject: string, now?: number): Promise<GrantRecord[]>;
}

/** Revoked access-token ids (jti) and grant ids, kept until the tokens they cover expire. */
export interface RevocationStore {
  /** Idempotent; revoking again keeps the later `expiresAt`. */
  revoke(id: string, expiresAt: number): Promise<void>;
  isRevoked(id: string, now: number): Promise<boolean>;
  /** Every unexpired revocation, for warming a process-local cache. */
  listActive(now: number): Promise<{ id: string; expiresAt: number }[]>;
}

export interface SigningKeyRecord {
  kid: string;
  alg: 'ES256' | 'RS256' | 'HS256';
  /** The private (or symmetric) JWK, encrypted at rest (AES-256-GCM, see authserver/keys). */
  privateJwkEncrypted: string;
  /** Public JWK (absent for HS256). */
  publicJwk?: Record<string, unknown>;
  createdAt: number;
  /** Newest active key signs; a retiring key still verifies until `retiresAt`. */
  status: 'active' | 'retiring' | 'retired';
  retiresAt?: number;
}

export interface SigningKeyStore {
  /** Every key (retired ones too), oldest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** Fails if the kid exists. */
  put(key: SigningKeyRecord): Promise<void>;
  /** `retiresAt: undefined` given explicitly clears it. False if the kid is unknown. */
  update(kid: string, patch: Partial<Pick<SigningKeyRecord, 'status' | 'retiresAt'>>): Promise<boolean>;
}

export interface AuditRecord {
  /** Monotonic per store. */
  id: number;
  time: number;
  type: string;
  /** Event fields, already free of secrets. */
  data: Record<string, unknown>;
}

/**
 * The security trail. Kept forever unless the adapter was opened with an audit retention
 * (`purge.auditRetentionMs`): then records older than it go, oldest first, with the purge (purge.ts).
 */
export interface AuditStore {
  append(type: string, data: Record<string, unknown>, time: number): Promise<void>;
  /** The newest `limit` records, oldest first; or the first `limit` records after `afterId`, oldest first. */
  tail(limit: number, afterId?: number): Promise<AuditRecord[]>;
  /**
   * The records with these ids that exist, in id order (a primary-key lookup per id). A follower asks
   * for ids it found missing below newer ones: on PostgreSQL they may commit late (audit-follow.ts).
   */
  find(ids: readonly number[]): Promise<AuditRecord[]>;
}

/**
 * A change that other processes sharing the storage must act on at once (issue #4 "Replicas": within
 * one second): a revocation their guard caches, signing keys their KeyManager holds.
 */
export type StorageChange =
  | { readonly type: 'revoked'; readonly id: string; readonly expiresAt: number }
  | { readonly type: 'keys' };

/**
 * Cross-process change notification (Redis pub/sub, or PostgreSQL LISTEN/NOTIFY without Redis). Delivery is best effort while connected; a
 * subscriber that was disconnected may have missed changes, so it is told (`onState(false)`) and must
 * re-read what it caches before trusting it again (`onState(true)` after reconnection).
 */
export interface ChangeFeed {
  publish(change: StorageChange): Promise<void>;
  /**
   * Every change published by any process (this one included) reaches `listener` while the feed is up.
   * `onState(true)` is called once subscribed (and after every reconnection), `onState(false)` when the
   * subscription is lost. Returns an unsubscribe function.
   */
  subscribe(listener: (change: StorageChange) => void, onState: (up: boolean) => void): () => void;
  /** Whether the subscription is currently established. */
  readonly up: boolean;
}

/** Everything the authorization server persists. */
export interface Storage {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  readonly clients: ClientStore;
  readonly users: UserStore;
  readonly consents: ConsentStore;
  readonly codes: AuthorizationCodeStore;
  readonly grants: GrantStore;
  readonly revocations: RevocationStore;
  readonly keys: SigningKeyStore;
  readonly audit: AuditStore;
  /** Cross-process change notifications; absent when one process owns the storage's caches. */
  readonly changes?: ChangeFeed;
  /**
   * With Redis: its connections, lent to the app wiring for what it keeps on the same server (rate
   * limits, the CIMD cache, legacy sessions), so a process opens one command and one subscriber
   * connection in all. Owned by the storage: never closed by a borrower; they end with `close()`.
   */
  readonly redis?: RedisConnections;
  /** Health: resolves if the backing store answers. */
  ping(): Promise<void>;
  /** Health per backend (e.g. `{ database: 'ok', redis: 'unavailable' }`): each 'ok' or 'unavailable'. */
  health?(): Promise<Record<string, string>>;
  close(): Promise<void>;
}
