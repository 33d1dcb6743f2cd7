// Row → record mapping shared by the SQL adapters (SQLite, PostgreSQL). Column names and record shapes
// are the same in both schemas; only how a column is read differs (SQLite keeps string lists as JSON
// text, PostgreSQL as text[]), so each adapter supplies its typed column readers.

import type { AuthorizationCodeRecord, ConsentRecord, GrantRecord } from './types.ts';

export interface ColumnReader<R> {
  text(row: R, column: string): string;
  int(row: R, column: string): number;
  optText(row: R, column: string): string | undefined;
  optInt(row: R, column: string): number | undefined;
  strings(row: R, column: string): string[];
}

/** Sets `key` on `target` only when `value` is defined (records have no "present but undefined"). */
export function setOpt<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

export function recordReaders<R>(c: ColumnReader<R>) {
  return {
    toCode(row: R): AuthorizationCodeRecord {
      const code: AuthorizationCodeRecord = {
        codeHash: c.text(row, 'code_hash'),
        clientId: c.text(row, 'client_id'),
        userId: c.text(row, 'user_id'),
        redirectUri: c.text(row, 'redirect_uri'),
        scopes: c.strings(row, 'scopes'),
        resource: c.text(row, 'resource'),
        codeChallenge: c.text(row, 'code_challenge'),
        codeChallengeMethod: c.text(
          row,
          'code_challenge_method',
        ) as AuthorizationCodeRecord['codeChallengeMethod'],
        authTime: c.int(row, 'auth_time'),
        expiresAt: c.int(row, 'expires_at'),
      };
      setOpt(code, 'grantId', c.optText(row, 'grant_id'));
      return code;
    },

    toConsent(row: R): ConsentRecord {
      return {
        userId: c.text(row, 'user_id'),
        clientId: c.text(row, 'client_id'),
        redirectUri: c.text(row, 'redirect_uri'),
        scopes: c.strings(row, 'scopes'),
        grantedAt: c.int(row, 'granted_at'),
      };
    },

    toGrant(row: R): GrantRecord {
      const grant: GrantRecord = {
        id: c.text(row, 'id'),
        clientId: c.text(row, 'client_id'),
        subject: c.text(row, 'subject'),
        scopes: c.strings(row, 'scopes'),
        resource: c.text(row, 'resource'),
        authTime: c.int(row, 'auth_time'),
        createdAt: c.int(row, 'created_at'),
        expiresAt: c.int(row, 'expires_at'),
      };
      setOpt(grant, 'revokedAt', c.optInt(row, 'revoked_at'));
      setOpt(grant, 'revokedReason', c.optText(row, 'revoked_reason'));
      return grant;
    },
  };
}
