// Publishing a product through the API: the HTTP side of the one publish pipeline
// (src/ingest/publish.ts). The request's photos go through it with the request policy (all
// or none), uploads are kept in the image store, the product is written under the client's
// id or a new one and linked with what is seen together with it. What it returns is small
// enough to keep per idempotency key; the answer is built from it and the catalog
// (publishAnswer), for the first request and its repeats alike.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { sha256 } from '../catalog/hash.ts';
import type { ImageFeedback } from '../catalog/feedback-types.ts';
import type { CatalogStore } from '../catalog/types.ts';
import { describeFieldIssues, GroknetError, type FieldIssue } from '../errors.ts';
import type { MeasureGarments } from '../ingest/garments.ts';
import { SeenTogetherLinker } from '../ingest/link.ts';
import { REQUEST_POLICY } from '../ingest/policy.ts';
import { publish, type PhotoStore, type PublishListing } from '../ingest/publish.ts';
import { suggestListing } from '../pipelines/suggest-listing.ts';
import { judgeSuggestions, type FinalListing, type PhotoSuggestions } from '../pipelines/suggestion-feedback.ts';
import { analyzerView } from '../model/analyzer-view.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import type { RouteContext } from './context.ts';
import type { ServerDetection } from './detection.ts';
import { queuedAnalyzer } from './inference-queue.ts';
import type { Published } from './published.ts';
import { productView } from './views.ts';

export interface PublishInput {
  /** The client's id; undefined: a new id is made. */
  id: string | undefined;
  title: string;
  description: string;
  price: number | null;
  currency: string | null;
  /** The seller's category (null: none). */
  category: string | null;
  attributes: Record<string, unknown>;
  files: Buffer[];
  /** Measures each photo's garments (?garments=true); its refusal (busy, no model) fails the request before anything is stored. */
  garments: MeasureGarments | undefined;
  /** What /v1/analyze suggested for each photo (form field `suggested`); undefined: the seller was shown none, nothing is recorded. */
  suggested: ReadonlyArray<PhotoSuggestions | null> | undefined;
}

function newProductId(): string {
  return `p_${randomBytes(9).toString('base64url')}`;
}

/**
 * What a request asks to publish, as a hash: its query, its non-empty form fields and its
 * photos' bytes. Two sends of one request hash alike whatever their multipart boundaries.
 */
export function publishFingerprint(query: unknown, fields: Record<string, string>, files: readonly Buffer[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ query, fields: Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) }));
  for (const file of files) hash.update('\0').update(createHash('sha256').update(file).digest());
  return hash.digest('hex');
}

/**
 * Publishes through the one pipeline (src/ingest) with the request policy: the photos all
 * or none, analysed through the inference queue (its 429 and 504 included), stored in the
 * image store once analysed, linked with what is seen in them. A client id that exists is
 * replaced, as `groknet index` replaces a listing it indexes again.
 */
export async function publishProduct(ctx: RouteContext, catalog: CatalogStore, input: PublishInput, log: FastifyBaseLogger): Promise<Published> {
  const id = input.id ?? newProductId();
  const previous = input.id === undefined ? undefined : await catalog.getProduct(id);
  const listing: PublishListing = { item: id, id, title: input.title, description: input.description, price: input.price, currency: input.currency, category: input.category, attributes: input.attributes, images: input.files };
  const analyzer = queuedAnalyzer(ctx.analyzer, ctx.queue);
  // Suggestions are checked (and judged) before anything is stored: a bad one fails the
  // request, not the feedback of a product already published.
  const judged = input.suggested ? await judgePublished(analyzer, catalog, input.files, input.suggested, { category: input.category, attributes: input.attributes }) : undefined;
  const { outcomes } = await publish([listing], {
    catalog,
    analyzer: judged ? judged.analyzer : analyzer,
    policy: REQUEST_POLICY,
    photoStore: uploads(ctx),
    ...(input.garments ? { garments: input.garments } : {}),
    ...(ctx.detection ? { seenTogether: requestLinker(ctx.detection, catalog) } : {}),
  });
  const outcome = outcomes[0];
  if (outcome?.status === 'failed') throw outcome.error;
  if (outcome?.status !== 'indexed') throw new GroknetError('internal', `publishing ${id} ended ${outcome?.status ?? 'without an outcome'}`);
  for (const note of outcome.notes) log.warn({ code: note.code, image: note.item }, `published without garments: ${note.message}`);
  for (const failure of outcome.linkFailures) log.warn({ code: failure.code, productId: id, item: failure.item }, `seen-together: ${failure.message}`);
  // A replaced product's feedback goes with it: what this request was shown, or nothing.
  if (judged || previous) await recordFeedback(catalog, id, judged?.feedback ?? [], log);
  // The replaced product's photos that nothing uses any more, as a delete would.
  if (previous) await removeUploads(ctx, catalog, previous.images.map((image) => image.path), log);
  log.info({ productId: id, images: input.files.length, seenWith: outcome.seenWith?.length, replaced: Boolean(previous) }, 'product published');
  return { productId: id, status: previous ? 200 : 201, seenWith: outcome.seenWith };
}

