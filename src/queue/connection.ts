// Redis connection settings from a URL (redis://[user:pass@]host:port[/db], rediss:// for TLS).
// Parsed here rather than handed to ioredis as a string so a bad URL fails with a clear code.

import type { RedisOptions } from 'bullmq';
import { GroknetError } from '../errors.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_QUEUE_NAME = 'groknet-ingest';

export function redisOptions(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GroknetError('invalid_config', 'redis URL is not a URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new GroknetError('invalid_config', 'redis URL must start with redis:// or rediss://');
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new GroknetError('invalid_config', 'redis database must be a number');
  const options: RedisOptions = {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    db,
    // BullMQ workers block on Redis; they must wait for it rather than fail requests.
    maxRetriesPerRequest: null,
  };
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'rediss:') options.tls = {};
  return options;
}

export function checkQueueName(name: string): string {
  // BullMQ uses ':' as its key separator.
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new GroknetError('invalid_config', 'queue name must be 1-100 of A-Z a-z 0-9 _ . -');
  return name;
}

/** Resolves when the client is connected, or fails with queue_error after `timeoutMs`. */
export async function readyOrFail(ready: Promise<unknown>, url: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GroknetError('queue_error', `cannot reach redis at ${new URL(url).host}`)), timeoutMs);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (error) {
    if (error instanceof GroknetError) throw error;
    throw new GroknetError('queue_error', `cannot reach redis at ${new URL(url).host}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
