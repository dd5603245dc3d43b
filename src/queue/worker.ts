// startWorker: processes ingest jobs into the catalog. Safe to run many, in many processes:
//  - a job writes its product in one atomic catalog commit keyed by row, so a job retried
//    after a crash rewrites the same rows instead of adding new ones, and a listing already
//    stored is simply "unchanged";
//  - a worker killed mid-job stops renewing its lock; BullMQ's stalled-job check in the
//    other workers moves the job back to the queue and one of them runs it again.
// Jobs in hand are ingested together (ingest-batcher.ts): one analyzer run and one commit
// per batch rather than per listing. With a detector, the products in the photos of each
// written batch are linked as seen together, as a local `groknet index` does; a photo
// written before the products it shows were is linked again once the worker goes idle
// (links are evidence rows keyed per photo, so linking twice never counts twice). With a
// segmenter, each photo's garments are stored with it, as `groknet index --garments` does.

import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { assertCompatible } from '../catalog/ingest.ts';
import type { CatalogStore } from '../catalog/types.ts';
import type { Detector } from '../detect/detector.ts';
import { GroknetError, type ErrorCode } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import { linkStoredProducts } from '../pipelines/seen-together.ts';
import type { PhotoSegmenter } from '../pipelines/shop-the-look.ts';
import { checkQueueName, DEFAULT_QUEUE_NAME, readyOrFail, redisOptions } from './connection.ts';
import { DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MS, IngestBatcher, ListingFailure, type BatcherStats } from './ingest-batcher.ts';
import { IngestJobSchema, type IngestJobResult } from './jobs.ts';

export interface WorkerOptions {
  redisUrl: string;
  queueName?: string;
  catalog: CatalogStore;
  analyzer: Analyzer;
  /**
   * Jobs taken at once by this worker (default: `batchSize`). Fewer than `batchSize` caps
   * the batches at this, since a batch only holds jobs in hand.
   */
  concurrency?: number;
  /** Listings ingested together (default 16). */
  batchSize?: number;
  /** How long a job waits for others to fill its batch (default 50 ms). */
  batchWaitMs?: number;
  /** When given, each written batch's photos are searched for catalog products, recorded as seen together. */
  detector?: Detector;
  /**
   * When given, each photo's garments (label, colour) are stored with it; a photo that
   * cannot be segmented is indexed without them, listed in its job's `failed`.
   */
  segmenter?: PhotoSegmenter;
  /**
   * Build missing indexes (full-text, scalar, vector) and compact small commits once this
   * worker has written and then gone idle, and when it closes, as `groknet index` does at its end
   * (default true). Without it a catalog filled only by workers has no full-text index.
   */
  optimizeWhenIdle?: boolean;
  /** How long without a write counts as idle, for the optimize and the relinking (default 2000 ms). */
  idleOptimizeMs?: number;
  /** How long a job's lock lasts without renewal; a dead worker's job is retried after it (default 30 s). */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs of dead workers (default 30 s). */
  stalledInterval?: number;
  connectTimeoutMs?: number;
  /**
   * Worker-level errors (lost Redis connection, seen-together linking that failed, ...);
   * job failures are recorded on the jobs. Default: a process warning.
   */
  onError?: (error: Error) => void;
}

export interface WorkerStats extends BatcherStats {
  /** Products whose photos were searched for seen-together links. */
  linkedProducts: number;
  /** Product pairs recorded (per photo). */
  linkedPairs: number;
  /** Products or photos that could not be linked, and linking runs that failed as a whole. */
  linkFailures: number;
  /** Products linked again when idle, since products written after them may be in their photos. */
  relinkedProducts: number;
  /** catalog.optimize() runs after going idle or at close. */
  optimizations: number;
}

export interface IngestWorker {
  readonly worker: Worker;
  readonly stats: Readonly<WorkerStats>;
  /** Stops taking jobs, finishes the jobs in hand (their batches and links included), then closes. */
  close(): Promise<void>;
}

/** Products remembered for linking again when idle; older ones keep only their first links. */
const MAX_RELINK = 10_000;

