// The connections a Redis server holds, as CLIENT LIST reports them: how tests count the connections
// a Keyhole opens (each named `keyhole:<role>` with CLIENT SETNAME, docs/storage.md "Connections").

import { createClient } from 'redis';

export interface RedisConnectionInfo {
  readonly id: string;
  /** CLIENT SETNAME, '' when unnamed. */
  readonly name: string;
  /** ACL user. */
  readonly user: string;
  /** Channels the connection is subscribed to. */
  readonly sub: number;
}

/** Every connection of the server at `url` except the one asking. */
export async function redisConnections(url: string): Promise<RedisConnectionInfo[]> {
  const admin = createClient({ url });
  await admin.connect();
  try {
    const self = String(await admin.clientId());
    const text = String(await admin.sendCommand(['CLIENT', 'LIST']));
    const out: RedisConnectionInfo[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const fields = new Map<string, string>();
      for (const pair of line.trim().split(' ')) {
        const eq = pair.indexOf('=');
        if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      const id = fields.get('id') ?? '';
      if (id === self) continue;
      out.push({
        id,
        name: fields.get('name') ?? '',
        user: fields.get('user') ?? '',
        sub: Number(fields.get('sub') ?? 0),
      });
    }
    return out;
  } finally {
    admin.destroy();
  }
}

/** The connections' names, sorted (for deepEqual). */
export function names(connections: readonly RedisConnectionInfo[]): string[] {
  return connections.map((c) => c.name).sort();
}
