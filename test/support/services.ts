// PRIVATE PostgreSQL and Redis servers for tests that stop and start their storage (issue #4 "Failure":
// "PostgreSQL and Redis stopped and started again during a test"). Each lives in its own temporary
// directory on a free loopback port; the shared servers on 5432 and 6379, which other tests use at the
// same time, are never touched. Both are tuned for speed, not durability (no fsync, no snapshots).
//
// PostgreSQL refuses to run as root, so initdb and pg_ctl run as the `postgres` OS user (runuser), in a
// directory it owns, with its Unix socket inside that directory and trust authentication.

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A server of our own: stop it, start it again on the same port with the same data, close it for good. */
export interface PrivateService {
  /** Loopback port, the same across stop/start. */
  readonly port: number;
  /** Connection URL (no password). */
  readonly url: string;
  readonly running: boolean;
  /** Stops the server, keeping its data; resolves once the port refuses connections. Idempotent. */
  stop(): Promise<void>;
  /** Starts it again (same port, same data); resolves once it accepts connections. Idempotent. */
  start(): Promise<void>;
  /**
   * Freezes the server's processes (SIGSTOP): connections stay open but nothing answers, as with a
   * hung server or a network partition. resume() (SIGCONT) lets it go on where it stopped.
   */
  pause(): void;
  resume(): void;
  /** Stops it and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released: the server binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls until `check` holds, or throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Servers still running when the test process exits (a failed test, a missing close()) are stopped
// synchronously on the way out, so none outlives the run.
const atExit = new Set<() => void>();
process.once('exit', () => {
  for (const fn of atExit) {
    try {
      fn();
    } catch {
      // Best effort on the way out.
    }
  }
});

// ---------------------------------------------------------------------------------------------------
// Redis

const REDIS_SERVER = process.env.KEYHOLE_TEST_REDIS_SERVER ?? 'redis-server';

export interface PrivateRedis extends PrivateService {
  /** Kills the server (SIGKILL): unlike stop(), whatever it held is lost, as in a crash. */
  crash(): Promise<void>;
}

/**
 * A private redis-server: `--save "" --appendonly no` (no background persistence), in a temporary
 * directory. stop() shuts it down with SHUTDOWN SAVE, which writes one snapshot there even without
 * save points, so start() comes back with the same keys, as a restarted production server with
 * persistence would; crash() loses them.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'keyhole-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;
  let closed = false;

  const kill = () => {
    child?.kill('SIGCONT');
    child?.kill('SIGKILL');
  };
  atExit.add(kill);

  const start = async () => {
    if (closed) throw new Error('the private Redis is closed');
    if (child) return;
    const proc = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--dbfilename',
        'dump.rdb',
        '--daemonize',
        'no',
        '--logfile',
        join(dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    );
    child = proc;
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      if (child === proc) child = undefined;
    });
    await waitFor(`redis-server on port ${port} (log: ${join(dir, 'redis.log')})`, async () => {
      if (exited) throw new Error(`redis-server exited at start (log: ${join(dir, 'redis.log')})`);
      return (await portOpen(port)) && (await redisAnswers(port));
    });
  };

  const exit = async (how: 'save' | 'kill') => {
    const proc = child;
    if (!proc) return;
    const gone = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.kill('SIGCONT');
    if (how === 'kill') proc.kill('SIGKILL');
    else await redisShutdownSave(port).catch(() => proc.kill('SIGKILL'));
    await gone;
    child = undefined;
    await waitFor(`port ${port} to close`, async () => !(await portOpen(port)));
  };

  // The port was free when picked; another test may have taken it since.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      const taken = /already in use|could not create server tcp/i.test(readLog(join(dir, 'redis.log')));
      if (attempt >= 5 || !taken) {
        kill();
        atExit.delete(kill);
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
      rmSync(join(dir, 'redis.log'), { force: true });
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    start,
    stop: () => exit('save'),
    crash: () => exit('kill'),
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async close() {
      if (closed) return;
      await exit('kill');
      closed = true;
      atExit.delete(kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One raw RESP command on a fresh connection; resolves with the first reply line. */
function redisRaw(port: number, args: string[]): Promise<string> {
  const payload = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('no reply')));
    socket.once('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf('\r\n')));
      }
    });
    // SHUTDOWN closes the connection without a reply.
    socket.once('close', () => resolve(data));
    socket.once('error', reject);
  });
}

async function redisAnswers(port: number): Promise<boolean> {
  try {
    return (await redisRaw(port, ['PING'])) === '+PONG';
  } catch {
    return false;
  }
}

