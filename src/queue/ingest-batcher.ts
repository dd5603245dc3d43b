// IngestBatcher: gathers the listings of a worker's concurrent jobs into one publish call.
// One listing per call costs one analyzer run and one catalog commit per listing
// (measured on real photos: 3.1 listings/s per worker against 16/s for a local
// `groknet index`, which batches); a batch pays those once for up to `maxBatch` listings.
//
// Each submission still gets its own outcome: `indexed`, `unchanged`, or a rejection with
// its own whole-listing failure, so BullMQ keeps retrying or failing jobs one by one.

import type { FailedItem, Listing } from '../catalog/sources.ts';
import { GroknetError } from '../errors.ts';
import type { ListingOutcome, PublishSummary } from '../ingest/publish.ts';
import type { IngestJobResult } from './jobs.ts';

export const DEFAULT_MAX_BATCH = 16;
export const DEFAULT_MAX_WAIT_MS = 50;

export interface IngestBatcherOptions {
  /**
   * Publishes one batch (the worker: src/ingest's publish with the queue policy, which links
   * what it wrote before returning, so a job settles with its links recorded).
   */
  publish: (listings: readonly Listing[]) => Promise<PublishSummary>;
  /** Listings per publish call (default 16). */
  maxBatch?: number;
  /** How long the first listing of a batch waits for others before the batch runs anyway (default 50 ms). */
  maxWaitMs?: number;
}

/** A listing that failed as a whole (no usable image, refused write...): code and message as publish reported them. */
export class ListingFailure extends GroknetError {
  readonly item: string;

  constructor(failure: FailedItem) {
    super(failure.code);
    // The reported message already starts with the code's text; keep it as it is.
    this.message = failure.message;
    this.item = failure.item;
  }
}

export interface BatcherStats {
  /** publish calls made. */
  batches: number;
  /** Listings those calls took. */
  listings: number;
  /** Photos whose garments were measured and stored (with a segmenter; 0 without). */
  segmented: number;
}

interface Entry {
  listing: Listing;
  since: number;
  resolve: (result: IngestJobResult) => void;
  reject: (error: unknown) => void;
}

function checkInt(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new GroknetError('invalid_argument', `${name} must be an integer from ${min} to ${max}`);
  return value;
}

export class IngestBatcher {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly stats: BatcherStats = { batches: 0, listings: 0, segmented: 0 };
  private readonly options: IngestBatcherOptions;
  private pending: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The flush in progress; only one at a time, so batches never race on the same rows. */
  private running: Promise<void> | undefined;
  private draining = false;
  private closed = false;

  constructor(options: IngestBatcherOptions) {
    this.options = options;
    this.maxBatch = checkInt(options.maxBatch ?? DEFAULT_MAX_BATCH, 'maxBatch', 1, 256);
    this.maxWaitMs = checkInt(options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS, 'maxWaitMs', 0, 60_000);
  }

  /** Listings waiting for a batch (not counting the one running). */
  get waiting(): number {
    return this.pending.length;
  }

  submit(listing: Listing): Promise<IngestJobResult> {
    if (this.closed) return Promise.reject(new GroknetError('unavailable', 'the ingest batcher is closed'));
    return new Promise<IngestJobResult>((resolve, reject) => {
      this.pending.push({ listing, since: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  /** From now on, runs what is waiting without waiting for more (shutdown: nothing more is coming). */
  drain(): void {
    this.draining = true;
    this.schedule();
  }

  /** Runs everything submitted so far, waits for it, then refuses new submissions. */
  async close(): Promise<void> {
    this.drain();
    // Each finished flush starts the next while anything waits: loop until idle.
    while (this.running) await this.running;
    this.closed = true;
  }

  private schedule(): void {
    if (this.running || this.pending.length === 0) return;
    // The oldest waiting listing sets the deadline; listings deferred or queued behind a
    // running batch have usually waited long enough already.
    const wait = this.draining || this.pending.length >= this.maxBatch ? 0 : this.maxWaitMs - (Date.now() - this.pending[0]!.since);
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, wait);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.take();
    this.running = this.run(batch).finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }

  /**
   * The next batch, oldest first. A second listing with an id already in the batch waits
   * for the next one: a batch is one commit, and two versions of one product in it would
   * both be compared with the same stored hash and written side by side.
   */
  private take(): Entry[] {
    const batch: Entry[] = [];
    const ids = new Set<string>();
    const rest: Entry[] = [];
    for (const entry of this.pending) {
      if (batch.length < this.maxBatch && !ids.has(entry.listing.id)) {
        batch.push(entry);
        ids.add(entry.listing.id);
      } else rest.push(entry);
    }
    this.pending = rest;
    return batch;
  }

  private async run(batch: Entry[]): Promise<void> {
    let summary: PublishSummary;
    try {
      summary = await this.options.publish(batch.map((entry) => entry.listing));
    } catch (error) {
      // The store or the model failed, not a listing: every job of the batch gets the error.
      for (const entry of batch) entry.reject(error);
      return;
    } finally {
      this.stats.batches++;
      this.stats.listings += batch.length;
    }
    this.stats.segmented += summary.segmented;
    batch.forEach((entry, i) => settle(entry, summary.outcomes[i]));
  }
}

/** A submission's own outcome: its listing published (with what was left out of it), or its failure. */
function settle(entry: Entry, outcome: ListingOutcome | undefined): void {
  if (outcome?.status === 'indexed' || outcome?.status === 'unchanged') {
    entry.resolve({ status: outcome.status, id: outcome.id, failed: outcome.notes });
    return;
  }
  if (outcome?.status === 'failed') {
    entry.reject(new ListingFailure(outcome.failure));
    return;
  }
  // A batch publishes every listing it is given: anything else is a bug, retried like a store error.
  entry.reject(new GroknetError('internal', `no outcome for ${entry.listing.item}`));
}
