// One load measurement with autocannon: a warm-up run (discarded) then the measured run.
// Latency percentiles come from every 2xx response time as autocannon measured it (float ms);
// autocannon's own histogram rounds to whole milliseconds, too coarse at these latencies.

import autocannon, { type Result } from 'autocannon';
import type { LoadRequest } from './targets.ts';

export interface LoadResult {
  connections: number;
  /** Completed requests per second (all statuses) over the measured run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, including timeouts. */
  errors: number;
  non2xx: number;
  durationS: number;
  /** Server CPU time (user + system) per completed request, µs; undefined where not measurable. */
  cpuUsPerRequest: number | undefined;
}

/** Latency samples (float ms), for exact percentiles. */
export class Samples {
  #data = new Float64Array(1 << 16);
  #n = 0;
  add(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = v;
  }
  percentiles(ps: readonly number[]): number[] {
    const sorted = this.#data.slice(0, this.#n).sort();
    if (sorted.length === 0) return ps.map(() => Number.NaN);
    return ps.map((p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
  }
}

function run(
  url: string,
  request: LoadRequest,
  connections: number,
  durationS: number,
  samples?: Samples,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        connections,
        pipelining: 1,
        duration: durationS,
        timeout: 10,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (samples) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        if (status >= 200 && status < 300) samples.add(ms);
      });
    }
  });
}

/** Sums the counters of runs that went on at the same time (against several servers). */
function combine(results: Result[]) {
  const sum = (f: (r: Result) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    total: sum((r) => r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx']),
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    // The runs start together and last as long as each other: the longest is the wall-clock span.
    duration: Math.max(...results.map((r) => r.duration)),
  };
}

/**
 * Like `measure`, with the load split across several servers at once (replicas behind a load balancer
 * the runner plays): `connections` in total, divided evenly (at least one each). req/s is the sum,
 * the latency percentiles are over every response of every server, and the CPU time is the servers'
 * sum.
 */
export async function measureSplit(
  urls: readonly string[],
  request: LoadRequest,
  connections: number,
  warmupS: number,
  durationS: number,
  cpuTimeMs: () => number | undefined,
): Promise<LoadResult> {
  const share = (i: number) =>
    Math.max(1, Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0));
  if (warmupS > 0) await Promise.all(urls.map((u, i) => run(u, request, share(i), warmupS)));
  const samples = new Samples();
  const cpuBefore = cpuTimeMs();
  const results = await Promise.all(urls.map((u, i) => run(u, request, share(i), durationS, samples)));
  const cpuAfter = cpuTimeMs();
  const [p50, p99] = samples.percentiles([50, 99]);
  const r = combine(results);
  return {
    connections: urls.reduce((n, _, i) => n + share(i), 0),
    rps: r.total / r.duration,
    p50Ms: p50!,
    p99Ms: p99!,
    requests: r.total,
    errors: r.errors,
    non2xx: r.non2xx,
    durationS: r.duration,
    cpuUsPerRequest:
      cpuBefore === undefined || cpuAfter === undefined || r.total === 0
        ? undefined
        : ((cpuAfter - cpuBefore) * 1000) / r.total,
  };
}

export async function measure(
  url: string,
  request: LoadRequest,
  connections: number,
  warmupS: number,
  durationS: number,
  cpuTimeMs: () => number | undefined,
): Promise<LoadResult> {
  if (warmupS > 0) await run(url, request, connections, warmupS);
  const samples = new Samples();
  const cpuBefore = cpuTimeMs();
  const r = await run(url, request, connections, durationS, samples);
  const cpuAfter = cpuTimeMs();
  const [p50, p99] = samples.percentiles([50, 99]);
  const total = r['1xx'] + r['2xx'] + r['3xx'] + r['4xx'] + r['5xx'];
  return {
    connections,
    rps: total / r.duration,
    p50Ms: p50!,
    p99Ms: p99!,
    requests: total,
    errors: r.errors,
    non2xx: r.non2xx,
    durationS: r.duration,
    cpuUsPerRequest:
      cpuBefore === undefined || cpuAfter === undefined || total === 0
        ? undefined
        : ((cpuAfter - cpuBefore) * 1000) / total,
  };
}
