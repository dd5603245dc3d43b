// What differs between the three ways a listing gets published (POST /v1/products, `groknet
// index`, queue workers), written down as data. The pipeline (publish.ts) is the same for
// all of them; it reads its policy where they used to have their own code.
import type { ErrorCode } from '../errors.ts';

export const DEFAULT_BATCH_SIZE = 32;

export interface PublishPolicy {
  /**
   * A photo that cannot be used (unreadable, refused by the analyzer, not storable):
   *  - 'skip-photo': the listing is published with its other photos and the one left out is
   *    reported; the listing fails only when no photo is left;
   *  - 'fail-listing': the whole listing fails with that photo's error, nothing of it stored.
   */
  unusablePhoto: 'skip-photo' | 'fail-listing';
  /** Listings per batch: one analyzer run and one catalog commit each. */
  batchSize: number;
}

/**
 * POST /v1/products: a request's photos are published all or none, so a client never gets
 * a product missing a photo it sent; the route answers the listing's failure (4xx, 5xx).
 */
export const REQUEST_POLICY: PublishPolicy = { unusablePhoto: 'fail-listing', batchSize: 1 };

/**
 * `groknet index`: skip and report. A bad photo or listing is reported in the summary and the
 * run goes on; a rerun skips what is stored unchanged and tries the failures again.
 */
export const LOCAL_POLICY: PublishPolicy = { unusablePhoto: 'skip-photo', batchSize: DEFAULT_BATCH_SIZE };

/**
 * Queue workers: skip and report as `groknet index` does, a batch being the jobs a worker
 * has in hand (the batcher sizes it); each job gets its own listing's outcome, and the
 * queue retries the failures `retriedByQueue` names.
 */
export function queuePolicy(batchSize: number): PublishPolicy {
  return { unusablePhoto: 'skip-photo', batchSize };
}

/** Failures the queue retries (with backoff): the store or the machine had a problem, not the listing. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['store_error', 'internal', 'overloaded', 'queue_error']);

export function retriedByQueue(code: ErrorCode): boolean {
  return TRANSIENT.has(code);
}
