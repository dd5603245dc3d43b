// Public surface of the catalog: open a store, ingest into it, and the shapes involved.

export { openCatalog, DEFAULT_DATA_DIR, DEFAULT_SEEN_TOGETHER_LIMIT, type OpenCatalogOptions } from './open.ts';
export { COOCCURRENCE_TABLE, pairsOf } from './cooccurrence.ts';
export { ingest, ingestListings, DEFAULT_BATCH_SIZE, type IngestOptions, type IngestSummary } from './ingest.ts';
export { readSource, readSources, resolveInside, type FailedItem, type Listing, type Source } from './sources.ts';
export type { IngestProgress } from './progress.ts';
export { productHash, sha256 } from './hash.ts';
export { VECTOR_INDEX_THRESHOLD, SCALAR_INDEX_THRESHOLD } from './indexes.ts';
export { MAX_IMAGE_BYTES } from './image-file.ts';
export type * from './types.ts';
