// ingest: SOURCE -> catalog, in batches. Idempotent and resumable by content hash: a listing
// whose fields and image bytes are already stored is "unchanged" and costs one look-up, so
// re-running after a crash (or a kill -9) only redoes the batch that was in flight. Every
// bad row or image is reported and skipped; nothing but a wrong model aborts the run.
// With a segmenter, each photo's garments are stored too (label, colour of its own pixels):
// a photo that cannot be segmented is still indexed, without garments, and reported.

import { relative } from 'node:path';
import { GroknetError, isGroknetError } from '../errors.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import type { PhotoSegmenter } from '../pipelines/shop-the-look.ts';
import { analyzeDistinct } from './analyze.ts';
import { segmentDistinct } from './garments.ts';
import { productHash } from './hash.ts';
import { readImageFile, type ImageBytes } from './image-file.ts';
import { ProgressTracker, type IngestProgress } from './progress.ts';
import { failureOf, readSource, readSources, type FailedItem, type Listing } from './sources.ts';
import type { CatalogStore, ImageGarment, ProductInput } from './types.ts';

export type { FailedItem, Listing } from './sources.ts';
export type { IngestProgress } from './progress.ts';

export const DEFAULT_BATCH_SIZE = 32;

export interface IngestOptions {
  catalog: CatalogStore;
  analyzer: Analyzer;
  /** Listings per batch; each batch is one atomic catalog write. */
  batchSize?: number;
  onProgress?: (progress: IngestProgress) => void;
  /** Stops between batches; what was written stays written. */
  signal?: AbortSignal;
  /** Build indexes and compact at the end (default true). */
  optimize?: boolean;
  /** Called with the ids of each successful write (e.g. to find what is seen together in their photos). */
  onWritten?: (ids: readonly string[]) => void;
  /**
   * Segments each photo and stores its garments (filters `garment`, `garment_colour`).
   * A stored listing whose photos have no garments yet is written again, with them;
   * photos segmented before are not segmented again. Off by default: it costs a
   * segmentation per photo.
   */
  segmenter?: PhotoSegmenter;
}

export interface IngestSummary {
  total: number;
  indexed: number;
  unchanged: number;
  failed: FailedItem[];
  /** Photos whose garments were measured in this run (with a segmenter). */
  segmented: number;
  /** Non-image files found in a folder source. */
  ignored: number;
  aborted: boolean;
  elapsedMs: number;
}

interface Prepared {
  listing: Listing;
  images: ImageBytes[];
  hash: string;
}

/** Refuses to mix models: embeddings of two models cannot be compared. */
export async function assertCompatible(catalog: CatalogStore, analyzer: Analyzer): Promise<void> {
  const info = await catalog.info();
  if (info.embeddingDim !== analyzer.embeddingDim) {
    throw new GroknetError('model_mismatch', `catalog has ${info.embeddingDim}-d embeddings, analyzer ${analyzer.embeddingDim}-d`);
  }
  if (info.modelVersion !== undefined && info.modelVersion !== analyzer.modelVersion) {
    throw new GroknetError('model_mismatch', `catalog holds ${info.modelVersion}, analyzer is ${analyzer.modelVersion}`);
  }
}

function imageItem(listing: Listing, path: string, root: string | undefined): string {
  return `${listing.item}: ${root ? relative(root, path) : path}`;
}

/**
 * Reads a listing's images. Unreadable images are reported and dropped; a listing left
 * without any image fails as a whole, with its first image's reason.
 */
async function prepare(listing: Listing, failed: FailedItem[], root: string | undefined): Promise<Prepared | undefined> {
  const images: ImageBytes[] = [];
  const problems: FailedItem[] = [];
  for (const path of listing.images) {
    try {
      images.push(await readImageFile(path));
    } catch (error) {
      problems.push(failureOf(imageItem(listing, path, root), error));
    }
  }
  if (images.length === 0) {
    const first = problems[0];
    failed.push({ item: listing.item, code: first?.code ?? 'invalid_argument', message: first?.message ?? 'no images' });
    return undefined;
  }
  failed.push(...problems);
  return { listing, images, hash: hashOf(listing, images) };
}

