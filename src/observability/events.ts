// The typed security event stream (STYLE 12): every security-relevant happening is one event that
// the log, the audit table and metrics subscribe to. Event fields never carry secrets: tokens, codes,
// passwords and client secrets are referred to by id (jti, grant id) only.

export interface SecurityEvents {
  'login.succeeded': { userId: string; username: string; ip: string };
  'login.failed': { username: string; ip: string; reason: 'unknown_user' | 'bad_password' | 'disabled' };
  'consent.granted': { userId: string; clientId: string; redirectUri: string; scopes: string[] };
  'consent.denied': { userId: string; clientId: string; redirectUri: string };
  'client.registered': {
    clientId: string;
    source: 'dynamic' | 'static' | 'cimd';
    redirectUris: string[];
    ip?: string;
  };
  'token.issued': {
    grantType: string;
    clientId: string;
    subject: string;
    grantId: string;
    jti: string;
    scopes: string[];
    resource: string;
  };
  'token.refreshed': { clientId: string; subject: string; grantId: string; jti: string };
  'token.revoked': {
    clientId: string;
    what: 'access_token' | 'refresh_token' | 'grant';
    id: string;
    reason: string;
  };
  'refresh.reuse_detected': { clientId: string; subject: string; grantId: string };
  'code.replay_detected': { clientId: string; subject: string; grantId?: string };
  'rate_limit.hit': {
    endpoint: string;
    key: 'ip' | 'client' | 'user';
    ip: string;
    clientId?: string;
    /** The account a login limit applies to (key 'user'). */
    username?: string;
  };
  'keys.rotated': { newKid: string; retiringKids: string[] };
  'user.created': { userId: string; username: string };
  'user.deleted': { userId: string };
  /** The account can no longer sign in or get tokens; its grants follow as `token.revoked` events. */
  'user.disabled': { userId: string; username: string };
  'user.enabled': { userId: string; username: string };
}

export type SecurityEventType = keyof SecurityEvents;
export type SecurityEvent = {
  [K in SecurityEventType]: { type: K; time: number; data: SecurityEvents[K] };
}[SecurityEventType];

type Listener = (event: SecurityEvent) => void;

export class EventBus {
  readonly #listeners = new Set<Listener>();

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit<K extends SecurityEventType>(type: K, data: SecurityEvents[K], time = Date.now()): void {
    const event = { type, time, data } as SecurityEvent;
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A failing subscriber must not break the request that emitted the event.
      }
    }
  }
}
