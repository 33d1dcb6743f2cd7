// The McpServer the HTTP transport tests talk to, with a probe that lets a test see and steer what a
// handler does without timing assumptions.

import * as z from 'zod';
import { McpServer } from '../../../src/server/server.ts';

/** Named signals between handlers and tests; a signal sent before anyone waits is kept. */
export class Probe {
  readonly #sent = new Map<string, unknown[]>();
  readonly #waiting = new Map<string, ((v: unknown) => void)[]>();

  emit(name: string, value: unknown = true): void {
    const w = this.#waiting.get(name);
    if (w?.length) (w.shift() as (v: unknown) => void)(value);
    else this.#sent.set(name, [...(this.#sent.get(name) ?? []), value]);
  }

  wait(name: string): Promise<unknown> {
    const s = this.#sent.get(name);
    if (s?.length) return Promise.resolve(s.shift());
    return new Promise((resolve) => {
      this.#waiting.set(name, [...(this.#waiting.get(name) ?? []), resolve]);
    });
  }
}

export function createFixtureServer(): { server: McpServer; probe: Probe } {
  const probe = new Probe();
  const server = new McpServer({ name: 'keyhole-http-fixture', version: '1.0.0' });

  server.tool({
    name: 'echo',
    input: z.object({ text: z.string() }),
    handler: ({ text }) => text,
  });

  // Parameters mirrored into Mcp-Param-* headers (MCP 2026-07-28 streamable-http "Custom Headers").
  server.tool({
    name: 'query',
    input: {
      type: 'object',
      properties: {
        region: { type: 'string', 'x-mcp-header': 'Region' },
        limit: { type: 'integer', 'x-mcp-header': 'Limit' },
        dryRun: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
        target: { type: 'object', properties: { zone: { type: 'string', 'x-mcp-header': 'Zone' } } },
        sql: { type: 'string' },
      },
      required: ['sql'],
    },
    handler: (args) => JSON.stringify(args),
  });

  server.tool({
    name: 'steps',
    input: z.object({ count: z.number().int().min(1).max(10) }),
    handler: ({ count }, ctx) => {
      for (let i = 1; i <= count; i++) {
        ctx.progress(i, count, `step ${i}`);
        ctx.log('info', `step ${i}`);
      }
      return `${count} steps`;
    },
  });

  // Runs until the client cancels; the probe reports start and abort.
  server.tool({
    name: 'wait',
    input: z.object({ tag: z.string() }),
    handler: async ({ tag }, ctx) => {
      probe.emit(`wait:${tag}:started`);
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      probe.emit(`wait:${tag}:aborted`, ctx.signal.reason);
      return 'aborted';
    },
  });

  // Holds its result until the test releases it.
  server.tool({
    name: 'gate',
    input: z.object({ tag: z.string() }),
    handler: async ({ tag }, ctx) => {
      probe.emit(`gate:${tag}:started`);
      ctx.progress(1, 2, 'waiting');
      await probe.wait(`gate:${tag}`);
      return `released ${tag}`;
    },
  });

  // SEP-1699 polling: closes its SSE connection, then finishes when the test says so.
  server.tool({
    name: 'reconnect',
    input: z.object({ tag: z.string() }),
    handler: async ({ tag }, ctx) => {
      probe.emit(`reconnect:${tag}:closed`, ctx.closeStream());
      await probe.wait(`reconnect:${tag}:go`);
      ctx.progress(1, 1, 'after reconnect');
      return `reconnected ${tag}`;
    },
  });

  // Asks the client for input (legacy: a server-to-client request on the POST stream).
  server.tool({
    name: 'confirm',
    input: z.object({ what: z.string() }),
    handler: (args, ctx) => {
      const answer = ctx.inputResponses?.ok;
      if (!answer) {
        return ctx.inputRequired({
          inputRequests: {
            ok: {
              method: 'elicitation/create',
              params: {
                message: `Confirm ${args.what}?`,
                requestedSchema: { type: 'object', properties: { yes: { type: 'boolean' } } },
              },
            },
          },
        });
      }
      return `answer: ${JSON.stringify(answer)}`;
    },
  });

  // Registers a new tool: list_changed goes to standalone streams and listen subscriptions.
  let added = 0;
  server.tool({
    name: 'add_tool',
    handler: () => {
      const name = `added_${++added}`;
      server.tool({ name, handler: () => name });
      return name;
    },
  });

  server.prompt({
    name: 'greet',
    get: () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }] }),
  });

  server.resource({
    uri: 'memo://one',
    name: 'one',
    read: (uri) => [{ uri, text: 'one' }],
  });

  return { server, probe };
}
