// The ingest job: one listing per job, its id derived from the listing's content hash so the
// same listing enqueued twice is one job (BullMQ ignores an add with an existing id).

import { z } from 'zod';
import { CategorySchema, ListingFieldsSchema } from '../catalog/listing.ts';
import type { Listing } from '../catalog/sources.ts';

export const INGEST_JOB_NAME = 'ingest-listing';

export const IngestJobSchema = z.object({
  version: z.literal(1),
  /** Content hash of the listing (fields + image bytes) when it was enqueued. */
  productHash: z.string().regex(/^[0-9a-f]{64}$/),
  // The listing's fields as listing.ts defines them, so a field added there travels through the queue.
  listing: ListingFieldsSchema.extend({
    // Jobs enqueued before the field existed have no category: they run as listings without one.
    category: CategorySchema.default(null),
    item: z.string(),
    images: z.array(z.string().min(1)).min(1),
  }),
});

export type IngestJob = z.infer<typeof IngestJobSchema>;

export interface IngestJobResult {
  status: 'indexed' | 'unchanged';
  id: string;
  /** Images of the listing that could not be used (the rest was indexed). */
  failed: Array<{ item: string; code: string; message: string }>;
}

export function jobId(productHash: string): string {
  return `listing-${productHash}`;
}

export function toJob(listing: Listing, productHash: string): IngestJob {
  return { version: 1, productHash, listing };
}