async function redisShutdownSave(port: number): Promise<void> {
  const reply = await redisRaw(port, ['SHUTDOWN', 'SAVE']);
  if (reply.startsWith('-')) throw new Error(`SHUTDOWN SAVE: ${reply}`);
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL

const PG_BIN = process.env.KEYHOLE_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

export interface PrivatePostgres extends PrivateService {
  /** URL of another database on this server (create it with createDatabase). */
  urlFor(database: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
}

/** Runs a PostgreSQL program as the `postgres` OS user (PostgreSQL refuses to run as root). */
function pgArgs(program: string, args: string[]): [string, string[]] {
  const path = join(PG_BIN, program);
  return process.getuid?.() === 0 ? ['runuser', ['-u', PG_USER, '--', path, ...args]] : [path, args];
}

/**
 * A private PostgreSQL 15 cluster: initdb (trust auth, no fsync) into a temporary directory owned by
 * `postgres`, listening on 127.0.0.1:<free port> with its socket in that directory. stop() is a fast
 * shutdown (clients are disconnected, data kept); start() brings the same cluster back on the same port.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'keyhole-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'postgres.log');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', PG_USER]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', PG_USER]).toString().trim());
    chownSync(dir, uid, gid);
  }
  let port = await freePort();
  let running = false;
  let closed = false;

  const [initdb, initArgs] = pgArgs('initdb', [
    '-D',
    data,
    '-U',
    PG_USER,
    '--auth=trust',
    '--no-sync',
    '--encoding=UTF8',
    '--locale=C',
    '--no-instructions',
  ]);
  try {
    await run(initdb, initArgs);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, {
      cause: err,
    });
  }

  const pgCtl = (args: string[]) => {
    const [cmd, argv] = pgArgs('pg_ctl', ['-D', data, ...args]);
    return { cmd, argv };
  };
  const stopNow = () => {
    const { cmd, argv } = pgCtl(['-m', 'immediate', '-w', 'stop']);
    execFileSync(cmd, argv, { stdio: 'ignore' });
  };
  const onExit = () => {
    if (paused) signal('SIGCONT');
    if (running) stopNow();
    rmSync(dir, { recursive: true, force: true });
  };
  atExit.add(onExit);

  const options = () =>
    [
      '-c listen_addresses=127.0.0.1',
      `-p ${port}`,
      `-k ${dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=50',
    ].join(' ');

  const start = async () => {
    if (closed) throw new Error('the private PostgreSQL is closed');
    if (running) return;
    const { cmd, argv } = pgCtl(['-l', log, '-o', options(), '-w', '-t', '60', 'start']);
    try {
      await run(cmd, argv);
    } catch (err) {
      throw new Error(`pg_ctl start failed (log: ${log}): ${(err as { stderr?: string }).stderr ?? ''}`, {
        cause: err,
      });
    }
    running = true;
  };

  const stop = async () => {
    if (!running) return;
    // Fast shutdown: connected clients are terminated (57P01), as in a server restart.
    const { cmd, argv } = pgCtl(['-m', 'fast', '-w', '-t', '60', 'stop']);
    await run(cmd, argv);
    running = false;
    await waitFor(`port ${port} to close`, async () => !(await portOpen(port)));
  };

  const urlFor = (database: string) => `postgres://${PG_USER}@127.0.0.1:${port}/${database}`;

  /** The postmaster and its children (backends, background workers), by pid. */
  const processes = (): number[] => {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)])
      .toString()
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
    return [pid, ...children];
  };
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of processes()) {
      try {
        process.kill(pid, sig);
      } catch {
        // Exited in between.
      }
    }
  };
  let paused = false;
  const resume = () => {
    if (!paused) return;
    paused = false;
    signal('SIGCONT');
  };

  // The port was free when picked; another test may have taken it since (initdb takes a while).
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      const taken = /could not bind|already in use/i.test(readLog(log));
      if (attempt >= 5 || !taken) {
        onExit();
        atExit.delete(onExit);
        throw err;
      }
      port = await freePort();
    }
  }
  return {
    port,
    url: urlFor('postgres'),
    get running() {
      return running;
    },
    start,
    async stop() {
      resume();
      await stop();
    },
    pause() {
      if (!running || paused) return;
      paused = true;
      signal('SIGSTOP');
    },
    resume,
    urlFor,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const c = new pg.Client({ connectionString: urlFor('postgres'), connectionTimeoutMillis: 5000 });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return urlFor(name);
    },
    async close() {
      if (closed) return;
      closed = true;
      resume();
      if (running) {
        const { cmd, argv } = pgCtl(['-m', 'immediate', '-w', 'stop']);
        await run(cmd, argv).catch(() => {});
        running = false;
      }
      atExit.delete(onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A server log's text, or '' if there is none yet. */
function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
