// startWorker: processes ingest jobs into the catalog. Safe to run many, in many processes:
//  - a job writes its product in one atomic catalog commit keyed by row, so a job retried
//    after a crash rewrites the same rows instead of adding new ones, and a listing already
//    stored is simply "unchanged";
//  - a worker killed mid-job stops renewing its lock; BullMQ's stalled-job check in the
//    other workers moves the job back to the queue and one of them runs it again.
// Jobs in hand are published together (ingest-batcher.ts) through the one publish pipeline
// (src/ingest) with the queue policy: one analyzer run and one commit per batch, skip and
// report per listing, the failures that are not the listing's retried by the queue. With a
// detector, each written batch is linked as seen together before its jobs complete; a
// worker's run ends when it goes idle (or closes), and then, as at the end of `groknet
// index`, the products linked before its last batch are linked again and the catalog is
// optimized (src/ingest/run.ts). With a segmenter, each photo's garments are stored with it.

import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { assertCompatible } from '../catalog/compatible.ts';
import type { Listing } from '../catalog/sources.ts';
import type { CatalogStore } from '../catalog/types.ts';
import type { Detector } from '../detect/detector.ts';
import { GroknetError } from '../errors.ts';
import { garmentsBy } from '../ingest/garments.ts';
import { SeenTogetherLinker, type LinkSummary } from '../ingest/link.ts';
import { queuePolicy, retriedByQueue } from '../ingest/policy.ts';
import { publish, type PublishSummary } from '../ingest/publish.ts';
import { endRun } from '../ingest/run.ts';
import type { Analyzer } from '../model/types.ts';
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
  /** Listings published together (default 16). */
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
  /** How long without a write counts as idle, the end of the worker's run (default 2000 ms). */
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
  /** Products whose photos were searched for seen-together links (a second look at a run's end included). */
  linkedProducts: number;
  /** Product pairs recorded (per photo). */
  linkedPairs: number;
  /** Products or photos that could not be linked. */
  linkFailures: number;
  /** Products linked again at the end of a run, since products written after them may be in their photos. */
  relinkedProducts: number;
  /** catalog.optimize() runs at the end of a run. */
  optimizations: number;
}

export interface IngestWorker {
  readonly worker: Worker;
  readonly stats: Readonly<WorkerStats>;
  /** Stops taking jobs, finishes the jobs in hand (their batches and links included), ends the run, then closes. */
  close(): Promise<void>;
}

/** Products a worker's run remembers for its second look; older ones keep their first links. */
const MAX_RELINK = 10_000;

export async function processIngestJob(job: Job, batcher: IngestBatcher): Promise<IngestJobResult> {
  const parsed = IngestJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`invalid_argument: job ${job.id} has an invalid payload`);
  try {
    return await batcher.submit(parsed.data.listing);
  } catch (error) {
    if (error instanceof ListingFailure) {
      const message = `${error.code}: ${error.message}`;
      // Bad data fails for good; a store hiccup is retried with backoff.
      throw retriedByQueue(error.code) ? new Error(message) : new UnrecoverableError(message);
    }
    // The whole batch failed (store, model): nothing says this listing is bad, retry it.
    throw error;
  }
}

export async function startWorker(options: WorkerOptions): Promise<IngestWorker> {
  // A worker with the wrong model would fail every job it takes: refuse to start instead.
  await assertCompatible(options.catalog, options.analyzer);
  const { batchSize, concurrency } = jobsInHand(options);
  const report = options.onError ?? ((error: Error) => process.emitWarning(error.message, 'GroknetQueueWarning'));
  const stats: WorkerStats = { batches: 0, listings: 0, segmented: 0, linkedProducts: 0, linkedPairs: 0, linkFailures: 0, relinkedProducts: 0, optimizations: 0 };
  const seenTogether = options.detector && new SeenTogetherLinker({ catalog: options.catalog, analyzer: options.analyzer, detector: options.detector, remember: MAX_RELINK });
  const run = new IdleRunEnd(options, seenTogether, stats, report);
  const batcher = new IngestBatcher({
    publish: (listings) => publishJobs(listings, options, seenTogether, run, stats, report),
    // A batch can only hold jobs in hand: waiting for more than `concurrency` would wait in vain.
    maxBatch: Math.min(batchSize, concurrency),
    maxWaitMs: options.batchWaitMs ?? DEFAULT_MAX_WAIT_MS,
  });
  const worker = await openQueueWorker(options, batcher, concurrency, report);
  let closing: Promise<void> | undefined;
  return {
    worker,
    get stats() {
      return { ...stats, ...batcher.stats };
    },
    close: () => (closing ??= closeWorker(worker, batcher, run)),
  };
}

