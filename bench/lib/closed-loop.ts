// A closed-loop load generator for requests that cannot be repeated: N workers, each looping "take a
// fresh input → POST it → check the reply" for a fixed time, over keep-alive connections (one node:http
// Agent socket per worker). autocannon sends one fixed request, which the token endpoint refuses the
// second time (a code is single-use, a refresh token is rotated), hence this.
//
// Every reply is checked by the caller's `accept`; only accepted replies count as completed and give a
// latency sample. Anything else (other status, a body that does not check out, a socket error) is an
// error, with the first few reasons kept for the report.

import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Samples } from './load.ts';

export interface LoopRequest {
  body: string;
  /** Checks the reply; returns undefined when it is what the protocol promises, else the reason. */
  accept(status: number, body: string): string | undefined;
}

export interface LoopOptions {
  /** The URL each request is POSTed to (form-encoded). */
  url: string;
  workers: number;
  durationS: number;
  /**
   * The next request of worker `w`, or undefined when it has no more input (a drained code pool): that
   * worker stops, the run ends when all have stopped or the time is up.
   */
  next(w: number): LoopRequest | undefined;
  cpuTimeMs(): number | undefined;
}

export interface LoopResult {
  connections: number;
  /** Accepted replies per second over the run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Accepted replies (each checked by `accept`). */
  requests: number;
  /** Replies refused by `accept`, or requests that failed on the socket. */
  errors: number;
  /** The first few reasons of `errors`. */
  errorSamples: string[];
  durationS: number;
  /** True when a worker ran out of input before the time was up. */
  drained: boolean;
  /** Server CPU time (user + system) per accepted reply, µs. */
  cpuUsPerRequest: number | undefined;
}

function post(agent: Agent, url: URL, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          accept: 'application/json',
        },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no reply within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function closedLoop(opts: LoopOptions): Promise<LoopResult> {
  const url = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.workers });
  const samples = new Samples();
  const errorSamples: string[] = [];
  let completed = 0;
  let errors = 0;
  let drained = false;
  const cpuBefore = opts.cpuTimeMs();
  const start = performance.now();
  const deadline = start + opts.durationS * 1000;
  const worker = async (w: number) => {
    while (performance.now() < deadline) {
      const input = opts.next(w);
      if (input === undefined) {
        drained = true;
        return;
      }
      const t0 = performance.now();
      let problem: string | undefined;
      try {
        const res = await post(agent, url, input.body);
        problem = input.accept(res.status, res.body);
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      if (problem === undefined) {
        samples.add(performance.now() - t0);
        completed++;
      } else {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(problem);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.workers }, (_, w) => worker(w)));
  const elapsedS = (performance.now() - start) / 1000;
  const cpuAfter = opts.cpuTimeMs();
  agent.destroy();
  const [p50, p99] = samples.percentiles([50, 99]);
  return {
    connections: opts.workers,
    rps: completed / elapsedS,
    p50Ms: p50!,
    p99Ms: p99!,
    requests: completed,
    errors,
    errorSamples,
    durationS: elapsedS,
    drained,
    cpuUsPerRequest:
      cpuBefore === undefined || cpuAfter === undefined || completed === 0
        ? undefined
        : ((cpuAfter - cpuBefore) * 1000) / completed,
  };
}
