import type { UserRecord, UserStore } from '../types.ts';
import { type Database, insertOrConflict, type Row, statement } from './db.ts';
import { int, text } from './row.ts';

const GET = statement('users_get', 'SELECT * FROM users WHERE id = $1');
// users.username is UNIQUE (its own index); text equality is exact, case-sensitive.
const GET_BY_USERNAME = statement('users_get_by_username', 'SELECT * FROM users WHERE username = $1');
const INSERT = statement(
  'users_insert',
  'INSERT INTO users (id, username, password_hash, created_at, disabled) VALUES ($1, $2, $3, $4, $5)',
);
const SET_PASSWORD = statement('users_set_password', 'UPDATE users SET password_hash = $2 WHERE id = $1');
const SET_DISABLED = statement('users_set_disabled', 'UPDATE users SET disabled = $2 WHERE id = $1');
// The users_delete_consents trigger removes the user's consents in the same statement.
const DELETE = statement('users_delete', 'DELETE FROM users WHERE id = $1');
const LIST = statement('users_list', 'SELECT * FROM users ORDER BY created_at, username COLLATE "C"');

export class PostgresUserStore implements UserStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async get(id: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#db.run(GET, [id]);
    return rows[0] && toUser(rows[0]);
  }

  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#db.run(GET_BY_USERNAME, [username]);
    return rows[0] && toUser(rows[0]);
  }

  async create(u: UserRecord): Promise<void> {
    await insertOrConflict('user', () =>
      this.#db.run(INSERT, [u.id, u.username, u.passwordHash, u.createdAt, u.disabled ?? null]),
    );
  }

  async setPassword(id: string, passwordHash: string): Promise<boolean> {
    return (await this.#db.run(SET_PASSWORD, [id, passwordHash])).rowCount > 0;
  }

  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    return (await this.#db.run(SET_DISABLED, [id, disabled])).rowCount > 0;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.#db.run(DELETE, [id])).rowCount > 0;
  }

  async list(): Promise<UserRecord[]> {
    return (await this.#db.run(LIST, [])).rows.map(toUser);
  }
}

function toUser(row: Row): UserRecord {
  const user: UserRecord = {
    id: text(row, 'id'),
    username: text(row, 'username'),
    passwordHash: text(row, 'password_hash'),
    createdAt: int(row, 'created_at'),
  };
  const disabled = row.disabled;
  if (disabled !== null) {
    if (typeof disabled !== 'boolean') throw new TypeError('storage: column disabled is not a boolean');
    user.disabled = disabled;
  }
  return user;
}
