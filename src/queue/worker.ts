// startWorker: processes ingest jobs into the catalog. Safe to run many, in many processes:
//  - a job writes its product in one atomic catalog commit keyed by row, so a job retried
//    after a crash rewrites the same rows instead of adding new ones, and a listing already
//    stored is simply "unchanged";
//  - a worker killed mid-job stops renewing its lock; BullMQ's stalled-job check in the
//    other workers moves the job back to the queue and one of them runs it again.

import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { assertCompatible, ingestListings } from '../catalog/ingest.ts';
import type { CatalogStore } from '../catalog/types.ts';
import type { ErrorCode } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import { checkQueueName, DEFAULT_QUEUE_NAME, readyOrFail, redisOptions } from './connection.ts';
import { IngestJobSchema, type IngestJobResult } from './jobs.ts';

export interface WorkerOptions {
  redisUrl: string;
  queueName?: string;
  catalog: CatalogStore;
  analyzer: Analyzer;
  /** Jobs processed at once by this worker (default 2). */
  concurrency?: number;
  /** How long a job's lock lasts without renewal; a dead worker's job is retried after it (default 30 s). */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs of dead workers (default 30 s). */
  stalledInterval?: number;
  connectTimeoutMs?: number;
  /** Worker-level errors (lost Redis connection, ...); job failures are recorded on the jobs. Default: a process warning. */
  onError?: (error: Error) => void;
}

export interface IngestWorker {
  readonly worker: Worker;
  close(): Promise<void>;
}

/** Failures worth retrying: the store or the machine had a problem, not the listing. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['store_error', 'internal', 'overloaded', 'queue_error']);

export async function processIngestJob(job: Job, catalog: CatalogStore, analyzer: Analyzer): Promise<IngestJobResult> {
  const parsed = IngestJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid_argument: job ${job.id} has an invalid payload`);
  const { listing } = parsed.data;
  const result = await ingestListings([listing], { catalog, analyzer, batchSize: 1 });
  const whole = result.failed.find((f) => f.item === listing.item);
  if (whole) {
    const message = `${whole.code}: ${whole.message}`;
    // Bad data fails for good; a store hiccup is retried with backoff.
    throw TRANSIENT.has(whole.code) ? new Error(message) : new UnrecoverableError(message);
  }
  return { status: result.indexed > 0 ? 'indexed' : 'unchanged', id: listing.id, failed: result.failed };
}

export async function startWorker(options: WorkerOptions): Promise<IngestWorker> {
  // A worker with the wrong model would fail every job it takes: refuse to start instead.
  await assertCompatible(options.catalog, options.analyzer);
  const worker = new Worker(
    checkQueueName(options.queueName ?? DEFAULT_QUEUE_NAME),
    (job) => processIngestJob(job, options.catalog, options.analyzer),
    {
      connection: redisOptions(options.redisUrl),
      concurrency: options.concurrency ?? 2,
      lockDuration: options.lockDuration ?? 30_000,
      stalledInterval: options.stalledInterval ?? 30_000,
      // A job whose worker died twice is suspicious (it may be what kills them): fail it then.
      maxStalledCount: 2,
    },
  );
  // An unhandled 'error' event would crash the process; surface it instead.
  worker.on('error', options.onError ?? ((error) => process.emitWarning(error.message, 'GroknetQueueWarning')));
  try {
    await readyOrFail(worker.waitUntilReady(), options.redisUrl, options.connectTimeoutMs ?? 5000);
  } catch (error) {
    await worker.close(true);
    throw error;
  }
  return { worker, close: () => worker.close() };
}