function hashOf(listing: Listing, images: readonly ImageBytes[]): string {
  return productHash({ ...listing, images: images.map((i) => ({ path: i.path, contentHash: i.contentHash })) });
}

function toInput(
  listing: Listing,
  images: ImageBytes[],
  analyses: Map<string, Analysis>,
  garments: ReadonlyMap<string, ImageGarment[] | GroknetError>,
): ProductInput {
  const garmentsOf = (hash: string) => {
    const found = garments.get(hash);
    return Array.isArray(found) ? found : null;
  };
  return {
    id: listing.id,
    title: listing.title,
    description: listing.description,
    price: listing.price,
    currency: listing.currency,
    attributes: listing.attributes,
    images: images.map((image) => ({
      path: image.path,
      contentHash: image.contentHash,
      analysis: analyses.get(image.contentHash)!,
      garments: garmentsOf(image.contentHash),
    })),
  };
}

/** A photo indexed without its garments: reported with the segmentation's code, the image is still stored. */
function garmentFailure(item: string, error: GroknetError): FailedItem {
  return { item, code: error.code, message: `garments not stored: ${error.message}` };
}

/** Writes a batch; if the batch write is refused, retries product by product to isolate the culprit. */
async function write(
  catalog: CatalogStore,
  inputs: ProductInput[],
  items: Map<string, string>,
  failed: FailedItem[],
  onWritten: IngestOptions['onWritten'],
): Promise<number> {
  if (inputs.length === 0) return 0;
  try {
    const { written } = await catalog.insertProducts(inputs);
    onWritten?.(inputs.map((input) => input.id));
    return written;
  } catch (error) {
    if (inputs.length === 1 || (isGroknetError(error) && error.code === 'model_mismatch')) {
      for (const input of inputs) failed.push(failureOf(items.get(input.id) ?? input.id, error));
      return 0;
    }
    let written = 0;
    for (const input of inputs) written += await write(catalog, [input], items, failed, onWritten);
    return written;
  }
}

interface BatchResult {
  indexed: number;
  unchanged: number;
  segmented: number;
}

async function ingestBatch(
  batch: readonly Listing[],
  options: IngestOptions,
  failed: FailedItem[],
  root: string | undefined,
): Promise<BatchResult> {
  const { catalog, analyzer, segmenter } = options;
  const prepared: Prepared[] = [];
  for (const listing of batch) {
    const p = await prepare(listing, failed, root);
    if (p) prepared.push(p);
  }
  const stored = await catalog.getProductHashes(prepared.map((p) => p.listing.id));
  // With a segmenter, a stored listing with photos not segmented yet is not unchanged.
  const segmentedBefore = segmenter ? await catalog.garmentsByHash(prepared.flatMap((p) => p.images.map((i) => i.contentHash))) : undefined;
  const lacksGarments = (p: Prepared) => segmentedBefore !== undefined && p.images.some((i) => !segmentedBefore.has(i.contentHash));
  const changed = prepared.filter((p) => stored.get(p.listing.id) !== p.hash || lacksGarments(p));
  const unchanged = prepared.length - changed.length;
  if (changed.length === 0) return { indexed: 0, unchanged, segmented: 0 };

  const allImages = changed.flatMap((p) => p.images);
  const known = await catalog.analysesByHash(allImages.map((i) => i.contentHash));
  const results = await analyzeDistinct(analyzer, allImages, known);

  const usable: Array<{ p: Prepared; good: ImageBytes[] }> = [];
  for (const p of changed) {
    const good: ImageBytes[] = [];
    const problems: FailedItem[] = [];
    for (const image of p.images) {
      const result = results.get(image.contentHash);
      if (result instanceof GroknetError) problems.push(failureOf(imageItem(p.listing, image.path, root), result));
      else if (result) good.push(image);
    }
    if (good.length === 0) {
      const first = problems[0]!;
      failed.push({ item: p.listing.item, code: first.code, message: first.message });
      continue;
    }
    failed.push(...problems);
    usable.push({ p, good });
  }

  // Garments of the photos not segmented yet; a photo's stored garments stay with it
  // (insertProducts keeps them also when this run has no segmenter).
  const goodImages = usable.flatMap((u) => u.good);
  const garments: ReadonlyMap<string, ImageGarment[] | GroknetError> =
    segmenter && segmentedBefore ? await segmentDistinct(segmenter, goodImages, segmentedBefore) : new Map();
  const gained = (image: ImageBytes) => segmentedBefore !== undefined && !segmentedBefore.has(image.contentHash) && Array.isArray(garments.get(image.contentHash));

  const inputs: ProductInput[] = [];
  const items = new Map<string, string>();
  let alsoUnchanged = 0;
  for (const { p, good } of usable) {
    for (const image of good) {
      const result = garments.get(image.contentHash);
      if (result instanceof GroknetError) failed.push(garmentFailure(imageItem(p.listing, image.path, root), result));
    }
    // An image the analyzer rejects is left out of the stored product, and so of its hash:
    // compare again without it, or such a listing would be rewritten on every run. The
    // same for photos that could not be segmented again: nothing new to write.
    if (stored.get(p.listing.id) === hashOf(p.listing, good) && !good.some(gained)) {
      alsoUnchanged++;
      continue;
    }
    const analyses = new Map<string, Analysis>();
    for (const image of good) analyses.set(image.contentHash, results.get(image.contentHash) as Analysis);
    inputs.push(toInput(p.listing, good, analyses, garments));
    items.set(p.listing.id, p.listing.item);
  }
  const indexed = await write(catalog, inputs, items, failed, options.onWritten);
  const segmented = new Set(goodImages.filter(gained).map((i) => i.contentHash)).size;
  return { indexed, unchanged: unchanged + alsoUnchanged, segmented };
}

