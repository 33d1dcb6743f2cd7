// Typed reads of pg rows. A column of the wrong type means a corrupt or foreign database: fail loudly
// rather than hand the authorization server a malformed record.

import { recordReaders } from '../sql-records.ts';
import type { Row } from './db.ts';

export function text(row: Row, column: string): string {
  const v = row[column];
  if (typeof v !== 'string') throw new TypeError(`storage: column ${column} is not text`);
  return v;
}

export function int(row: Row, column: string): number {
  const v = row[column];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new TypeError(`storage: column ${column} is not an integer`);
  }
  return v;
}

export function optText(row: Row, column: string): string | undefined {
  return row[column] === null ? undefined : text(row, column);
}

export function optInt(row: Row, column: string): number | undefined {
  return row[column] === null ? undefined : int(row, column);
}

export function strings(row: Row, column: string): string[] {
  const v = row[column];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
    throw new TypeError(`storage: column ${column} is not a string array`);
  }
  return v;
}

/** A JSON object column (pg has already parsed it: a fresh object per read, so callers get copies). */
export function object(row: Row, column: string): Record<string, unknown> {
  const v = row[column];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`storage: column ${column} is not a JSON object`);
  }
  return v as Record<string, unknown>;
}

export { setOpt } from '../sql-records.ts';

/** The record mappers shared with the other SQL adapter, over this adapter's column readers. */
export const { toCode, toConsent, toGrant } = recordReaders<Row>({ text, int, optText, optInt, strings });
