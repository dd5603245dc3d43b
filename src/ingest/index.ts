// Public surface of publishing: one pipeline (publish) for the API, `groknet index` and
// queue workers, their policies, the seen-together linking and the local run (ingest).

export { publish, type PublishOptions, type PublishSummary, type PublishListing, type ListingOutcome, type PhotoSource, type PhotoStore, type StoredPhoto } from './publish.ts';
export { REQUEST_POLICY, LOCAL_POLICY, queuePolicy, retriedByQueue, DEFAULT_BATCH_SIZE, type PublishPolicy } from './policy.ts';
export { SeenTogetherLinker, type DetectorSource, type LinkSummary, type ProductLinking, type RunLinks } from './link.ts';
export { garmentsBy, type MeasureGarments } from './garments.ts';
export { endRun, type RunEnd, type RunEndOptions } from './run.ts';
export { ingest, type IngestOptions, type IngestSummary } from './ingest.ts';
export type { IngestProgress } from './progress.ts';