/**
 * The photos analysed once (stored analyses reused) to check the suggestions against and
 * judge them; the analyzer returned answers publish from those analyses, so no photo is
 * analysed twice. Refused suggestions are a 400 naming each one (`form.suggested.0.heads.1.label`).
 */
async function judgePublished(
  analyzer: Analyzer,
  catalog: CatalogStore,
  files: readonly Buffer[],
  suggested: ReadonlyArray<PhotoSuggestions | null>,
  listing: FinalListing,
): Promise<{ analyzer: Analyzer; feedback: ImageFeedback[] }> {
  const hashes = files.map((file) => sha256(file));
  const known = new Map<string, Analysis | GroknetError>(await catalog.analysesByHash(hashes));
  const missing = files.filter((_, i) => !known.has(hashes[i]!));
  const fresh = missing.length > 0 ? await analyzer.analyzeBuffers(missing) : [];
  missing.forEach((file, i) => known.set(sha256(file), fresh[i] ?? new GroknetError('internal', 'no analysis')));
  const analyses = hashes.map((hash) => {
    const result = known.get(hash);
    return result instanceof GroknetError ? undefined : result;
  });
  const { feedback, problems } = judgeSuggestions(suggested, analyses, listing);
  if (problems.length > 0) {
    const issues = problems.map((p): FieldIssue => ({ in: 'form', path: ['suggested', ...p.path], message: p.message }));
    throw new GroknetError('invalid_argument', describeFieldIssues(issues), { issues });
  }
  return { analyzer: answeringFrom(analyzer, known), feedback };
}

/** An analyzer that answers the photos it was given from `known` and asks `base` for any other. */
function answeringFrom(base: Analyzer, known: ReadonlyMap<string, Analysis | GroknetError>): Analyzer {
  return analyzerView(() => base, {
    async analyzeBuffers(images) {
      const hashes = images.map((image) => sha256(image));
      const unknown = images.filter((_, i) => !known.has(hashes[i]!));
      const fresh = unknown.length > 0 ? await base.analyzeBuffers(unknown) : [];
      let next = 0;
      return hashes.map((hash) => known.get(hash) ?? fresh[next++] ?? new GroknetError('internal', 'no analysis'));
    },
    close: () => base.close(),
  });
}

/** Feedback that cannot be stored is logged: the product is published, and a retry would publish it again. */
async function recordFeedback(catalog: CatalogStore, id: string, feedback: readonly ImageFeedback[], log: FastifyBaseLogger): Promise<void> {
  try {
    await catalog.recordFeedback(id, feedback);
  } catch (error) {
    log.warn({ err: error, productId: id }, 'published without its suggestion feedback');
  }
}

/** The image store as the pipeline keeps uploads: each saved copy held until its batch's write is over. */
function uploads(ctx: RouteContext): PhotoStore {
  return {
    async save(bytes) {
      const file = await ctx.images.save(bytes, ctx.config.limits);
      // Committed (the catalog now references the file) or given up (at worst an orphan).
      return { path: file.path, contentHash: file.contentHash, release: () => ctx.images.release(file) };
    },
  };
}

/** A request is a run of one batch: the linker's second look has nothing to look at again. */
function requestLinker(detection: ServerDetection, catalog: CatalogStore): SeenTogetherLinker {
  return new SeenTogetherLinker({ catalog, analyzer: detection.cropAnalyzer, detector: () => detection.detector() });
}

/** The answer to a publish, from what it did and the product as the catalog has it now. */
export async function publishAnswer(ctx: RouteContext, catalog: CatalogStore, published: Published, replayed: boolean) {
  const product = await catalog.getProduct(published.productId);
  if (!product) {
    if (replayed) throw new GroknetError('not_found', `${published.productId}, published with this Idempotency-Key, has been deleted since`);
    throw new GroknetError('store_error', 'the product was not found right after writing it');
  }
  return {
    product: productView(product, ctx.images),
    // The stored heads of the first photo are the analysis the first answer suggested from.
    listing: suggestListing(product.images[0]?.heads ?? {}),
    seenWith: published.seenWith,
    replaced: published.status === 200,
  };
}

/**
 * Removes a deleted (or replaced) product's uploaded photos that no other product uses. The
 * product is already gone: a file that cannot be removed is logged and left as an orphan,
 * never a failed request.
 */
export async function removeUploads(ctx: RouteContext, catalog: CatalogStore, paths: readonly string[], log: FastifyBaseLogger): Promise<void> {
  const result = await ctx.images.removeUnreferenced(paths, (contentHash) => catalog.hasImageHash(contentHash));
  for (const { name, error } of result.failed) log.warn({ err: error, image: name }, 'could not remove the image of a deleted product');
  if (result.removed.length > 0) log.info({ images: result.removed.length }, 'removed the images of a deleted product');
}
