// The session backplane on Redis (issue #4 "Replicas"): legacy session state, bounded event logs for
// Last-Event-ID, and pub/sub between replicas. It needs a command connection and a subscriber
// connection (node-redis needs a dedicated one for SUBSCRIBE). In a Keyhole with Redis storage it
// borrows the storage's two (Storage.redis: `keyhole:storage`, and the change feed's
// `keyhole:subscriber`) and never closes them; on its own (`url`, e.g. `--auth none`) it opens, and
// closes, `keyhole:sessions` and `keyhole:sessions-subscriber`. Every command runs under the command
// connection's deadline (redisCommand): an outage rejects with RedisUnavailableError, and the
// transport answers 503 (shared-sessions.ts `unavailable`).
//
// Key layout, all under the prefix (default `keyhole:`); `{sid}` is a Redis Cluster hash tag, so one
// session's keys share a slot and its scripts stay single-slot:
//   ls:{sid}              HASH   k kind · v protocol version · caps, info (JSON) · init '1'|'0' · lvl
//                                ps, pc principal subject and client id (pa '1' when bound) ·
//                                ver mutation counter · sq last seq of the standalone stream (> 0
//                                once a GET opened it)
//   ls:{sid}:subs         SET    resources/subscribe URIs
//   ls:{sid}:streams      ZSET   the session's resumable streams (score: creation time, ms)
//   ls:{sid}:ev:<stream>  STREAM its events, entry id `<seq>-0`, field d = the message ('' = end)
//   ls:{sid}:dd           ZSET   ids of the server changes already in the standalone log (score:
//                                time, ms), the latest maxEventsPerStream: every replica with a copy
//                                of the session appends each change, the first one logs it
// Every key expires after the idle timeout; activity (load) renews the session keys, an append renews
// its log. Channels: `ls:bus` (control messages for every replica), `ls:ch:<sid>` (one session's live
// events: "<stream>\n<seq>\n<data>").

import { randomInt } from 'node:crypto';
import {
  closeRedis,
  connectRedis,
  duplicateRedis,
  type RedisClient,
  type RedisConnections,
  redisCommand,
  redisConnected,
  redisConnectionName,
  Script,
} from '../../storage/redis/client.ts';
import type {
  BusMessage,
  LoggedEvent,
  SessionBackplane,
  SessionListener,
  SessionMutation,
  SessionRecord,
} from './backplane.ts';

interface CommonOptions {
  /** Prefix of every key and channel (default `keyhole:`). */
  prefix?: string;
  /** Events kept per stream (MAXLEN), as MemoryEventStore's maxEventsPerStream. Default 256. */
  maxEventsPerStream?: number;
  /** Streams kept per session; the oldest log goes first beyond it. Default 64. */
  maxStreamsPerSession?: number;
}

/** A backplane with connections of its own, opened here and closed by close(). */
export interface OwnRedisOptions extends CommonOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /**
   * A command without a reply for this long fails with RedisUnavailableError (the request then gets
   * 503). Default 2000 ms (DEFAULT_REDIS_COMMAND_TIMEOUT_MS).
   */
  commandTimeoutMs?: number;
  /** First connection timeout, ms (default 2000, DEFAULT_REDIS_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /** Connection errors after start-up (they are retried, not thrown). */
  onError?: (err: Error) => void;
}

/**
 * A backplane on borrowed connections (a storage's Storage.redis): their deadline, reconnection and
 * error reporting apply, and close() leaves them open for their owner to close.
 */
export interface BorrowedRedisOptions extends CommonOptions {
  redis: RedisConnections;
}

export type RedisSessionBackplaneOptions = OwnRedisOptions | BorrowedRedisOptions;

export interface RedisSessionBackplane extends SessionBackplane {
  /** Resolves if Redis answers (for /health/ready). */
  ping(): Promise<void>;
  /**
   * Stops receiving: its own connections are closed; borrowed ones are left open, with this
   * backplane's channels unsubscribed. Idempotent.
   */
  close(): Promise<void>;
}

