// Memory held by idle 2025-11-25 sessions, each with its standalone GET SSE stream open: what a
// server pays per connected-but-quiet legacy client. Measured in the server process after forced
// garbage collection (bench hook in keyhole-server.ts), as a delta over a warmed-up baseline.

import { Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import { startServer } from './child.ts';
import { LEGACY_VERSION } from './targets.ts';

export interface MemoryUsage {
  op: 'memory';
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

export interface MemoryResult {
  sessions: number;
  /** (heapUsed + external) delta per session, bytes. */
  heapPerSession: number;
  /** rss delta per session, bytes (includes socket buffers and allocator slack). */
  rssPerSession: number;
  before: MemoryUsage;
  after: MemoryUsage;
  /** Streams still open when `after` was taken. */
  openStreams: number;
}

const WARM_SESSIONS = 20;
const BATCH = 25;

interface Stream {
  req: ClientRequest;
  res: IncomingMessage;
}

function post(url: URL, agent: Agent, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>(
    (resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

async function openSession(url: URL, agent: Agent): Promise<Stream> {
  const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await post(
    url,
    agent,
    base,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: LEGACY_VERSION,
        capabilities: {},
        clientInfo: { name: 'keyhole-bench', version: '1.0.0' },
      },
    }),
  );
  const sessionId = init.headers['mcp-session-id'];
  if (init.status !== 200 || typeof sessionId !== 'string') {
    throw new Error(`initialize: HTTP ${init.status}: ${init.body.slice(0, 300)}`);
  }
  const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION };
  const ack = await post(
    url,
    agent,
    { ...base, ...session },
    JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  );
  if (ack.status !== 202)
    throw new Error(`notifications/initialized: HTTP ${ack.status}: ${ack.body.slice(0, 300)}`);
  // One socket per stream, as separate clients would have.
  return new Promise<Stream>((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', agent: false, headers: { accept: 'text/event-stream', ...session } },
      (res) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.resume();
          return reject(new Error(`GET stream: HTTP ${res.statusCode} ${res.headers['content-type']}`));
        }
        res.resume(); // discard priming events and keep-alive comments
        resolve({ req, res });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function openSessions(url: URL, n: number, into: Stream[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
  try {
    for (let done = 0; done < n; done += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, n - done) }, () => openSession(url, agent));
      into.push(...(await Promise.all(batch)));
    }
  } finally {
    // The handshake connections are not part of an idle session's cost.
    agent.destroy();
  }
}

const settle = () => new Promise((r) => setTimeout(r, 500));

export async function measureIdleSessions(script: string, sessions: number): Promise<MemoryResult> {
  const server = await startServer(script, {
    execArgv: ['--expose-gc'],
    env: { KEYHOLE_BENCH_HOOKS: '1' },
  });
  const url = new URL(server.url);
  const streams: Stream[] = [];
  try {
    await openSessions(url, WARM_SESSIONS, streams);
    await settle();
    const before = await server.ask<MemoryUsage>({ op: 'memory' });
    await openSessions(url, sessions, streams);
    await settle();
    const after = await server.ask<MemoryUsage>({ op: 'memory' });
    const openStreams = streams.filter((s) => !s.res.complete && !s.res.destroyed).length - WARM_SESSIONS;
    return {
      sessions,
      heapPerSession: (after.heapUsed + after.external - before.heapUsed - before.external) / sessions,
      rssPerSession: (after.rss - before.rss) / sessions,
      before,
      after,
      openStreams,
    };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${server.stderr().trim()}`);
  } finally {
    for (const s of streams) s.req.destroy();
    await server.stop();
  }
}
