// groknet as a library: what `import ... from 'groknet'` gives (README, "Library"). One short
// list in one file, so moving a module means changing one line here; everything else under
// src/ is internal and may change without notice.

// The model: open it (the shipped one by default) and analyse photos.
export { ModelAnalyzer, MAX_BATCH_SIZE, type AnalyzeOptions } from './pipelines/analyze.ts';
export { DEFAULT_MODEL_DIR } from './model/load-model.ts';
export type { Analysis, Analyzer, HeadResult, LabelScore } from './model/types.ts';

// The catalog: a LanceDB directory of products and their analysed photos.
export { openCatalog, DEFAULT_DATA_DIR, type OpenCatalogOptions } from './catalog/open.ts';
export type { CatalogInfo, CatalogStore, ImageGarment, ImageInput, ListOptions, Product, ProductInput, SeenTogetherLink, StoredImage } from './catalog/types.ts';

// Publishing: index folders of photos, image files and CSV/JSONL listings into a catalog
// (ingest, as `groknet index`), or publish listings in hand (publish, with a policy).
export { ingest, publish, LOCAL_POLICY, REQUEST_POLICY, type IngestOptions, type IngestProgress, type IngestSummary, type ListingOutcome, type PublishListing, type PublishOptions, type PublishPolicy, type PublishSummary } from './ingest/index.ts';
export type { FailedItem } from './catalog/sources.ts';

// Search: one entry for words (with filters), a photo's embedding or "more like this"; by a
// photo's bytes; near-duplicate listings.
export { searchCatalog, searchByImage, type SearchRequest, type SearchTarget } from './search/search.ts';
export { findDuplicates, type DuplicateGroup, type DuplicateOptions, type DuplicateReport } from './search/duplicates.ts';
export type { Facets, FilterCondition, Filters, MatchKind, SearchQuery, SearchResponse, SearchResult } from './search/types.ts';

// Errors: every error groknet reports is a GroknetError with a stable `code`.
export { ERROR_MESSAGES, GroknetError, isGroknetError, type ErrorCode, type FieldIssue } from './errors.ts';
