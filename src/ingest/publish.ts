// publish: listings -> photos read, analysed, their garments measured, stored, written to
// the catalog in batches, and linked as seen together. The one pipeline behind POST
// /v1/products, `groknet index` and queue workers; how they differ is their PublishPolicy
// (policy.ts), and when their runs end is theirs to say (link.ts, run.ts).
//
// Idempotent and resumable by content hash: a listing whose fields and photos are already
// stored is "unchanged" and costs one look-up, so re-running after a crash (or a kill -9)
// only redoes the batch that was in flight. Photos given as bytes (uploads) are stored by a
// PhotoStore once they are analysed; they have no stored identity before that, so a
// listing with such photos is always written.
//
// What fails where: a photo or a listing fails alone (the policy says which of the two a bad
// photo fails); a photo whose garments cannot be measured is published without them and
// reported; a write the catalog refuses is retried listing by listing to find the culprit;
// linking never fails what was written. Only a wrong model, a store that cannot be read or a
// garment measurer that refuses the batch make publish throw.

import { relative } from 'node:path';
import { analyzeDistinct } from '../catalog/analyze.ts';
import { assertCompatible } from '../catalog/compatible.ts';
import { productHash, sha256 } from '../catalog/hash.ts';
import { readImageFile } from '../catalog/image-file.ts';
import { listingFieldsOf } from '../catalog/listing.ts';
import type { FailedItem, Listing } from '../catalog/sources.ts';
import type { CatalogStore, ImageGarment, ProductInput } from '../catalog/types.ts';
import { GroknetError, isGroknetError, toGroknetError } from '../errors.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import { segmentDistinct, type MeasureGarments } from './garments.ts';
import { addLinks, summarize, type LinkSummary, type SeenTogetherLinker } from './link.ts';
import type { PublishPolicy } from './policy.ts';
import { ProgressTracker, type IngestProgress } from './progress.ts';

/** A photo to publish: a file, indexed where it is, or bytes in hand (an upload), kept by a PhotoStore. */
export type PhotoSource = string | Buffer;

/** A listing's fields and its photos. */
export interface PublishListing extends Omit<Listing, 'images'> {
  images: readonly PhotoSource[];
}

/** Where photos given as bytes are kept; files are indexed where they are and need none. */
export interface PhotoStore {
  save(bytes: Buffer): Promise<StoredPhoto>;
}

export interface StoredPhoto {
  /** What the catalog references: the kept copy's path and the sha256 of its bytes. */
  path: string;
  contentHash: string;
  /** Called once the batch's write is over (committed or not): the copy may go once nothing references it. */
  release(): void;
}

export interface PublishOptions {
  catalog: CatalogStore;
  /** Analyses the photos; must be the catalog's model. */
  analyzer: Analyzer;
  policy: PublishPolicy;
  /** Measures each photo's garments to store with it (filters `garment`, `garment_colour`); off when absent. */
  garments?: MeasureGarments;
  /** Links what is seen together in the photos of each batch written; off when absent. */
  seenTogether?: SeenTogetherLinker;
  /** Keeps the photos given as bytes. */
  photoStore?: PhotoStore;
  /** Reports name file photos relative to this folder (a source's root); absolute otherwise. */
  root?: string;
  onProgress?: (progress: IngestProgress) => void;
  /** Stops between batches; what was written stays written (and linked). */
  signal?: AbortSignal;
}

export type ListingOutcome =
  | {
      status: 'indexed' | 'unchanged';
      id: string;
      /** Photos left out and garments not stored: the listing is published without them. */
      notes: FailedItem[];
      /** Other products found in its photos; null when not linked (no linker, unchanged, or linking failed). */
      seenWith: string[] | null;
      /** Its products or photos that could not be linked. */
      linkFailures: FailedItem[];
    }
  | { status: 'failed'; id: string; failure: FailedItem; error: GroknetError }
  /** Its batch never started: the run was stopped first. */
  | { status: 'not_reached'; id: string };

export interface PublishSummary {
  /** One per listing given, in the same order. */
  outcomes: ListingOutcome[];
  indexed: number;
  unchanged: number;
  /** Failed listings and the notes of published ones, listing by listing. */
  failed: FailedItem[];
  /** Photos whose garments were measured in this call. */
  segmented: number;
  /** With a linker: the linking of the listings this call wrote. */
  links: LinkSummary | undefined;
  aborted: boolean;
  elapsedMs: number;
}

