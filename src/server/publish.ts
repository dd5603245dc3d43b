// Publishing a product through the API: photos analysed (and on request segmented), stored,
// written to the catalog under the client's id or a new one, linked with what is seen
// together with it. What it returns is small enough to keep per idempotency key; the
// answer is built from it and the catalog (publishAnswer), for the first request and its
// repeats alike.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { CatalogStore, ImageGarment } from '../catalog/types.ts';
import { GroknetError, isGroknetError } from '../errors.ts';
import type { Analysis } from '../model/types.ts';
import { suggestListing } from '../pipelines/suggest-listing.ts';
import type { RouteContext } from './app.ts';
import type { StoredFile } from './image-store.ts';
import { productView } from './views.ts';

/** What a publish did: enough to answer it again. */
export const PublishedSchema = z.object({
  productId: z.string(),
  /** 201: a new product; 200: it replaced the product that had the client's id. */
  status: z.union([z.literal(200), z.literal(201)]),
  seenWith: z.array(z.string()).nullable(),
});

export type Published = z.infer<typeof PublishedSchema>;

export interface PublishInput {
  /** The client's id; undefined: a new id is made. */
  id: string | undefined;
  title: string;
  description: string;
  price: number | null;
  currency: string | null;
  attributes: Record<string, unknown>;
  files: Buffer[];
  /** Segments each photo's clothing first (?garments=true). */
  garments: ((files: readonly Buffer[]) => Promise<Array<ImageGarment[] | GroknetError>>) | undefined;
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

export async function publishProduct(ctx: RouteContext, catalog: CatalogStore, input: PublishInput, log: FastifyBaseLogger): Promise<Published> {
  const analyses = await analyzeAll(ctx, input.files);
  // Before anything is stored: a busy or missing segmenter fails the request and loses nothing.
  const garments = input.garments ? await input.garments(input.files) : undefined;
  garments?.forEach((found, i) => {
    if (found instanceof GroknetError) log.warn({ err: found, image: i }, 'published without garments: the photo could not be segmented');
  });
  const id = input.id ?? newProductId();
  // A client id that exists is replaced, as `groknet index` replaces a listing it indexes again.
  const previous = input.id === undefined ? undefined : await catalog.getProduct(id);
  const stored = await saveAll(ctx, input.files);
  try {
    await catalog.insertProducts([
      {
        id,
        title: input.title,
        description: input.description,
        price: input.price,
        currency: input.currency,
        attributes: input.attributes,
        images: stored.map((file, i) => {
          const found = garments?.[i];
          return { path: file.path, contentHash: file.contentHash, analysis: analyses[i]!, ...(found && !(found instanceof GroknetError) ? { garments: found } : {}) };
        }),
      },
    ]);
  } finally {
    // Committed (the catalog now references the files) or given up (at worst orphans).
    for (const file of stored) ctx.images.release(file);
  }
  // The replaced product's photos that nothing uses any more, as a delete would.
  if (previous) await removeUploads(ctx, catalog, previous.images.map((image) => image.path), log);
  const seenWith = await linkSeenTogether(ctx, catalog, id, input.files, stored, log);
  log.info({ productId: id, images: stored.length, seenWith: seenWith?.length, replaced: Boolean(previous) }, 'product published');
  return { productId: id, status: previous ? 200 : 201, seenWith };
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

/** Stores every photo of an upload; when one fails, the holds of the others are given back. */
async function saveAll(ctx: RouteContext, files: readonly Buffer[]): Promise<StoredFile[]> {
  const settled = await Promise.allSettled(files.map((bytes) => ctx.images.save(bytes, ctx.config.limits)));
  const failure = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (!failure) return settled.map((result) => (result as PromiseFulfilledResult<StoredFile>).value);
  for (const result of settled) if (result.status === 'fulfilled') ctx.images.release(result.value);
  throw failure.reason;
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

/**
 * Links the new product with the catalog products found in its photos. The product is
 * already published: a detection failure is logged and reported as null, never a failed request.
 */
async function linkSeenTogether(
  ctx: RouteContext,
  catalog: CatalogStore,
  id: string,
  files: readonly Buffer[],
  stored: readonly StoredFile[],
  log: FastifyBaseLogger,
): Promise<string[] | null> {
  if (!ctx.detection) return null;
  try {
    const photos = files.map((bytes, i) => ({ bytes, contentHash: stored[i]!.contentHash }));
    const linked = await ctx.detection.linkPublished(catalog, id, photos);
    return [...new Set(linked.found.map((f) => f.productId))];
  } catch (error) {
    log.warn({ err: error, productId: id }, 'seen-together detection failed');
    return null;
  }
}

/** Analyses all photos of one upload together (they share a batch); the first failure names its photo. */
async function analyzeAll(ctx: RouteContext, files: Buffer[]): Promise<Analysis[]> {
  const settled = await Promise.allSettled(files.map((bytes) => ctx.queue.analyze(bytes)));
  return settled.map((result, i) => {
    if (result.status === 'fulfilled') return result.value;
    const error = result.reason;
    if (isGroknetError(error) && files.length > 1) throw new GroknetError(error.code, `photo ${i + 1}: ${error.details ?? error.message}`);
    throw error;
  });
}
