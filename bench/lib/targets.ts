// The servers under test and the one request each is loaded with: `tools/call` of `echo`.

import { fileURLToPath } from 'node:url';
import { authorizedRequest, checkGuarded, checkRevocation } from './auth.ts';
import type { ServerProcess } from './child.ts';

export const ECHO_TEXT = 'the quick brown fox jumps over the lazy dog';
export const MODERN_VERSION = '2026-07-28';
export const LEGACY_VERSION = '2025-11-25';

export type TargetId = 'keyhole-modern' | 'keyhole-modern-auth' | 'keyhole-legacy' | 'bare' | 'sdk-v2';
/** The run order: keyhole-modern-auth right after keyhole-modern, so their ratio compares adjacent runs. */
export const TARGET_IDS: readonly TargetId[] = [
  'keyhole-modern',
  'keyhole-modern-auth',
  'keyhole-legacy',
  'bare',
  'sdk-v2',
];

/** What a target's setup and checks may use of its server process. */
export type BenchServer = Pick<ServerProcess, 'url' | 'ask'>;

export interface Target {
  readonly id: TargetId;
  readonly description: string;
  readonly script: string;
  /** 'modern': the reply must be a 2026-07-28 result (`resultType`), proving the stateless path served it. */
  readonly era?: 'modern';
  /** Builds the loaded request; legacy targets open their session here. */
  prepare(server: BenchServer): Promise<LoadRequest>;
  /** Checks beyond the echo, before the load (e.g. that requests without a token are refused). */
  checkBefore?(server: BenchServer, request: LoadRequest): Promise<string>;
  /** Checks after the load and the second echo (the server is not loaded again afterwards). */
  checkAfter?(server: BenchServer, request: LoadRequest): Promise<string>;
}

export interface LoadRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The `jti` of the bearer token in `headers`, if any (revoked by a check after the load). */
  readonly tokenId?: string;
}

const script = (name: string) => fileURLToPath(new URL(`../${name}`, import.meta.url));

const ACCEPT = 'application/json, text/event-stream';

/** MCP 2026-07-28: stateless, version and capabilities in `_meta`, routing headers mirror the body. */
export function modernRequest(): LoadRequest {
  return {
    headers: {
      'content-type': 'application/json',
      accept: ACCEPT,
      'mcp-protocol-version': MODERN_VERSION,
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { text: ECHO_TEXT },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  };
}

/** MCP 2025-11-25: initialize + notifications/initialized, then requests on the session. */
export async function openLegacySession(url: string): Promise<string> {
  const headers = { 'content-type': 'application/json', accept: ACCEPT };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: LEGACY_VERSION,
        capabilities: {},
        clientInfo: { name: 'keyhole-bench', version: '1.0.0' },
      },
    }),
  });
  const body = await readJsonRpc(init);
  const sessionId = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !sessionId) {
    throw new Error(
      `initialize: HTTP ${init.status}, session id ${sessionId ?? 'missing'}: ${JSON.stringify(body)}`,
    );
  }
  const version = (body as { result?: { protocolVersion?: unknown } }).result?.protocolVersion;
  if (version !== LEGACY_VERSION)
    throw new Error(`initialize negotiated ${String(version)}, not ${LEGACY_VERSION}`);
  const initialized = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.arrayBuffer();
  if (initialized.status !== 202)
    throw new Error(`notifications/initialized: HTTP ${initialized.status}, expected 202`);
  return sessionId;
}

function legacyRequest(sessionId: string): LoadRequest {
  return {
    headers: {
      'content-type': 'application/json',
      accept: ACCEPT,
      'mcp-session-id': sessionId,
      'mcp-protocol-version': LEGACY_VERSION,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: ECHO_TEXT } },
    }),
  };
}

export const TARGETS: Record<TargetId, Target> = {
  'keyhole-modern': {
    id: 'keyhole-modern',
    description: `Keyhole, ${MODERN_VERSION} stateless`,
    script: script('keyhole-server.ts'),
    era: 'modern',
    prepare: async () => modernRequest(),
  },
  'keyhole-modern-auth': {
    id: 'keyhole-modern-auth',
    description: `Keyhole, ${MODERN_VERSION} stateless, bearer token`,
    script: script('keyhole-auth-server.ts'),
    era: 'modern',
    prepare: (server) => authorizedRequest(server, modernRequest()),
    checkBefore: checkGuarded,
    checkAfter: checkRevocation,
  },
  'keyhole-legacy': {
    id: 'keyhole-legacy',
    description: `Keyhole, ${LEGACY_VERSION} session`,
    script: script('keyhole-server.ts'),
    prepare: async ({ url }) => legacyRequest(await openLegacySession(url)),
  },
  bare: {
    id: 'bare',
    description: 'bare node:http JSON-RPC (floor)',
    script: script('bare-server.ts'),
    prepare: async () => modernRequest(),
  },
  'sdk-v2': {
    id: 'sdk-v2',
    description: `SDK v2 createMcpHandler, ${MODERN_VERSION}`,
    script: script('sdk-server.ts'),
    era: 'modern',
    prepare: async () => modernRequest(),
  },
};

/** Reads a JSON-RPC message from a JSON body or, for an SSE response, its last `data:` event. */
export async function readJsonRpc(res: Response): Promise<unknown> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const events = text
      .split(/\r?\n\r?\n/)
      .map((e) =>
        e
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n'),
      )
      .filter((d) => d.length > 0);
    const last = events.at(-1);
    if (last === undefined) throw new Error(`SSE response without data: ${text.slice(0, 200)}`);
    return JSON.parse(last);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${res.status} ${res.headers.get('content-type')}: not JSON: ${text.slice(0, 200)}`);
  }
}

/** Sends the load request once and checks the echo comes back; returns a short description of the reply. */
export async function verify(url: string, request: LoadRequest, era?: 'modern'): Promise<string> {
  const res = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  const contentType = res.headers.get('content-type') ?? '';
  const message = (await readJsonRpc(res)) as {
    result?: { content?: { type?: unknown; text?: unknown }[]; isError?: unknown; resultType?: unknown };
    error?: unknown;
  };
  const block = message.result?.content?.[0];
  if (
    res.status !== 200 ||
    message.result?.isError === true ||
    block?.type !== 'text' ||
    block.text !== ECHO_TEXT ||
    // 2026-07-28 results MUST carry resultType (MCP 2026-07-28 basic/index "Responses").
    (era === 'modern' && message.result?.resultType !== 'complete')
  ) {
    throw new Error(
      `echo did not come back: HTTP ${res.status} ${contentType}: ${JSON.stringify(message).slice(0, 400)}`,
    );
  }
  return `HTTP ${res.status} ${contentType.split(';')[0]}`;
}