/** A photo on its way: read, then analysed, then stored. */
interface PhotoWork {
  /** How reports name it: its file, or "photo N" for bytes in hand. */
  label: string;
  bytes: Buffer;
  /** sha256 of `bytes`: the key of its analysis and garments. */
  contentHash: string;
  /** What the catalog references: known for a file, set once bytes in hand are stored. */
  stored: { path: string; contentHash: string } | undefined;
  analysis: Analysis | undefined;
}

/** A listing on its way through one batch. */
interface ListingWork {
  listing: PublishListing;
  /** Photos still usable. */
  photos: PhotoWork[];
  notes: FailedItem[];
  outcome: ListingOutcome | undefined;
}

interface PhotoProblem {
  photo: string;
  error: GroknetError;
}

export async function publish(listings: readonly PublishListing[], options: PublishOptions): Promise<PublishSummary> {
  return publishTracked(listings, options, new ProgressTracker(listings.length, options.onProgress));
}

/** publish, counting into a tracker the caller may have started (ingest counts the source's bad rows first). */
export async function publishTracked(listings: readonly PublishListing[], options: PublishOptions, tracker: ProgressTracker): Promise<PublishSummary> {
  const started = performance.now();
  const { batchSize } = options.policy;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new GroknetError('invalid_argument', 'batchSize must be 1-10000');
  await assertCompatible(options.catalog, options.analyzer);
  const outcomes: ListingOutcome[] = [];
  let segmented = 0;
  let links: LinkSummary | undefined;
  let aborted = false;
  for (let i = 0; i < listings.length; i += batchSize) {
    const batch = listings.slice(i, i + batchSize);
    if (options.signal?.aborted) {
      aborted = true;
      outcomes.push(...listings.slice(i).map((l): ListingOutcome => ({ status: 'not_reached', id: l.id })));
      break;
    }
    const result = await publishBatch(batch, options);
    outcomes.push(...result.outcomes);
    segmented += result.segmented;
    if (result.links) links = addLinks(links, result.links);
    count(tracker, result.outcomes);
  }
  const failed = outcomes.flatMap((o) => (o.status === 'failed' ? [o.failure] : o.status === 'not_reached' ? [] : o.notes));
  const indexed = outcomes.filter((o) => o.status === 'indexed').length;
  const unchanged = outcomes.filter((o) => o.status === 'unchanged').length;
  return { outcomes, indexed, unchanged, failed, segmented, links, aborted, elapsedMs: performance.now() - started };
}

function count(tracker: ProgressTracker, outcomes: readonly ListingOutcome[]): void {
  tracker.done += outcomes.length;
  for (const o of outcomes) {
    if (o.status === 'indexed') tracker.indexed++;
    if (o.status === 'unchanged') tracker.unchanged++;
    tracker.failedItems += o.status === 'failed' ? 1 : o.status === 'not_reached' ? 0 : o.notes.length;
  }
  tracker.report();
}

interface BatchResult {
  outcomes: ListingOutcome[];
  segmented: number;
  links: LinkSummary | undefined;
}

async function publishBatch(batch: readonly PublishListing[], options: PublishOptions): Promise<BatchResult> {
  const works: ListingWork[] = batch.map((listing) => ({ listing, photos: [], notes: [], outcome: undefined }));
  for (const work of works) await readPhotos(work, options);
  const stored = await options.catalog.getProductHashes(pending(works).map((w) => w.listing.id));
  const garmentsBefore = options.garments ? await options.catalog.garmentsByHash(pending(works).flatMap((w) => w.photos.map((p) => p.contentHash))) : undefined;
  for (const work of pending(works)) {
    if (isUnchanged(work, stored, garmentsBefore)) publishedAs(work, 'unchanged');
  }
  await analyze(pending(works), options);
  const garments = await measureGarments(pending(works), options.garments, garmentsBefore);
  const gained = (photo: PhotoWork) => garmentsBefore !== undefined && !garmentsBefore.has(photo.contentHash) && Array.isArray(garments.get(photo.contentHash));
  // Counted before anything is skipped: these photos were measured in this call.
  const segmented = new Set(pending(works).flatMap((w) => w.photos.filter(gained).map((p) => p.contentHash))).size;
  for (const work of pending(works)) {
    noteGarmentFailures(work, garments);
    // A photo the analyzer refused is left out of the stored product, and so of its hash:
    // compare again without it, or such a listing would be rewritten on every run. The same
    // for photos that could not be segmented again: nothing new to write.
    if (isUnchanged(work, stored, undefined) && !work.photos.some(gained)) publishedAs(work, 'unchanged');
  }
  const holds = await storePhotos(pending(works), options);
  try {
    await write(pending(works), options, garments);
  } finally {
    for (const hold of holds) hold.release();
  }
  const links = await link(works, options.seenTogether);
  return { outcomes: works.map((w) => w.outcome!), segmented, links };
}