const REPLICA_ID_LENGTH = 10;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

const LOAD = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return {redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[2])}
`);

const MUTATE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local op = ARGV[2]
if op == 'initialized' then redis.call('HSET', KEYS[1], 'init', '1')
elseif op == 'logLevel' then
  if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'lvl') else redis.call('HSET', KEYS[1], 'lvl', ARGV[3]) end
elseif op == 'subscribe' then redis.call('SADD', KEYS[2], ARGV[3])
elseif op == 'unsubscribe' then redis.call('SREM', KEYS[2], ARGV[3])
elseif op == 'initialize' then redis.call('HSET', KEYS[1], 'v', ARGV[3], 'caps', ARGV[4], 'info', ARGV[5])
end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return {redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[2])}
`);

// KEYS: hash, subs, streams, change ids. ARGV: key prefix of the session's logs.
const REMOVE = new Script(`
for _, s in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do redis.call('DEL', ARGV[1] .. s) end
return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
`);

// KEYS: hash, streams, log[, change ids]. ARGV: seq ('' = allocate), data, maxlen, ttl, channel,
// stream id, max streams, log key prefix, now[, change id]. With a change id already logged: 0,
// nothing logged or published (no seq allocated either).
const APPEND = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if KEYS[4] then
  if redis.call('ZADD', KEYS[4], 'NX', ARGV[9], ARGV[10]) == 0 then return 0 end
  if redis.call('ZCARD', KEYS[4]) > tonumber(ARGV[3]) then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, 0) end
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
end
local seq = ARGV[1]
if seq == '' then seq = tostring(redis.call('HINCRBY', KEYS[1], 'sq', 1)) end
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], seq .. '-0', 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if redis.call('ZADD', KEYS[2], 'NX', ARGV[9], ARGV[6]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  while redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[7]) do
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 1)
    local victim = oldest[1]
    if victim == ARGV[6] then victim = oldest[2] end
    redis.call('ZREM', KEYS[2], victim)
    redis.call('DEL', ARGV[8] .. victim)
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[6] .. '\\n' .. seq .. '\\n' .. ARGV[2])
return seq
`);

const ALLOCATE = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HINCRBY', KEYS[1], 'sq', 1)
`);

/**
 * The backplane on borrowed connections (`redis`) or on two of its own (`url`). Rejects with
 * RedisUnavailableError if Redis cannot be reached.
 */
export async function createRedisSessionBackplane(
  options: RedisSessionBackplaneOptions,
): Promise<RedisSessionBackplane> {
  if ('redis' in options) {
    const subscriber = await options.redis.subscriber();
    return new RedisBackplane(options.redis.client, subscriber, false, options);
  }
  const client = await connectRedis({ ...options, name: redisConnectionName('sessions') });
  // The duplicate keeps connectRedis's options (no offline queue, reconnection, deadlines) but not its
  // listeners.
  const subscriber = duplicateRedis(client, 'sessions-subscriber');
  subscriber.on('error', (err: Error) => options.onError?.(err));
  try {
    await redisConnected(subscriber, subscriber.connect());
  } catch (err) {
    if (subscriber.isOpen) subscriber.destroy();
    client.destroy();
    throw err;
  }
  return new RedisBackplane(client, subscriber, true, options);
}

class RedisBackplane implements RedisSessionBackplane {
  readonly replicaId: string;
  readonly #client: RedisClient;
  readonly #sub: RedisClient;
  /** Whether the connections are this backplane's own, to close; else borrowed, left open. */
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #bus: string;
  readonly #maxEvents: string;
  readonly #maxStreams: string;
  /** Live listeners per session channel. */
  readonly #listeners = new Map<string, Set<SessionListener>>();
  /**
   * This backplane's handler of each channel it has subscribed (or is subscribing) on the subscriber
   * connection: unsubscribed with exactly that handler, so others' on a shared connection stay.
   */
  readonly #handlers = new Map<string, (message: string) => void>();
  /** SUBSCRIBE/UNSUBSCRIBE in order, so a quick unlisten-listen pair cannot end unsubscribed. */
  #subscriptions: Promise<unknown> = Promise.resolve();
  #receiver: { onMessage(message: BusMessage): void; onLost(): void } | undefined;
  readonly #lost = () => this.#receiver?.onLost();
  #closed = false;

