// The shapes the catalog stores and returns, and the small interface the rest of groknet
// (ingest, queue, search, CLI, API) programs against.

import type { Table } from '@lancedb/lancedb';
import type { Analysis, Analyzer, HeadResult } from '../model/types.ts';
import type { FeedbackCount, ImageFeedback } from './feedback-types.ts';
import type { ListingFields, ListingFieldsInput } from './listing.ts';

/** A garment clothing segmentation found in an indexed photo (`groknet index --garments`). */
export interface ImageGarment {
  /** The segmentation label, e.g. `dress`. */
  label: string;
  /** Dominant colour name of the garment's own pixels; null when none could be measured. */
  colour: string | null;
  /** Share of the photo it covers, 0-1. */
  areaShare: number;
}

/** One image of a product as the caller hands it to the catalog (already analysed). */
export interface ImageInput {
  /** Where the image lives (absolute path), kept so reindex can re-read it. */
  path: string;
  /** sha256 of the image bytes, hex. */
  contentHash: string;
  analysis: Analysis;
  /**
   * Its garments, largest first (`[]`: segmented, none found). Undefined or null: not
   * measured by this write; the photo keeps the garments stored for it (by content hash),
   * or is stored as not segmented.
   */
  garments?: readonly ImageGarment[] | null;
}

/** A product as written to the catalog: its listing's fields and analysed images. Writing an id that exists replaces that product. */
export interface ProductInput extends ListingFieldsInput {
  images: ImageInput[];
}

export interface StoredImage {
  index: number;
  path: string;
  contentHash: string;
  heads: Record<string, HeadResult>;
  code: string;
  /** Top label of each single-label head (the flat `head_<name>` columns). */
  labels: Record<string, string>;
  /** Its garments when it was segmented at indexing time; absent when it was not. */
  garments?: ImageGarment[];
  /** Only present when asked for (`withEmbeddings`), to keep listings light. */
  embedding?: Float32Array;
}

/** A stored product: its listing's fields (src/catalog/listing.ts), what the catalog adds, its images. */
export interface Product extends ListingFields {
  /** Hash of the listing fields and image hashes: equal hash means nothing to re-ingest. */
  productHash: string;
  modelVersion: string;
  images: StoredImage[];
}

/** The catalog products found in one photo (by content hash), the photo's own product included. */
export interface PhotoSighting {
  photo: string;
  products: readonly string[];
}

/** A product seen in the same photos as another one. */
export interface SeenTogetherLink {
  id: string;
  /** Distinct photos the two were seen in. */
  count: number;
  /** When the pair was last recorded, ms since the epoch. */
  updated: number;
}

export interface ListOptions {
  offset?: number;
  limit?: number;
  withEmbeddings?: boolean;
}

export interface ReindexFailure {
  item: string;
  code: string;
  message: string;
}

export interface ReindexSummary {
  /** Products written to the new table. */
  reindexed: number;
  failed: ReindexFailure[];
  /** True when readers now see the new table; false when nothing was needed or failures blocked it. */
  swapped: boolean;
  modelVersion: string;
}

export interface ReindexOptions {
  batchSize?: number;
  /** Swap even when some products could not be re-analysed (they are dropped). */
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** What the catalog knows about its own layout; search uses it to validate filters. */
export interface CatalogInfo {
  dir: string;
  embeddingDim: number;
  /** Undefined until the first product is written. */
  modelVersion: string | undefined;
  codeBits: number | undefined;
  /** Single-label heads with flat columns: head name -> label column (`head_<name>`) and score column. */
  heads: Record<string, { labelColumn: string; scoreColumn: string }>;
  /** Columns filters may use. */
  filterColumns: string[];
  /**
   * Whether image rows have the garment columns (filters `garment`, `garment_colour`).
   * Tables created before them have not, until a garment is first written to them.
   */
  garments: boolean;
  /**
   * Whether rows have the seller's category column (filter and facet `category`). Tables
   * created before it have not, until a listing with a category is first written to them.
   */
  category: boolean;
}

/** Distinct garment values stored in the catalog (empty without `index --garments`). */
export interface GarmentVocabulary {
  /** Garment labels, e.g. `dress`. */
  labels: string[];
  /** Garment colours, e.g. `red`. */
  colours: string[];
  /** Each garment label with a colour it was found in, as `dress:red` (garmentPair). */
  pairs: string[];
}

export interface CatalogStore {
  readonly dir: string;
  info(): Promise<CatalogInfo>;
  /** Writes products and all their images in one atomic commit (replacing existing ids). */
  insertProducts(products: readonly ProductInput[]): Promise<{ written: number }>;
  getProduct(id: string, options?: { withEmbeddings?: boolean }): Promise<Product | undefined>;
  /** Returns false when no product had that id. Its seen-together links go with it. */
  deleteProduct(id: string): Promise<boolean>;
  /**
   * Records which catalog products were found in the photos of product `source`, replacing
   * what its photos said before; every pair found in one photo is linked.
   */
  recordSeenTogether(source: string, sightings: readonly PhotoSighting[]): Promise<{ pairs: number }>;
  /** Products seen in a photo with `id`, most photos first (at most `limit`, default 20). */
  seenTogether(id: string, options?: { limit?: number }): Promise<SeenTogetherLink[]>;
  /**
   * Records what the model suggested for each photo of product `id` and what the seller kept
   * (src/catalog/feedback.ts), replacing what was recorded for it; `[]` forgets it.
   */
  recordFeedback(id: string, images: readonly ImageFeedback[]): Promise<void>;
  /** The suggestion feedback of product `id`, by photo; `[]` when it was published without suggestions. */
  feedbackOf(id: string): Promise<ImageFeedback[]>;
  /** How often sellers accepted, corrected (to what) or dropped each head's label, over the catalog. */
  feedbackCounts(): Promise<FeedbackCount[]>;
  listProducts(options?: ListOptions): Promise<Product[]>;
  countProducts(): Promise<number>;
  hasImageHash(contentHash: string): Promise<boolean>;
  /** productHash per id, for the ids that exist. */
  getProductHashes(ids: readonly string[]): Promise<Map<string, string>>;
  /** Stored analyses by image content hash, so unchanged images are not analysed twice. */
  analysesByHash(hashes: readonly string[]): Promise<Map<string, Analysis>>;
  /** Stored garments by image content hash, for the images that were segmented (so they are not segmented twice). */
  garmentsByHash(hashes: readonly string[]): Promise<Map<string, ImageGarment[]>>;
  /** Re-analyses every image with `analyzer` into a new table and swaps it in when done. */
  reindex(analyzer: Analyzer, options?: ReindexOptions): Promise<ReindexSummary>;
  /** Creates missing indexes (FTS, scalar, a vector index above a size) and compacts small writes. */
  optimize(): Promise<void>;
  /** Distinct predicted labels per single-label head: the vocabulary the query parser matches. */
  vocabularies(): Promise<Record<string, string[]>>;
  /** Distinct stored garment labels, colours and label:colour pairs: what `red dress` can match. */
  garmentVocabulary(): Promise<GarmentVocabulary>;
  /**
   * The LanceDB table readers should query now, or undefined while the catalog is empty.
   * For search modules only; everything else goes through the verbs above.
   */
  table(): Promise<Table | undefined>;
  hasTextIndex(): Promise<boolean>;
  close(): Promise<void>;
}