/** Listings of the batch not settled yet. */
function pending(works: readonly ListingWork[]): ListingWork[] {
  return works.filter((w) => w.outcome === undefined);
}

function publishedAs(work: ListingWork, status: 'indexed' | 'unchanged'): void {
  work.outcome = { status, id: work.listing.id, notes: work.notes, seenWith: null, linkFailures: [] };
}

function failWith(work: ListingWork, failure: FailedItem, error: GroknetError): void {
  work.outcome = { status: 'failed', id: work.listing.id, failure, error };
}

async function readPhotos(work: ListingWork, { root, policy }: PublishOptions): Promise<void> {
  const problems: PhotoProblem[] = [];
  for (const [i, source] of work.listing.images.entries()) {
    if (Buffer.isBuffer(source)) {
      work.photos.push({ label: `photo ${i + 1}`, bytes: source, contentHash: sha256(source), stored: undefined, analysis: undefined });
      continue;
    }
    const label = root ? relative(root, source) : source;
    try {
      const file = await readImageFile(source);
      work.photos.push({ label, bytes: file.bytes, contentHash: file.contentHash, stored: { path: file.path, contentHash: file.contentHash }, analysis: undefined });
    } catch (error) {
      problems.push({ photo: label, error: toGroknetError(error) });
    }
  }
  dropUnusable(work, problems, policy);
}

/**
 * Applies the policy to the photos that could not be used: each is reported and left out,
 * and a listing left without photos fails with the first one's reason; or, failing the
 * listing, the first one's error fails it, named by its photo when the listing has several.
 */
function dropUnusable(work: ListingWork, problems: readonly PhotoProblem[], policy: PublishPolicy): void {
  const first = problems[0];
  if (!first) return;
  const unusable = new Set(problems.map((p) => p.photo));
  work.photos = work.photos.filter((photo) => !unusable.has(photo.label));
  if (policy.unusablePhoto === 'fail-listing') {
    const error = work.listing.images.length > 1 ? namedByPhoto(first) : first.error;
    failWith(work, { item: work.listing.item, code: error.code, message: error.message }, error);
    return;
  }
  if (work.photos.length === 0) {
    failWith(work, { item: work.listing.item, code: first.error.code, message: first.error.message }, first.error);
    return;
  }
  work.notes.push(...problems.map((p) => photoFailure(work, p)));
}

function namedByPhoto({ photo, error }: PhotoProblem): GroknetError {
  const options = { cause: error, ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }) };
  return new GroknetError(error.code, `${photo}: ${error.details ?? error.message}`, options);
}

function photoFailure(work: ListingWork, { photo, error }: PhotoProblem): FailedItem {
  return { item: `${work.listing.item}: ${photo}`, code: error.code, message: error.message };
}

/** Stored with the same fields and photos (and, when garments are measured, with the garments of every photo). */
function isUnchanged(work: ListingWork, stored: ReadonlyMap<string, string>, garmentsBefore: ReadonlyMap<string, ImageGarment[]> | undefined): boolean {
  const identities = work.photos.map((p) => p.stored);
  if (identities.some((identity) => identity === undefined)) return false;
  const hash = productHash({ ...work.listing, images: identities as Array<{ path: string; contentHash: string }> });
  if (stored.get(work.listing.id) !== hash) return false;
  return garmentsBefore === undefined || work.photos.every((p) => garmentsBefore.has(p.contentHash));
}