  constructor(client: RedisClient, subscriber: RedisClient, owned: boolean, options: CommonOptions) {
    this.#client = client;
    this.#sub = subscriber;
    this.#owned = owned;
    this.#prefix = `${options.prefix ?? 'keyhole:'}ls:`;
    this.#bus = `${this.#prefix}bus`;
    this.#maxEvents = String(options.maxEventsPerStream ?? 256);
    this.#maxStreams = String(options.maxStreamsPerSession ?? 64);
    let id = '';
    for (let i = 0; i < REPLICA_ID_LENGTH; i++) id += LETTERS[randomInt(LETTERS.length)];
    this.replicaId = id;
    // Messages published while the subscriber was away are lost: the transport re-reads what it
    // holds. Its first 'ready' came before this constructor, so every later one is a reconnection.
    subscriber.on('ready', this.#lost);
    subscriber.on('end', this.#lost);
    subscriber.on('error', this.#lost);
  }

  #keys(sid: string): [string, string, string] {
    const h = `${this.#prefix}{${sid}}`;
    return [h, `${h}:subs`, `${h}:streams`];
  }

  #log(sid: string, streamId: string): string {
    return `${this.#prefix}{${sid}}:ev:${streamId}`;
  }

  /** The ids of the server changes already in the session's standalone log. */
  #changes(sid: string): string {
    return `${this.#prefix}{${sid}}:dd`;
  }

