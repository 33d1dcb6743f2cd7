// Typed reads of node:sqlite rows. A column of the wrong type means a corrupt or foreign database:
// fail loudly rather than hand the authorization server a malformed record.

import type { SQLOutputValue } from 'node:sqlite';
import { StorageConflictError } from '../errors.ts';
import { recordReaders } from '../sql-records.ts';

export type Row = Record<string, SQLOutputValue>;

export function text(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== 'string') throw new TypeError(`storage: column ${column} is not text`);
  return v;
}

export function int(row: Row, column: string): number {
  const v = row[column];
  if (typeof v !== 'number') throw new TypeError(`storage: column ${column} is not an integer`);
  return v;
}

export function optText(row: Row, column: string): string | undefined {
  return row[column] === null ? undefined : text(row, column);
}

export function optInt(row: Row, column: string): number | undefined {
  return row[column] === null ? undefined : int(row, column);
}

export function json<T>(row: Row, column: string): T {
  return JSON.parse(text(row, column)) as T;
}

export function strings(row: Row, column: string): string[] {
  const v = json<unknown>(row, column);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new TypeError(`storage: column ${column} is not a string array`);
  }
  return v;
}

const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/** Runs an insert, turning a key collision into StorageConflictError. */
export function insertOrConflict(kind: string, insert: () => unknown): void {
  try {
    insert();
  } catch (err) {
    const code = (err as { errcode?: unknown }).errcode;
    if (code === SQLITE_CONSTRAINT_PRIMARYKEY || code === SQLITE_CONSTRAINT_UNIQUE) {
      throw new StorageConflictError(kind, { cause: err });
    }
    throw err;
  }
}

export { setOpt } from '../sql-records.ts';

/** The record mappers shared with the other SQL adapter, over this adapter's column readers. */
export const { toCode, toConsent, toGrant } = recordReaders<Row>({ text, int, optText, optInt, strings });
