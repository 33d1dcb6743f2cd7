// Server-Sent Events on a node:http response (HTML Living Standard "Server-sent events").

import type { ServerResponse } from 'node:http';

/**
 * MCP streamable-http "Receiving Messages": `X-Accel-Buffering: no` keeps proxies such as nginx from
 * buffering the stream; `no-transform` keeps them from compressing it.
 */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-store, no-transform',
  'x-accel-buffering': 'no',
});

/** A client that stops reading is cut off once this much output is queued for it. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Sends the status line and headers of an event stream right away. */
export function openSse(res: ServerResponse, extra?: Readonly<Record<string, string>>): void {
  res.writeHead(200, extra ? { ...SSE_HEADERS, ...extra } : SSE_HEADERS);
  res.flushHeaders();
}

/**
 * One event. `data` must not contain CR or LF (JSON.stringify output never does), so it fits one
 * `data:` line; `event: message` is the default type but is spelled out for 2024-11-05 clients.
 */
export function formatEvent(data: string, id?: string, event = 'message'): string {
  return id === undefined
    ? `event: ${event}\ndata: ${data}\n\n`
    : `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`;
}

/** The priming event of SEP-1699 (MCP 2025-11-25 transports "Sending Messages"): an id and empty data. */
export function formatPriming(id: string, retryMs: number): string {
  return `id: ${id}\nretry: ${retryMs}\ndata: \n\n`;
}

export function isWritable(res: ServerResponse): boolean {
  return !res.writableEnded && !res.destroyed;
}

/** Writes raw SSE text. False when the connection is gone, or was dropped because the client stopped reading. */
export function writeSse(res: ServerResponse, text: string): boolean {
  if (!isWritable(res)) return false;
  if (res.writableLength > MAX_BUFFERED_BYTES) {
    res.destroy();
    return false;
  }
  res.write(text);
  return true;
}

/**
 * Comment lines on every open stream at one interval (streamable-http "Receiving Messages" note), so
 * intermediaries and client idle timers do not cut quiet streams. One timer for all streams keeps an
 * idle stream's cost to one set entry.
 */
export class KeepAlive {
  readonly #streams = new Set<ServerResponse>();
  #timer: NodeJS.Timeout | undefined;

  start(intervalMs: number): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#ping(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  add(res: ServerResponse): void {
    this.#streams.add(res);
  }

  delete(res: ServerResponse): void {
    this.#streams.delete(res);
  }

  get size(): number {
    return this.#streams.size;
  }

  #ping(): void {
    for (const res of this.#streams) {
      if (!writeSse(res, ':\n\n')) this.#streams.delete(res);
    }
  }
}