function jobsInHand(options: WorkerOptions): { batchSize: number; concurrency: number } {
  const batchSize = options.batchSize ?? DEFAULT_MAX_BATCH;
  const concurrency = options.concurrency ?? batchSize;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && Number.isInteger(concurrency) && concurrency >= 1)) {
    throw new GroknetError('invalid_argument', 'batchSize and concurrency must be positive integers');
  }
  return { batchSize, concurrency };
}

/** One batch of jobs through the publish pipeline; what it wrote and linked is counted, and the run goes on. */
async function publishJobs(
  listings: readonly Listing[],
  options: WorkerOptions,
  seenTogether: SeenTogetherLinker | undefined,
  run: IdleRunEnd,
  stats: WorkerStats,
  report: (error: Error) => void,
): Promise<PublishSummary> {
  const summary = await publish(listings, {
    catalog: options.catalog,
    analyzer: options.analyzer,
    policy: queuePolicy(Math.max(1, listings.length)),
    ...(options.segmenter ? { garments: garmentsBy(options.segmenter) } : {}),
    ...(seenTogether ? { seenTogether } : {}),
  });
  if (summary.links) countLinks(summary.links, stats, report);
  if (summary.indexed > 0) run.wrote();
  return summary;
}

/** Adds a linking to the stats; products or photos it could not link are reported (never a job failure: the product is written). */
function countLinks(links: LinkSummary, stats: WorkerStats, report: (error: Error) => void): void {
  stats.linkedProducts += links.products;
  stats.linkedPairs += links.pairs;
  stats.linkFailures += links.failed.length;
  const first = links.failed[0];
  if (first) report(new Error(`seen-together: ${links.failed.length} product(s) or photo(s) not linked; first: ${first.item}: ${first.code}: ${first.message}`));
}

/**
 * A worker's run ends when it has not written for `idleOptimizeMs` (the queue ran dry or
 * paused) and when it closes. Several workers may end runs at once; LanceDB resolves their
 * commits, and an index another worker built is skipped.
 */
class IdleRunEnd {
  private wroteSinceEnd = false;
  private timer: NodeJS.Timeout | undefined;
  /** Ends one after the other. */
  private ending: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: WorkerOptions,
    private readonly seenTogether: SeenTogetherLinker | undefined,
    private readonly stats: WorkerStats,
    private readonly report: (error: Error) => void,
  ) {}

  /** A batch was written: the run's end waits for the next idle spell. */
  wrote(): void {
    this.wroteSinceEnd = true;
    if (this.options.optimizeWhenIdle === false && !this.seenTogether) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.end(), this.options.idleOptimizeMs ?? 2000);
  }

  /** Ends the run now; a failure is reported and the next run starts all the same. */
  end(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const wrote = this.wroteSinceEnd;
    this.wroteSinceEnd = false;
    this.ending = this.ending.then(() => this.endRun(wrote)).catch((error: unknown) => this.report(error instanceof Error ? error : new Error(String(error))));
    return this.ending;
  }

  private async endRun(wrote: boolean): Promise<void> {
    const end = await endRun({
      catalog: this.options.catalog,
      wrote,
      optimize: this.options.optimizeWhenIdle !== false,
      ...(this.seenTogether ? { seenTogether: this.seenTogether } : {}),
    });
    if (end.links) {
      countLinks(end.links.relinked, this.stats, this.report);
      this.stats.relinkedProducts += end.links.relinked.products;
    }
    if (end.optimized) this.stats.optimizations++;
  }
}

async function openQueueWorker(options: WorkerOptions, batcher: IngestBatcher, concurrency: number, report: (error: Error) => void): Promise<Worker> {
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
  try {
    await readyOrFail(worker.waitUntilReady(), options.redisUrl, options.connectTimeoutMs ?? 5000);
  } catch (error) {
    await worker.close(true);
    await batcher.close();
    throw error;
  }
  return worker;
}

async function closeWorker(worker: Worker, batcher: IngestBatcher, run: IdleRunEnd): Promise<void> {
  const stopped = worker.close();
  // No new jobs come once closing: run the jobs in hand now rather than after batchWaitMs.
  batcher.drain();
  await stopped;
  await batcher.close();
  // Written but not yet at a run's end (linked again, optimized): do it now rather than leave it behind.
  await run.end();
}
