// Products: publish (photos + listing fields -> analysed, stored, indexed), read, delete.
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { CatalogStore } from '../../catalog/types.ts';
import { GroknetError, isGroknetError } from '../../errors.ts';
import type { Analysis } from '../../model/types.ts';
import { suggestListing } from '../../pipelines/suggest-listing.ts';
import type { App, RouteContext } from '../app.ts';
import { ErrorBodySchema } from '../http-errors.ts';
import { readUpload } from '../image-input.ts';
import type { StoredFile } from '../image-store.ts';
import { ProductIdParams, ProductSchema, SuggestedListingSchema } from '../schemas.ts';
import { requireSegmentation } from './shop-the-look.ts';
import { parseInput } from '../validate.ts';
import { productView } from '../views.ts';

const AttributeValue = z.union([z.string().max(500), z.number(), z.boolean(), z.null(), z.array(z.string().max(200)).max(50)]);
const AttributesSchema = z.record(z.string().min(1).max(64), AttributeValue).refine((a) => Object.keys(a).length <= 50, 'at most 50 attributes');

const jsonObject = z.string().transform((text, issue) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    issue.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"colour":"red"}' });
    return z.NEVER;
  }
});

export const ProductFieldsSchema = z.strictObject({
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().max(5000).optional(),
  price: z
    .string()
    .regex(/^\d{1,9}(\.\d{1,4})?$/, 'must be a number like 12.50')
    .transform(Number)
    .optional(),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a three-letter code like EUR')
    .transform((c) => c.toUpperCase())
    .optional(),
  attributes: jsonObject.pipe(AttributesSchema).optional(),
});

const CreatedSchema = z
  .object({
    product: ProductSchema,
    listing: SuggestedListingSchema,
    seenWith: z.array(z.string()).nullable().meta({
      description: 'Catalog products found in the photos and linked as seen together with this one; null when this server does not detect products or detection failed (the product is published either way)',
    }),
  })
  .meta({ id: 'CreatedProduct' });
const DeletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });

const errors = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  413: ErrorBodySchema,
  415: ErrorBodySchema,
  422: ErrorBodySchema,
  429: ErrorBodySchema,
  503: ErrorBodySchema,
};

export function requireCatalog(ctx: RouteContext): CatalogStore {
  if (!ctx.catalog) throw new GroknetError('unavailable', 'this server has no catalog');
  return ctx.catalog;
}

function newProductId(): string {
  return `p_${randomBytes(9).toString('base64url')}`;
}

/** Empty form fields mean "not given". */
function withoutEmpty(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v.trim() !== ''));
}

const PublishQuerySchema = z.strictObject({
  garments: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1')
    .meta({
      description:
        'Segment the clothing in each photo and store its garments, as `groknet index --garments` does (filters garment and garment_colour; default false; 503 on a server without a segmentation model). A photo that cannot be segmented is published without garments.',
    }),
});

export function productRoutes(app: App, ctx: RouteContext): void {
  app.post(
    '/v1/products',
    {
      // Checked before the body is read: a refused client never uploads megabytes.
      onRequest: ctx.writeAccess,
      config: {
        openapiBody: {
          consumes: ['multipart/form-data'],
          schema: z.object({
            image: z.array(z.string().meta({ format: 'binary' })).meta({ description: `1 to ${ctx.config.maxImagesPerProduct} photos (repeat the field)` }),
            title: z.string(),
            description: z.string().optional(),
            price: z.string().optional().meta({ example: '12.50' }),
            currency: z.string().optional().meta({ example: 'EUR' }),
            attributes: z.string().optional().meta({ description: 'JSON object of seller attributes', example: '{"colour":"red"}' }),
          }),
        },
      },
      schema: {
        summary: 'Publish a product: photos are analysed, stored and indexed',
        tags: ['products'],
        security: [{ bearer: [] }, { apiKey: [] }],
        querystring: PublishQuerySchema,
        response: { 201: CreatedSchema, ...errors },
      },
    },
    async (request, reply) => {
      const catalog = requireCatalog(ctx);
      // Checked before the upload is read: a server without a segmenter refuses at once.
      const segmentation = request.query.garments ? requireSegmentation(ctx) : undefined;
      const upload = await readUpload(request, ctx.config.limits, ctx.config.maxImagesPerProduct);
      const fields = parseInput(ProductFieldsSchema, withoutEmpty(upload.fields), 'form');
      const analyses = await analyzeAll(ctx, upload.files);
      // Before anything is stored: a busy or missing segmenter fails the request and loses nothing.
      const garments = segmentation ? await segmentation.productGarments(upload.files) : undefined;
      garments?.forEach((found, i) => {
        if (found instanceof GroknetError) request.log.warn({ err: found, image: i }, 'published without garments: the photo could not be segmented');
      });
      const stored = await saveAll(ctx, upload.files);
      const id = newProductId();
      try {
        await catalog.insertProducts([
          {
            id,
            title: fields.title,
            description: fields.description ?? '',
            price: fields.price ?? null,
            currency: fields.currency ?? null,
            attributes: fields.attributes ?? {},
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
      const product = await catalog.getProduct(id);
      if (!product) throw new GroknetError('store_error', 'the product was not found right after writing it');
      const seenWith = await linkSeenTogether(ctx, catalog, id, upload.files, stored, request.log);
      request.log.info({ productId: id, images: stored.length, seenWith: seenWith?.length }, 'product published');
      return reply.status(201).send({ product: productView(product, ctx.images), listing: suggestListing(analyses[0]!.heads), seenWith });
    },
  );

  app.get(
    '/v1/products/:id',
    {
      schema: {
        summary: 'A product with its images',
        tags: ['products'],
        params: ProductIdParams,
        response: { 200: ProductSchema, ...errors },
      },
    },
    async (request) => {
      const product = await requireCatalog(ctx).getProduct(request.params.id);
      if (!product) throw new GroknetError('not_found', request.params.id);
      return productView(product, ctx.images);
    },
  );

  app.delete(
    '/v1/products/:id',
    {
      onRequest: ctx.writeAccess,
      schema: {
        summary: 'Remove a product from the catalog',
        tags: ['products'],
        security: [{ bearer: [] }, { apiKey: [] }],
        params: ProductIdParams,
        response: { 200: DeletedSchema, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const catalog = requireCatalog(ctx);
      const product = await catalog.getProduct(id);
      const deleted = await catalog.deleteProduct(id);
      if (!deleted) throw new GroknetError('not_found', id);
      // Only after the commit: a crash in between leaves orphan files, never a product without its photos.
      if (product) await removeUploads(ctx, catalog, product.images.map((image) => image.path), request.log);
      return { id, deleted: true as const };
    },
  );
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
 * Removes a deleted product's uploaded photos that no other product uses. The product is
 * already gone: a file that cannot be removed is logged and left as an orphan, never a failed request.
 */
async function removeUploads(ctx: RouteContext, catalog: CatalogStore, paths: readonly string[], log: FastifyBaseLogger): Promise<void> {
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