/** Ingests listings that are already parsed (the queue worker uses this for one job). */
export async function ingestListings(
  listings: readonly Listing[],
  options: IngestOptions & { root?: string; tracker?: ProgressTracker },
): Promise<Omit<IngestSummary, 'ignored' | 'total'>> {
  const started = performance.now();
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new GroknetError('invalid_argument', 'batchSize must be 1-10000');
  }
  await assertCompatible(options.catalog, options.analyzer);
  const tracker = options.tracker ?? new ProgressTracker(listings.length, options.onProgress);
  const failed: FailedItem[] = [];
  let indexed = 0;
  let unchanged = 0;
  let segmented = 0;
  let aborted = false;
  for (let i = 0; i < listings.length; i += batchSize) {
    if (options.signal?.aborted) {
      aborted = true;
      break;
    }
    const batch = listings.slice(i, i + batchSize);
    const failedBefore = failed.length;
    const result = await ingestBatch(batch, options, failed, options.root);
    indexed += result.indexed;
    unchanged += result.unchanged;
    segmented += result.segmented;
    tracker.done += batch.length;
    tracker.indexed += result.indexed;
    tracker.unchanged += result.unchanged;
    tracker.failedItems += failed.length - failedBefore;
    tracker.report();
  }
  return { indexed, unchanged, failed, segmented, aborted, elapsedMs: performance.now() - started };
}

/** Ingests one SOURCE, or several inputs (folders, listing files, image files: see readSources). */
export async function ingest(source: string | ReadonlyArray<string | Buffer>, options: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  await assertCompatible(options.catalog, options.analyzer);
  const parsed = typeof source === 'string' ? await readSource(source) : await readSources(source);
  const listings: Listing[] = [];
  const failed: FailedItem[] = [];
  for (const entry of parsed.entries) {
    if ('listing' in entry) listings.push(entry.listing);
    else failed.push(entry.failure);
  }
  const tracker = new ProgressTracker(parsed.entries.length, options.onProgress);
  tracker.done = failed.length;
  tracker.failedItems = failed.length;
  tracker.report();

  const result = await ingestListings(listings, { ...options, root: parsed.root, tracker });
  // Also when nothing new was written: a previous run may have been killed before this step.
  if (options.optimize !== false && (result.indexed > 0 || !(await options.catalog.hasTextIndex()))) {
    await options.catalog.optimize();
  }
  return {
    total: parsed.entries.length,
    indexed: result.indexed,
    unchanged: result.unchanged,
    failed: [...failed, ...result.failed],
    segmented: result.segmented,
    ignored: parsed.ignored,
    aborted: result.aborted,
    elapsedMs: performance.now() - started,
  };
}