  #channel(sid: string): string {
    return `${this.#prefix}ch:${sid}`;
  }

  /** One command (or MULTI) under the command deadline: an outage rejects with RedisUnavailableError. */
  #run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    return redisCommand(this.#client, () => command(this.#client));
  }

  async create(sid: string, r: SessionRecord, ttlMs: number): Promise<void> {
    const [h, subs, streams] = this.#keys(sid);
    const fields: Record<string, string> = {
      k: r.kind,
      caps: JSON.stringify(r.clientCapabilities),
      init: r.initialized ? '1' : '0',
      ver: String(r.version),
      sq: '0',
      pa: r.principal ? '1' : '0',
    };
    if (r.protocolVersion !== undefined) fields.v = r.protocolVersion;
    if (r.clientInfo !== undefined) fields.info = JSON.stringify(r.clientInfo);
    if (r.logLevel !== undefined) fields.lvl = r.logLevel;
    if (r.principal) {
      fields.ps = r.principal.subject;
      fields.pc = r.principal.clientId;
    }
    await this.#run((c) => {
      const multi = c.multi().del([subs, streams]).hSet(h, fields).pExpire(h, ttlMs);
      if (r.subscriptions.length) multi.sAdd(subs, [...r.subscriptions]).pExpire(subs, ttlMs);
      return multi.exec();
    });
  }

  async load(sid: string, ttlMs: number): Promise<SessionRecord | undefined> {
    return parseRecord(await LOAD.run(this.#client, this.#keys(sid), [String(ttlMs)]));
  }

  async exists(sid: string): Promise<boolean> {
    return (await this.#run((c) => c.exists(this.#keys(sid)[0]))) === 1;
  }

  async mutate(sid: string, m: SessionMutation, ttlMs: number): Promise<SessionRecord | undefined> {
    let args: string[];
    switch (m.op) {
      case 'initialized':
        args = [];
        break;
      case 'logLevel':
        args = [m.level ?? ''];
        break;
      case 'subscribe':
      case 'unsubscribe':
        args = [m.uri];
        break;
      case 'initialize':
        args = [
          m.protocolVersion,
          JSON.stringify(m.clientCapabilities),
          m.clientInfo === undefined ? '' : JSON.stringify(m.clientInfo),
        ];
    }
    return parseRecord(await MUTATE.run(this.#client, this.#keys(sid), [String(ttlMs), m.op, ...args]));
  }

  async remove(sid: string): Promise<void> {
    await REMOVE.run(this.#client, [...this.#keys(sid), this.#changes(sid)], [`${this.#prefix}{${sid}}:ev:`]);
  }

  async append(
    sid: string,
    streamId: string,
    seq: number | undefined,
    data: string,
    ttlMs: number,
    changeId?: string,
  ): Promise<number | undefined> {
    const [h, , streams] = this.#keys(sid);
    const keys = [h, streams, this.#log(sid, streamId)];
    const args = [
      seq === undefined ? '' : String(seq),
      data,
      this.#maxEvents,
      String(ttlMs),
      this.#channel(sid),
      streamId,
      this.#maxStreams,
      `${this.#prefix}{${sid}}:ev:`,
      String(Date.now()),
    ];
    if (changeId !== undefined) {
      keys.push(this.#changes(sid));
      args.push(changeId);
    }
    const r = await APPEND.run(this.#client, keys, args);
    return r === null ? undefined : Number(r);
  }

  async allocate(sid: string): Promise<number | undefined> {
    const r = await ALLOCATE.run(this.#client, [this.#keys(sid)[0]], []);
    return r === null ? undefined : Number(r);
  }

  async addStream(sid: string, streamId: string, ttlMs: number): Promise<void> {
    const streams = this.#keys(sid)[2];
    await this.#run((c) =>
      c
        .multi()
        .zAdd(streams, { score: Date.now(), value: streamId }, { NX: true })
        .pExpire(streams, ttlMs)
        .exec(),
    );
  }

  async hasStream(sid: string, streamId: string): Promise<boolean> {
    return (await this.#run((c) => c.zScore(this.#keys(sid)[2], streamId))) !== null;
  }

  async read(sid: string, streamId: string, afterSeq: number): Promise<LoggedEvent[]> {
    const entries = await this.#run((c) => c.xRange(this.#log(sid, streamId), `${afterSeq + 1}-0`, '+'));
    return entries.map((e) => ({ seq: Number.parseInt(e.id, 10), data: String(e.message.d ?? '') }));
  }

  async dropStream(sid: string, streamId: string): Promise<void> {
    await this.#run((c) => c.multi().del(this.#log(sid, streamId)).zRem(this.#keys(sid)[2], streamId).exec());
  }

  async publishLive(sid: string, streamId: string, data: string): Promise<void> {
    await this.#run((c) => c.publish(this.#channel(sid), `${streamId}\n0\n${data}`));
  }

  async listen(sid: string, listener: SessionListener): Promise<() => void> {
    let set = this.#listeners.get(sid);
    const first = set === undefined;
    if (!set) {
      set = new Set();
      this.#listeners.set(sid, set);
    }
    set.add(listener);
    if (first) {
      try {
        await this.#subscribe(this.#channel(sid), (msg) => this.#live(sid, msg));
      } catch (err) {
        this.#unlisten(sid, listener);
        throw err;
      }
    } else await this.#subscriptions;
    return () => this.#unlisten(sid, listener);
  }

  #unlisten(sid: string, listener: SessionListener): void {
    const set = this.#listeners.get(sid);
    if (!set?.delete(listener) || set.size > 0) return;
    this.#listeners.delete(sid);
    // Unless listened to again meanwhile.
    this.#unsubscribe(this.#channel(sid), () => !this.#listeners.has(sid)).catch(() => {});
  }

  /**
   * SUBSCRIBE `channel` with `handler`, in order with the other (un)subscriptions and under the
   * deadline. A channel already subscribed is left as it is.
   */
  #subscribe(channel: string, handler: (message: string) => void): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) throw new Error('the session backplane is closed');
      if (this.#handlers.has(channel)) return;
      // Recorded first: if the reply misses the deadline, node-redis may still register the handler
      // when it arrives, and the unsubscription that follows must name it.
      this.#handlers.set(channel, handler);
      await redisCommand(this.#sub, () => this.#sub.subscribe(channel, handler));
    });
  }

  /** UNSUBSCRIBE this backplane's handler of `channel` (if `still()`), in order and under the deadline. */
  #unsubscribe(channel: string, still: () => boolean = () => true): Promise<void> {
    return this.#serial(async () => {
      const handler = this.#handlers.get(channel);
      if (handler === undefined || !still()) return;
      this.#handlers.delete(channel);
      // Own connections are closed with the backplane: nothing to unsubscribe from.
      if (this.#closed && this.#owned) return;
      await redisCommand(this.#sub, () => this.#sub.unsubscribe(channel, handler));
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#subscriptions.then(op, op);
    this.#subscriptions = next.catch(() => {});
    return next;
  }

  #live(sid: string, message: string): void {
    const a = message.indexOf('\n');
    const b = message.indexOf('\n', a + 1);
    if (a < 0 || b < 0) return;
    const streamId = message.slice(0, a);
    const seq = Number(message.slice(a + 1, b));
    const data = message.slice(b + 1);
    const set = this.#listeners.get(sid);
    if (set) for (const l of [...set]) l(streamId, seq, data);
  }

  async publish(message: BusMessage): Promise<void> {
    await this.#run((c) => c.publish(this.#bus, JSON.stringify(message)));
  }

  attach(receiver: { onMessage(message: BusMessage): void; onLost(): void }): () => void {
    if (this.#receiver) throw new Error('the session backplane is already attached to an app');
    this.#receiver = receiver;
    const onBus = (msg: string) => {
      let parsed: BusMessage;
      try {
        parsed = JSON.parse(msg) as BusMessage;
      } catch {
        return;
      }
      if (parsed.from !== this.replicaId) this.#receiver?.onMessage(parsed);
    };
    this.#subscribe(this.#bus, onBus).catch(() => receiver.onLost());
    return () => {
      if (this.#receiver !== receiver) return;
      this.#receiver = undefined;
      this.#unsubscribe(this.#bus).catch(() => {});
    };
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new Error('the session backplane is closed');
    await this.#run((c) => c.ping());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#receiver = undefined;
    this.#sub.off('ready', this.#lost);
    this.#sub.off('end', this.#lost);
    this.#sub.off('error', this.#lost);
    if (this.#owned) {
      await Promise.all([closeRedis(this.#sub), closeRedis(this.#client)]);
      return;
    }
    // Borrowed: the owner closes the connections; this backplane's channels go now, after every
    // (un)subscription already queued. Each is bounded by the deadline, and failures (Redis down)
    // leave nothing behind that the owner's close will not end.
    await Promise.allSettled([...this.#handlers.keys()].map((channel) => this.#unsubscribe(channel)));
  }
}

function parseRecord(raw: unknown): SessionRecord | undefined {
  if (!Array.isArray(raw)) return undefined;
  const [flat, subs] = raw as [unknown, unknown];
  const h: Record<string, string> = {};
  if (Array.isArray(flat)) {
    for (let i = 0; i + 1 < flat.length; i += 2) h[String(flat[i])] = String(flat[i + 1]);
  } else if (flat && typeof flat === 'object') Object.assign(h, flat);
  if (h.k !== 'streamable' && h.k !== 'sse') return undefined;
  return {
    kind: h.k,
    protocolVersion: (h.v || undefined) as SessionRecord['protocolVersion'],
    clientCapabilities: h.caps ? JSON.parse(h.caps) : {},
    clientInfo: h.info ? JSON.parse(h.info) : undefined,
    initialized: h.init === '1',
    logLevel: (h.lvl || undefined) as SessionRecord['logLevel'],
    subscriptions: Array.isArray(subs) ? subs.map(String) : [],
    principal: h.pa === '1' ? { subject: h.ps ?? '', clientId: h.pc ?? '' } : undefined,
    version: Number(h.ver ?? 0),
    standalone: Number(h.sq ?? 0) > 0,
  };
}
