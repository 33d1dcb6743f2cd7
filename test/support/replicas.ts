// Several `keyhole serve` processes sharing one PostgreSQL database and one Redis prefix (or only the
// database, without redisUrl), behind a round-robin Balancer whose URL is every replica's public URL
// (issuer and resource): the deployment of issue #4, on one machine. Replicas are real child
// processes, so they share nothing but the database, Redis and the secrets every replica of a
// deployment is given.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { cli, type Run, tempDir } from '../cli/helpers.ts';
import { Balancer } from './balancer.ts';

export interface ReplicaSetOptions {
  count: number;
  databaseUrl: string;
  /** Unset: the replicas share only PostgreSQL (its LISTEN/NOTIFY change feed, no KEYHOLE_REDIS_URL). */
  redisUrl?: string;
  redisPrefix?: string;
  /** Extra KEYHOLE_* variables. */
  env?: Record<string, string>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class ReplicaSet {
  readonly balancer: Balancer;
  readonly ports: number[];
  readonly runs: (Run | undefined)[];
  /** The environment every replica gets (plus its own port and data directory). */
  readonly env: Record<string, string>;
  readonly #dataDir: string;

  private constructor(balancer: Balancer, ports: number[], env: Record<string, string>) {
    this.balancer = balancer;
    this.ports = ports;
    this.runs = ports.map(() => undefined);
    this.env = env;
    this.#dataDir = tempDir('keyhole-replicas-');
  }

  static async start(options: ReplicaSetOptions): Promise<ReplicaSet> {
    const ports: number[] = [];
    for (let i = 0; i < options.count; i++) ports.push(await freePort());
    const balancer = new Balancer(ports.map((p) => new URL(`http://127.0.0.1:${p}`)));
    const publicUrl = await balancer.listen();
    const env: Record<string, string> = {
      KEYHOLE_PUBLIC_URL: publicUrl.href.replace(/\/$/, ''),
      KEYHOLE_DATABASE_URL: options.databaseUrl,
      ...(options.redisUrl !== undefined ? { KEYHOLE_REDIS_URL: options.redisUrl } : {}),
      ...(options.redisPrefix !== undefined ? { KEYHOLE_REDIS_PREFIX: options.redisPrefix } : {}),
      // What every replica of one deployment shares (README "Several replicas").
      KEYHOLE_KEY_SECRET: randomBytes(32).toString('base64url'),
      KEYHOLE_STATE_SECRET: randomBytes(32).toString('base64url'),
      KEYHOLE_RATE_LIMIT_PER_MINUTE: '100000',
      KEYHOLE_LOG_LEVEL: 'warn',
      ...options.env,
    };
    const set = new ReplicaSet(balancer, ports, env);
    await Promise.all(ports.map((_, i) => set.startReplica(i)));
    return set;
  }

  get url(): URL {
    return this.balancer.url;
  }

  /** The MCP endpoint (and RFC 8707 resource) as clients see it. */
  get mcpUrl(): URL {
    return new URL('/mcp', this.balancer.url);
  }

  /** The issuer (the public base URL). */
  get issuer(): string {
    return this.env.KEYHOLE_PUBLIC_URL!;
  }

  /** Replica `i`'s own address, bypassing the balancer. */
  direct(i: number): URL {
    return new URL(`http://127.0.0.1:${this.ports[i]}`);
  }

  /**
   * Starts replica `i` (again) on its port and waits until it reports ready. Ports are picked free
   * before the processes start, so another test file may take one meanwhile: a replica that cannot
   * bind its port (EADDRINUSE) is started again on a new one, which the balancer then routes to.
   */
  async startReplica(i: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#startOnce(i);
        return;
      } catch (err) {
        if (attempt >= 5 || !/EADDRINUSE/.test(this.stderr(i))) throw err;
        this.ports[i] = await freePort();
        this.balancer.targets[i] = new URL(`http://127.0.0.1:${this.ports[i]}`);
      }
    }
  }

  async #startOnce(i: number): Promise<void> {
    const run = cli(['serve'], {
      ...this.env,
      KEYHOLE_PORT: String(this.ports[i]),
      KEYHOLE_DATA_DIR: join(this.#dataDir, `replica-${i}`),
    });
    this.runs[i] = run;
    let done = false;
    const exited = run.exited.then((code) => {
      throw new Error(`replica ${i} exited with ${code}:\n${run.stderr()}`);
    });
    const ready = (async () => {
      while (!done) {
        try {
          const res = await fetch(new URL('/health/ready', this.direct(i)));
          await res.body?.cancel();
          // Ours, not another process that took the port: ours is still running.
          if (res.status === 200 && run.child.exitCode === null && run.child.signalCode === null) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      await Promise.race([ready, exited]);
    } finally {
      done = true;
    }
    this.balancer.down.delete(i);
  }

  /** Kills replica `i` at once (SIGKILL: no drain, as a crash) and takes it out of rotation. */
  async kill(i: number): Promise<void> {
    const run = this.runs[i];
    this.balancer.down.add(i);
    if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
    run.child.kill('SIGKILL');
    await run.exited.catch(() => {});
  }

  /** Stderr of replica `i` so far (for failure messages). */
  stderr(i: number): string {
    return this.runs[i]?.stderr() ?? '';
  }

  async close(): Promise<void> {
    for (const run of this.runs) {
      if (run && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGTERM');
    }
    await Promise.all(this.runs.map((r) => r?.exited));
    await this.balancer.close();
  }
}
