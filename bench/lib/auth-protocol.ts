// The IPC messages between the runner and keyhole-auth-server.ts. Tokens travel over the IPC channel
// only, never on stdout or stderr (which the runner keeps for failure reports).

/** The scope the guarded echo tool requires; the load token holds it. */
export const ECHO_SCOPE = 'bench:echo';

/** Mints an access token for the MCP endpoint; `scopes` defaults to [ECHO_SCOPE]. */
export interface TokenAsk {
  op: 'token';
  scopes?: string[];
}

export interface TokenReply {
  op: 'token';
  token?: string;
  jti?: string;
  error?: string;
}

/** Revokes an access token as the revocation endpoint does: storage entry plus `token.revoked` event. */
export interface RevokeAsk {
  op: 'revoke';
  jti: string;
}

export interface RevokeReply {
  op: 'revoke';
  error?: string;
}
