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

class Samples {
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
