import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { UserRecord, UserStore } from '../types.ts';
import { insertOrConflict, int, optInt, type Row, text } from './row.ts';

export class SqliteUserStore implements UserStore {
  readonly #get: StatementSync;
  readonly #getByUsername: StatementSync;
  readonly #insert: StatementSync;
  readonly #setPassword: StatementSync;
  readonly #setDisabled: StatementSync;
  readonly #delete: StatementSync;
  readonly #list: StatementSync;

  constructor(db: DatabaseSync) {
    this.#get = db.prepare('SELECT * FROM users WHERE id = ?');
    // users.username is UNIQUE (its own index); BINARY collation: exact, case-sensitive.
    this.#getByUsername = db.prepare('SELECT * FROM users WHERE username = ?');
    this.#insert = db.prepare(
      `INSERT INTO users (id, username, password_hash, created_at, disabled)
       VALUES (:id, :username, :passwordHash, :createdAt, :disabled)`,
    );
    this.#setPassword = db.prepare('UPDATE users SET password_hash = ? WHERE id = ?');
    this.#setDisabled = db.prepare('UPDATE users SET disabled = ? WHERE id = ?');
    // The users_delete_consents trigger removes the user's consents in the same statement.
    this.#delete = db.prepare('DELETE FROM users WHERE id = ?');
    this.#list = db.prepare('SELECT * FROM users ORDER BY created_at, username');
  }

  async get(id: string): Promise<UserRecord | undefined> {
    const row = this.#get.get(id);
    return row && toUser(row);
  }

  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const row = this.#getByUsername.get(username);
    return row && toUser(row);
  }

  async create(u: UserRecord): Promise<void> {
    insertOrConflict('user', () =>
      this.#insert.run({
        id: u.id,
        username: u.username,
        passwordHash: u.passwordHash,
        createdAt: u.createdAt,
        disabled: u.disabled === undefined ? null : u.disabled ? 1 : 0,
      }),
    );
  }

  async setPassword(id: string, passwordHash: string): Promise<boolean> {
    return this.#setPassword.run(passwordHash, id).changes > 0;
  }

  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    // `changes` counts matched rows, so setting the value a row already has is still true.
    return this.#setDisabled.run(disabled ? 1 : 0, id).changes > 0;
  }

  async delete(id: string): Promise<boolean> {
    return this.#delete.run(id).changes > 0;
  }

  async list(): Promise<UserRecord[]> {
    return this.#list.all().map(toUser);
  }
}

function toUser(row: Row): UserRecord {
  const user: UserRecord = {
    id: text(row, 'id'),
    username: text(row, 'username'),
    passwordHash: text(row, 'password_hash'),
    createdAt: int(row, 'created_at'),
  };
  const disabled = optInt(row, 'disabled');
  if (disabled !== undefined) user.disabled = disabled === 1;
  return user;
}
