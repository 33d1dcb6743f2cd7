import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { SigningKeyRecord, SigningKeyStore } from '../types.ts';
import { insertOrConflict, int, json, optInt, type Row, setOpt, text } from './row.ts';

export class SqliteSigningKeyStore implements SigningKeyStore {
  readonly #list: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;

  constructor(db: DatabaseSync) {
    this.#list = db.prepare('SELECT * FROM signing_keys ORDER BY created_at, kid');
    this.#insert = db.prepare(
      `INSERT INTO signing_keys (kid, alg, private_jwk_encrypted, public_jwk, created_at, status, retires_at)
       VALUES (:kid, :alg, :privateJwkEncrypted, :publicJwk, :createdAt, :status, :retiresAt)`,
    );
    this.#update = db.prepare(
      `UPDATE signing_keys
       SET status = coalesce(:status, status),
           retires_at = CASE WHEN :setRetiresAt THEN :retiresAt ELSE retires_at END
       WHERE kid = :kid`,
    );
  }

  async list(): Promise<SigningKeyRecord[]> {
    return this.#list.all().map(toKey);
  }

  async put(key: SigningKeyRecord): Promise<void> {
    insertOrConflict('signing key', () =>
      this.#insert.run({
        kid: key.kid,
        alg: key.alg,
        privateJwkEncrypted: key.privateJwkEncrypted,
        publicJwk: key.publicJwk === undefined ? null : JSON.stringify(key.publicJwk),
        createdAt: key.createdAt,
        status: key.status,
        retiresAt: key.retiresAt ?? null,
      }),
    );
  }

  async update(
    kid: string,
    patch: Partial<Pick<SigningKeyRecord, 'status' | 'retiresAt'>>,
  ): Promise<boolean> {
    const result = this.#update.run({
      kid,
      status: patch.status ?? null,
      setRetiresAt: 'retiresAt' in patch ? 1 : 0,
      retiresAt: patch.retiresAt ?? null,
    });
    return result.changes > 0;
  }
}

function toKey(row: Row): SigningKeyRecord {
  const key: SigningKeyRecord = {
    kid: text(row, 'kid'),
    alg: text(row, 'alg') as SigningKeyRecord['alg'],
    privateJwkEncrypted: text(row, 'private_jwk_encrypted'),
    createdAt: int(row, 'created_at'),
    status: text(row, 'status') as SigningKeyRecord['status'],
  };
  if (row.public_jwk !== null) key.publicJwk = json<Record<string, unknown>>(row, 'public_jwk');
  setOpt(key, 'retiresAt', optInt(row, 'retires_at'));
  return key;
}