/** Failures worth retrying: the store or the machine had a problem, not the listing. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['store_error', 'internal', 'overloaded', 'queue_error']);

export async function processIngestJob(job: Job, batcher: IngestBatcher): Promise<IngestJobResult> {
  const parsed = IngestJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid_argument: job ${job.id} has an invalid payload`);
  try {
    return await batcher.submit(parsed.data.listing);
  } catch (error) {
    if (error instanceof ListingFailure) {
      const message = `${error.code}: ${error.message}`;
      // Bad data fails for good; a store hiccup is retried with backoff.
      throw TRANSIENT.has(error.code) ? new Error(message) : new UnrecoverableError(message);
    }
    // The whole batch failed (store, model): nothing says this listing is bad, retry it.
    throw error;
  }
}

export async function startWorker(options: WorkerOptions): Promise<IngestWorker> {
  // A worker with the wrong model would fail every job it takes: refuse to start instead.
  await assertCompatible(options.catalog, options.analyzer);
  const batchSize = options.batchSize ?? DEFAULT_MAX_BATCH;
  const concurrency = options.concurrency ?? batchSize;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new GroknetError('invalid_argument', 'batchSize and concurrency must be positive integers');
  }
  const report = options.onError ?? ((error: Error) => process.emitWarning(error.message, 'GroknetQueueWarning'));
  const stats: WorkerStats = { batches: 0, listings: 0, segmented: 0, linkedProducts: 0, linkedPairs: 0, linkFailures: 0, relinkedProducts: 0, optimizations: 0 };
  /** Whether this worker wrote since its last optimize, and the timer that waits for it to go idle. */
  let wroteSinceOptimize = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let onWrote = (): void => undefined;
  const { detector } = options;
  /**
   * Products linked since the worker was last idle, oldest first, and the last batch linked:
   * every product before that batch may be in photos linked before a later product existed.
   */
  const linkedSinceIdle = new Set<string>();
  let lastLinked = new Set<string>();
  const link = async (ids: readonly string[]) => {
    if (!detector) return;
    const links = await linkStoredProducts(ids, { catalog: options.catalog, detector, analyzer: options.analyzer });
    stats.linkedProducts += links.products;
    stats.linkedPairs += links.pairs;
    stats.linkFailures += links.failed.length;
    if (links.failed.length > 0) {
      const first = links.failed[0]!;
      report(new Error(`seen-together: ${links.failed.length} product(s) or photo(s) not linked; first: ${first.item}: ${first.code}: ${first.message}`));
    }
    return links;
  };
  const batcher = new IngestBatcher({
    catalog: options.catalog,
    analyzer: options.analyzer,
    ...(options.segmenter ? { segmenter: options.segmenter } : {}),
    // A batch can only hold jobs in hand: waiting for more than `concurrency` would wait in vain.
    maxBatch: Math.min(batchSize, concurrency),
    maxWaitMs: options.batchWaitMs ?? DEFAULT_MAX_WAIT_MS,
    onError: report,
    // Links are recorded before the batch's jobs complete, so a completed job's links exist;
    // a linking problem is reported, never a job failure (the product is written).
    afterWrite: async (ids: readonly string[]) => {
      wroteSinceOptimize = true;
      onWrote();
      if (!detector) return;
      await link(ids);
      lastLinked = new Set(ids);
      for (const id of ids) {
        linkedSinceIdle.delete(id); // moved to the end: linked again just now
        linkedSinceIdle.add(id);
      }
      // A queue that never runs dry would grow this without end: keep the most recent products.
      for (const id of linkedSinceIdle) {
        if (linkedSinceIdle.size <= MAX_RELINK) break;
        linkedSinceIdle.delete(id);
      }
    },
  });
  const worker = new Worker(checkQueueName(options.queueName ?? DEFAULT_QUEUE_NAME), (job) => processIngestJob(job, batcher), {
    connection: redisOptions(options.redisUrl),
    concurrency,
    lockDuration: options.lockDuration ?? 30_000,
    stalledInterval: options.stalledInterval ?? 30_000,
    // A job whose worker died twice is suspicious (it may be what kills them): fail it then.
    maxStalledCount: 2,
  });
  // An unhandled 'error' event would crash the process; surface it instead.
  worker.on('error', report);
  // No write for `idleOptimizeMs`: the queue has run dry (or paused), so fold this worker's
  // writes into the indexes. Several workers may do it at once; LanceDB resolves their
  // commits, and an index another worker built is skipped.
  let optimizing: Promise<void> = Promise.resolve();
  const optimize = () => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    // The last batch was linked after every other write: its photos saw all there is.
    const relink = [...linkedSinceIdle].filter((id) => !lastLinked.has(id));
    linkedSinceIdle.clear();
    lastLinked = new Set();
    const shouldOptimize = wroteSinceOptimize && options.optimizeWhenIdle !== false;
    wroteSinceOptimize = false;
    if (relink.length === 0 && !shouldOptimize) return optimizing;
    optimizing = optimizing
      .then(async () => {
        if (relink.length > 0) {
          // A failed relink is reported and leaves the earlier links; it does not stop the optimize.
          await link(relink)
            .then((links) => void (stats.relinkedProducts += links?.products ?? 0))
            .catch((error: unknown) => report(error instanceof Error ? error : new Error(String(error))));
        }
        if (shouldOptimize) {
          await options.catalog.optimize();
          stats.optimizations++;
        }
      })
      .catch((error: unknown) => report(error instanceof Error ? error : new Error(String(error))));
    return optimizing;
  };
  onWrote = () => {
    if (options.optimizeWhenIdle === false && !detector) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(optimize, options.idleOptimizeMs ?? 2000);
  };
  try {
    await readyOrFail(worker.waitUntilReady(), options.redisUrl, options.connectTimeoutMs ?? 5000);
  } catch (error) {
    await worker.close(true);
    await batcher.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    worker,
    get stats() {
      return { ...stats, ...batcher.stats };
    },
    close: () =>
      (closing ??= (async () => {
        const stopped = worker.close();
        // No new jobs come once closing: run the jobs in hand now rather than after batchWaitMs.
        batcher.drain();
        await stopped;
        await batcher.close();
        // Written but not yet optimized (or relinked): do it now rather than leave it behind.
        await optimize();
      })()),
  };
}
