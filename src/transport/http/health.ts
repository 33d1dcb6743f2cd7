// Liveness and readiness probes for orchestrators and load balancers (not MCP endpoints: no Host or
// Origin checks, since probes come from inside the network under any name).

import type { ServerResponse } from 'node:http';
import type { Logger } from '../../observability/logger.ts';
import { sendPlain } from './errors.ts';

export type ReadyCheck = () => Promise<Record<string, string>>;

export const LIVE_PATH = '/health/live';
export const READY_PATH = '/health/ready';

/** The process serves HTTP. */
export function handleLive(res: ServerResponse): void {
  sendPlain(res, 200, { status: 'ok' });
}

/**
 * Ready when every check reports 'ok' (each check reports 'ok' or an error string). A draining server
 * is not ready, so load balancers stop sending it new clients.
 */
export async function handleReady(
  res: ServerResponse,
  ready: ReadyCheck | undefined,
  draining: boolean,
  logger: Logger,
): Promise<void> {
  if (draining) {
    sendPlain(res, 503, { status: 'draining' });
    return;
  }
  if (!ready) {
    sendPlain(res, 200, { status: 'ok', checks: {} });
    return;
  }
  let checks: Record<string, string>;
  try {
    checks = await ready();
  } catch (err) {
    logger.warn('readiness check failed', { error: err });
    sendPlain(res, 503, { status: 'error', checks: { ready: 'check failed' } });
    return;
  }
  const ok = Object.values(checks).every((v) => v === 'ok');
  sendPlain(res, ok ? 200 : 503, { status: ok ? 'ok' : 'error', checks });
}
