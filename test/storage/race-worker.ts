// A worker thread with its own SQLite connection, for the cross-connection race tests in
// sqlite.test.ts: waits at a shared barrier so every worker starts at once, then runs its ops.

import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStorage } from '../../src/storage/sqlite/index.ts';

interface Job {
  path: string;
  barrier: SharedArrayBuffer;
  workers: number;
  op: 'consume' | 'rotate';
  hashes: string[];
  worker: number;
  now: number;
}

const job = workerData as Job;
const storage = new SqliteStorage(job.path, { busyTimeoutMs: 30_000 });
const gate = new Int32Array(job.barrier);
// Barrier: the last worker to arrive releases everyone.
if (Atomics.add(gate, 0, 1) + 1 === job.workers) Atomics.notify(gate, 0);
else while (Atomics.load(gate, 0) < job.workers) Atomics.wait(gate, 0, Atomics.load(gate, 0));

const statuses: string[] = [];
for (const hash of job.hashes) {
  if (job.op === 'consume') statuses.push((await storage.codes.consume(hash, job.now)).status);
  else {
    const next = {
      tokenHash: `${hash}-w${job.worker}`,
      grantId: `g-${hash}`,
      createdAt: job.now,
      expiresAt: job.now + 3_600_000,
    };
    statuses.push((await storage.grants.rotate(hash, next, job.now)).status);
  }
}
await storage.close();
parentPort!.postMessage(statuses);
