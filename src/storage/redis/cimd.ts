// The Client ID Metadata Document cache on Redis (issue #4 "Adapters"): a document one replica fetched
// serves every replica until it goes stale, so a client's metadata URL is fetched once per freshness
// lifetime per deployment, not once per process. One key per client id (its SHA-256, so any URL length
// makes a short key), holding the client record as JSON, expiring with the document (PX). Runs on the
// storage's command connection (borrowed), under its command deadline: a Redis that stops answering
// fails the lookup (the resolver then fetches) instead of holding it.

import { createHash } from 'node:crypto';
import type { ClientRecord } from '../types.ts';
import { type RedisClient, redisCommand } from './client.ts';

export class RedisCimdCache {
  readonly #client: RedisClient;
  readonly #prefix: string;

  constructor(client: RedisClient, prefix: string) {
    this.#client = client;
    this.#prefix = `${prefix}cimd:`;
  }

  async get(clientId: string, now: number): Promise<ClientRecord | undefined> {
    const text = await redisCommand(this.#client, () => this.#client.get(this.#key(clientId)));
    if (text === null) return undefined;
    const entry = JSON.parse(text) as { client: ClientRecord; expiresAt: number };
    // The key's own expiry may lag by the replicas' clock skew: the recorded one decides.
    return entry.expiresAt > now && entry.client.clientId === clientId ? entry.client : undefined;
  }

  async set(clientId: string, client: ClientRecord, expiresAt: number, now: number): Promise<void> {
    const ttl = Math.ceil(expiresAt - now);
    if (ttl <= 0) return;
    const value = JSON.stringify({ client, expiresAt });
    await redisCommand(this.#client, () => this.#client.set(this.#key(clientId), value, { PX: ttl }));
  }

  async delete(clientId: string): Promise<void> {
    await redisCommand(this.#client, () => this.#client.del(this.#key(clientId)));
  }

  #key(clientId: string): string {
    return this.#prefix + createHash('sha256').update(clientId).digest('base64url');
  }
}
