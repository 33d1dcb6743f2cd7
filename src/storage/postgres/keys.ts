import type { SigningKeyRecord, SigningKeyStore } from '../types.ts';
import { type Database, insertOrConflict, type Row, statement } from './db.ts';
import { int, object, optInt, setOpt, text } from './row.ts';

const LIST = statement(
  'signing_keys_list',
  'SELECT * FROM signing_keys ORDER BY created_at, kid COLLATE "C"',
);
const INSERT = statement(
  'signing_keys_insert',
  `INSERT INTO signing_keys (kid, alg, private_jwk_encrypted, public_jwk, created_at, status, retires_at)
   VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)`,
);
const UPDATE = statement(
  'signing_keys_update',
  `UPDATE signing_keys
   SET status = coalesce($2::text, status),
       retires_at = CASE WHEN $3::boolean THEN $4::bigint ELSE retires_at END
   WHERE kid = $1`,
);

export class PostgresSigningKeyStore implements SigningKeyStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async list(): Promise<SigningKeyRecord[]> {
    return (await this.#db.run(LIST, [])).rows.map(toKey);
  }

  async put(key: SigningKeyRecord): Promise<void> {
    await insertOrConflict('signing key', () =>
      this.#db.run(INSERT, [
        key.kid,
        key.alg,
        key.privateJwkEncrypted,
        key.publicJwk === undefined ? null : JSON.stringify(key.publicJwk),
        key.createdAt,
        key.status,
        key.retiresAt ?? null,
      ]),
    );
  }

  async update(
    kid: string,
    patch: Partial<Pick<SigningKeyRecord, 'status' | 'retiresAt'>>,
  ): Promise<boolean> {
    // `retiresAt: undefined` given explicitly clears it; an absent key leaves it alone.
    const result = await this.#db.run(UPDATE, [
      kid,
      patch.status ?? null,
      'retiresAt' in patch,
      patch.retiresAt ?? null,
    ]);
    return result.rowCount > 0;
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
  if (row.public_jwk !== null) key.publicJwk = object(row, 'public_jwk');
  setOpt(key, 'retiresAt', optInt(row, 'retires_at'));
  return key;
}
