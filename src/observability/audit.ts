// The two standing subscribers of the security EventBus (STYLE 12): every event becomes one JSON log
// line and one row in the audit table (`keyhole audit tail` reads it back). Event fields carry no
// secrets by construction (events.ts); the logger's redaction is a second fence for the log line.

import type { AuditStore } from '../storage/types.ts';
import type { EventBus, SecurityEvent } from './events.ts';
import type { Logger } from './logger.ts';

export interface AuditSubscription {
  /** Resolves once every row written so far is stored. */
  flush(): Promise<void>;
  /** Unsubscribes, then flushes. */
  close(): Promise<void>;
}

/** Writes each event as a log line and an audit row; rows are appended in event order. */
export function subscribeAudit(
  bus: EventBus,
  sinks: { logger: Logger; audit: AuditStore },
): AuditSubscription {
  const { logger, audit } = sinks;
  // One append at a time, so row ids follow the order events happened in.
  let queue: Promise<void> = Promise.resolve();
  const onEvent = (event: SecurityEvent) => {
    logger.info('security event', { event: event.type, ...event.data });
    const data = event.data as unknown as Record<string, unknown>;
    queue = queue
      .then(() => audit.append(event.type, data, event.time))
      .catch((err: unknown) => {
        // Losing an audit row must not fail the request that caused it; it is still in the log line.
        logger.error('audit write failed', { event: event.type, error: err });
      });
  };
  const off = bus.on(onEvent);
  const flush = () => queue;
  return {
    flush,
    close: async () => {
      off();
      await flush();
    },
  };
}