/** Analyses the photos of the batch in one analyzer run, reusing the analyses stored for the same bytes. */
async function analyze(works: readonly ListingWork[], options: PublishOptions): Promise<void> {
  const photos = works.flatMap((w) => w.photos);
  if (photos.length === 0) return;
  const known = await options.catalog.analysesByHash(photos.map((p) => p.contentHash));
  const results = await analyzeDistinct(options.analyzer, photos.map((p) => ({ path: p.label, bytes: p.bytes, contentHash: p.contentHash })), known);
  for (const work of works) {
    const problems: PhotoProblem[] = [];
    for (const photo of work.photos) {
      const result = results.get(photo.contentHash) ?? new GroknetError('internal', 'no analysis');
      if (result instanceof GroknetError) problems.push({ photo: photo.label, error: result });
      else photo.analysis = result;
    }
    dropUnusable(work, problems, options.policy);
  }
}

async function measureGarments(
  works: readonly ListingWork[],
  measure: MeasureGarments | undefined,
  before: ReadonlyMap<string, ImageGarment[]> | undefined,
): Promise<ReadonlyMap<string, ImageGarment[] | GroknetError>> {
  if (!measure || !before) return new Map();
  return segmentDistinct(measure, works.flatMap((w) => w.photos), before);
}

/** A photo published without its garments: reported with the segmentation's code. */
function noteGarmentFailures(work: ListingWork, garments: ReadonlyMap<string, ImageGarment[] | GroknetError>): void {
  for (const photo of work.photos) {
    const result = garments.get(photo.contentHash);
    if (result instanceof GroknetError) work.notes.push({ item: `${work.listing.item}: ${photo.label}`, code: result.code, message: `garments not stored: ${result.message}` });
  }
}

/**
 * Keeps the photos given as bytes, now that they are analysed (a photo that cannot be
 * analysed is never stored). Returns the holds to give back once the write is over.
 */
async function storePhotos(works: readonly ListingWork[], { photoStore, policy }: PublishOptions): Promise<StoredPhoto[]> {
  const holds: StoredPhoto[] = [];
  for (const work of works) {
    const problems: PhotoProblem[] = [];
    for (const photo of work.photos.filter((p) => p.stored === undefined)) {
      try {
        if (!photoStore) throw new GroknetError('invalid_argument', 'photos given as bytes need a photo store to keep them');
        const kept = await photoStore.save(photo.bytes);
        holds.push(kept);
        photo.stored = { path: kept.path, contentHash: kept.contentHash };
      } catch (error) {
        problems.push({ photo: photo.label, error: toGroknetError(error) });
      }
    }
    dropUnusable(work, problems, policy);
  }
  return holds;
}

function toInput(work: ListingWork, garments: ReadonlyMap<string, ImageGarment[] | GroknetError>): ProductInput {
  return {
    ...listingFieldsOf(work.listing),
    images: work.photos.map((photo) => {
      const found = garments.get(photo.contentHash);
      return { ...photo.stored!, analysis: photo.analysis!, garments: Array.isArray(found) ? found : null };
    }),
  };
}

/** Writes the batch in one commit; if the catalog refuses it, listing by listing, so only the culprit fails. */
async function write(works: readonly ListingWork[], options: PublishOptions, garments: ReadonlyMap<string, ImageGarment[] | GroknetError>): Promise<void> {
  if (works.length === 0) return;
  try {
    await options.catalog.insertProducts(works.map((work) => toInput(work, garments)));
    for (const work of works) publishedAs(work, 'indexed');
  } catch (error) {
    // A wrong model is wrong for every listing: no point trying them one by one.
    if (works.length === 1 || (isGroknetError(error) && error.code === 'model_mismatch')) {
      const e = toGroknetError(error);
      for (const work of works) failWith(work, { item: work.listing.item, code: e.code, message: e.message }, e);
      return;
    }
    for (const work of works) await write([work], options, garments);
  }
}

/** Links the batch's written listings (the linker reports, never throws). */
async function link(works: readonly ListingWork[], linker: SeenTogetherLinker | undefined): Promise<LinkSummary | undefined> {
  const written = works.flatMap((w) => (w.outcome?.status === 'indexed' ? [w.outcome] : []));
  if (!linker || written.length === 0) return undefined;
  const linkings = await linker.linkWritten([...new Set(written.map((o) => o.id))]);
  for (const outcome of written) {
    const linking = linkings.get(outcome.id);
    if (linking?.status === 'linked') {
      outcome.seenWith = linking.found;
      outcome.linkFailures = linking.failed;
    } else if (linking?.status === 'failed') outcome.linkFailures = [linking.failure];
  }
  return summarize(linkings);
}
