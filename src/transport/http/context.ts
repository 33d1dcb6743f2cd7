// What every HTTP handler shares: the engine, the resolved options, and the transport's state.

import type { Logger } from '../../observability/logger.ts';
import type { Reply } from '../../protocol/contract.ts';
import type { Engine } from '../../protocol/engine.ts';
import type { EventStore } from './event-store.ts';
import type { HttpOptions } from './options.ts';
import type { SessionRegistry } from './sessions.ts';
import type { SharedSessions } from './shared-sessions.ts';
import type { KeepAlive } from './sse.ts';

export interface HttpContext {
  readonly engine: Engine;
  readonly options: HttpOptions;
  readonly logger: Logger;
  readonly sessions: SessionRegistry;
  readonly events: EventStore;
  /** Set when legacy sessions are shared with other replicas (a session backplane); undefined otherwise. */
  readonly shared: SharedSessions | undefined;
  readonly keepAlive: KeepAlive;
  /** Extra response headers for a reply (the WWW-Authenticate challenge of a 403 insufficient_scope). */
  replyHeaders(reply: Reply): Record<string, string> | undefined;
  /** Path prefix of the public URL ('' or '/prefix'), for URLs handed to clients. */
  readonly basePath: string;
  /** Counts a request in flight, so close() can wait for it. */
  begin(): void;
  /** Ends what begin() counted. */
  done(): void;
}
