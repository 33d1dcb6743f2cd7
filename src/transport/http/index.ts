// The HTTP transport: createHttpApp() for the common case, and its parts for another listener. The
// Redis session backplane (redis-backplane.ts) is imported where the app is wired, not from here.

export {
  createHttpApp,
  type Guard,
  type GuardRejection,
  type GuardResult,
  type HttpApp,
  type HttpAppOptions,
  type Routes,
} from './app.ts';
export type {
  BusMessage,
  LoggedEvent,
  SessionBackplane,
  SessionKind,
  SessionListener,
  SessionMutation,
  SessionRecord,
} from './backplane.ts';
export { isJsonContentType, REJECTED, readBody, readJson } from './body.ts';
export type { HttpContext } from './context.ts';
export { rpcErrorBody, sendAccepted, sendJson, sendRpcError, TransportError } from './errors.ts';
export { type EventStore, eventId, MemoryEventStore, parseEventId, type StoredEvent } from './event-store.ts';
export { handleLive, handleReady, LIVE_PATH, READY_PATH, type ReadyCheck } from './health.ts';
export { handleLegacyDelete, handleLegacyGet, handleLegacyPost } from './legacy.ts';
export { LegacyExchange } from './legacy-exchange.ts';
export { handleLegacyMessage, openLegacySse } from './legacy-sse.ts';
export { LegacyStream } from './legacy-stream.ts';
export { checkMirroredHeaders, decodeHeaderValue } from './mirrored-headers.ts';
export { handleModernNotification, handleModernRequest, ModernExchange } from './modern.ts';
export { DEFAULT_HTTP_OPTIONS, type HttpOptions, resolveHttpOptions } from './options.ts';
export { acceptsJsonAndSse, handleMcpPost } from './post.ts';
export { corsHeaders, isLoopbackHost, preflightHeaders, SecurityPolicy } from './security.ts';
export { HttpSession, SessionRegistry, samePrincipal } from './sessions.ts';
export { SharedHttpSession, SharedSessions } from './shared-sessions.ts';
export { MirroredEventStore, StreamTail } from './shared-stream.ts';
export { formatEvent, KeepAlive, openSse, SSE_HEADERS, writeSse } from './sse.ts';
