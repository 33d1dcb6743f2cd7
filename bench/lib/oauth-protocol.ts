// The IPC messages between the runner and keyhole-oauth-server.ts. Authorization codes and their PKCE
// verifiers travel over the IPC channel only, never on stdout or stderr.

/** Where the child's authorization server lives and what it expects at /token. */
export interface InfoAsk {
  op: 'info';
}

export interface InfoReply {
  op: 'info';
  /** The issuer identifier (the public base URL; for replicas the shared one, not this process's address). */
  issuer?: string;
  /** The RFC 8707 resource identifier: the public MCP endpoint URL. */
  resource?: string;
  error?: string;
}

/**
 * Mints `count` authorization codes for `clientId` exactly as the authorization endpoint does after the
 * user approved (src/authserver/endpoints/authorization-flow.ts respondWithCode): a random code stored
 * only as its SHA-256, bound to the client, redirect URI, the bench user, the scope, the resource and an
 * S256 challenge of a fresh verifier.
 */
export interface CodesAsk {
  op: 'codes';
  clientId: string;
  redirectUri: string;
  count: number;
}

export interface MintedCode {
  code: string;
  verifier: string;
}

export interface CodesReply {
  op: 'codes';
  codes?: MintedCode[];
  error?: string;
}
