// enqueueIngest: reads a SOURCE like `ingest` does, hashes each listing's images and adds
// one job per listing. Job ids come from content hashes, so enqueueing the same source twice
// adds nothing; a listing whose job failed before is retried.

import { Queue } from 'bullmq';
import { productHash } from '../catalog/hash.ts';
import { readImageFile } from '../catalog/image-file.ts';
import { failureOf, readSource, readSources, type FailedItem, type Listing } from '../catalog/sources.ts';
import { GroknetError } from '../errors.ts';
import { checkQueueName, DEFAULT_QUEUE_NAME, readyOrFail, redisOptions } from './connection.ts';
import { INGEST_JOB_NAME, jobId, toJob } from './jobs.ts';

export interface EnqueueOptions {
  redisUrl: string;
  queueName?: string;
  /** Retries for a job that fails with a transient error (default 3). */
  attempts?: number;
  connectTimeoutMs?: number;
}

export interface EnqueueSummary {
  total: number;
  /** New jobs added. */
  enqueued: number;
  /** Listings whose job already exists (waiting, running or done). */
  duplicates: number;
  /** Listings whose earlier job had failed and was put back in the queue. */
  retried: number;
  failed: FailedItem[];
  jobIds: string[];
}

const CHUNK = 100;

/** Hashes a listing's readable images; unreadable ones are reported (the worker reports them again). */
async function hashListing(listing: Listing, failed: FailedItem[]): Promise<string | undefined> {
  const images: Array<{ path: string; contentHash: string }> = [];
  for (const path of listing.images) {
    try {
      const { contentHash } = await readImageFile(path);
      images.push({ path, contentHash });
    } catch (error) {
      failed.push(failureOf(`${listing.item}: ${path}`, error));
    }
  }
  if (images.length === 0) return undefined;
  return productHash({ ...listing, images });
}

/** Enqueues one SOURCE, or several inputs read as `ingest` reads them (see readSources). */
export async function enqueueIngest(source: string | ReadonlyArray<string | Buffer>, options: EnqueueOptions): Promise<EnqueueSummary> {
  const queueName = checkQueueName(options.queueName ?? DEFAULT_QUEUE_NAME);
  const attempts = options.attempts ?? 3;
  const parsed = typeof source === 'string' ? await readSource(source) : await readSources(source);
  const summary: EnqueueSummary = { total: parsed.entries.length, enqueued: 0, duplicates: 0, retried: 0, failed: [], jobIds: [] };

  const jobs: Array<{ id: string; listing: Listing; hash: string }> = [];
  for (const entry of parsed.entries) {
    if ('failure' in entry) {
      summary.failed.push(entry.failure);
      continue;
    }
    const hash = await hashListing(entry.listing, summary.failed);
    if (hash) jobs.push({ id: jobId(hash), listing: entry.listing, hash });
  }

  const queue = new Queue(queueName, { connection: redisOptions(options.redisUrl) });
  // Connection errors surface through readyOrFail / the failing call, not as stray events.
  queue.on('error', () => undefined);
  try {
    await readyOrFail(queue.waitUntilReady(), options.redisUrl, options.connectTimeoutMs ?? 5000);
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const chunk = jobs.slice(i, i + CHUNK);
      const existing = await Promise.all(chunk.map((job) => queue.getJob(job.id)));
      const fresh = [];
      for (const [k, job] of chunk.entries()) {
        const found = existing[k];
        summary.jobIds.push(job.id);
        if (!found) fresh.push(job);
        else if ((await found.getState()) === 'failed') {
          await found.retry('failed');
          summary.retried++;
        } else summary.duplicates++;
      }
      await queue.addBulk(
        fresh.map((job) => ({
          name: INGEST_JOB_NAME,
          data: toJob(job.listing, job.hash),
          opts: {
            jobId: job.id,
            attempts,
            backoff: { type: 'exponential', delay: 1000 },
            // Completed jobs are kept a day so re-enqueueing the same source stays a no-op.
            removeOnComplete: { age: 24 * 3600 },
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        })),
      );
      summary.enqueued += fresh.length;
    }
  } catch (error) {
    if (error instanceof GroknetError) throw error;
    throw new GroknetError('queue_error', 'adding jobs failed', { cause: error });
  } finally {
    await queue.close();
  }
  return summary;
}
