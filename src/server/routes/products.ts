// Products: publish (photos + listing fields -> analysed, stored, indexed; src/server/publish.ts),
// read, delete. Publishing takes the client's own id and an Idempotency-Key, so a retry
// never makes a second product.
import { z } from 'zod';
import { CategorySchema, MAX_CATEGORY_LENGTH } from '../../catalog/listing.ts';
import { GroknetError } from '../../errors.ts';
import { requireCatalog, requireSegmentation, type App, type RouteContext } from '../context.ts';
import { errorResponses } from '../error-responses.ts';
import { IDEMPOTENCY_TTL_MS, IdempotencyKeySchema } from '../idempotency.ts';
import { readUpload } from '../image-input.ts';
import { publishAnswer, publishFingerprint, publishProduct, removeUploads } from '../publish.ts';
import type { Published } from '../published.ts';
import { ClientProductIdSchema, flagDefaulting, ImageFeedbackSchema, MAX_ID_LENGTH, ProductIdParams, ProductSchema, SuggestedListingSchema, SuggestedPhotosSchema } from '../schemas.ts';
import { parseFormFields } from '../validate.ts';
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

const jsonList = z.string().transform((text, issue) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    issue.addIssue({ code: 'custom', message: 'must be a JSON list, e.g. [{"modelVersion":"…","heads":[{"head":"colour","label":"red","score":0.9}]}]' });
    return z.NEVER;
  }
});

export const ProductFieldsSchema = z.strictObject({
  id: ClientProductIdSchema.optional(),
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
  // The catalog's own rule (trimmed, at most MAX_CATEGORY_LENGTH, no control characters).
  category: CategorySchema.optional(),
  attributes: jsonObject.pipe(AttributesSchema).optional(),
  suggested: jsonList.pipe(SuggestedPhotosSchema).optional(),
});

const CreatedSchema = z
  .object({
    product: ProductSchema,
    listing: SuggestedListingSchema,
    seenWith: z.array(z.string()).nullable().meta({
      description: 'Catalog products found in the photos and linked as seen together with this one; null when this server does not detect products or detection failed (the product is published either way)',
    }),
    replaced: z.boolean().meta({ description: 'True (status 200) when the request gave the id of an existing product, which it replaced; false (201) for a new product' }),
  })
  .meta({ id: 'CreatedProduct' });
const ProductDetailSchema = ProductSchema.extend({
  feedback: z.array(ImageFeedbackSchema).meta({
    description: 'Per photo, what the model suggested when it was published (`suggested` of POST /v1/products) and what the seller kept: accepted, corrected (to `final`) or dropped. Empty when it was published without suggestions.',
  }),
}).meta({ id: 'ProductDetail' });
const DeletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });

const errors = errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 503);

/** Empty form fields mean "not given". */
function withoutEmpty(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v.trim() !== ''));
}

const PublishQuerySchema = z.strictObject({
  garments: flagDefaulting(false).meta({
      description:
        'Segment the clothing in each photo and store its garments, as `groknet index --garments` does (filters garment and garment_colour; default false; 503 on a server without a segmentation model). A photo that cannot be segmented is published without garments.',
    }),
});

const TTL_HOURS = IDEMPOTENCY_TTL_MS / 3_600_000;

// Other headers pass through untouched: the multipart parser and auth read them after validation.
const PublishHeadersSchema = z.looseObject({
  'idempotency-key': IdempotencyKeySchema.optional().meta({
    description:
      `Makes a retry safe: the same key with the same request (fields, photos, query) within ${TTL_HOURS} h answers what the first request answered ` +
      '(same product, same status, header `Idempotent-Replayed: true`) without publishing again; a repeat sent while the first is still running waits for it. ' +
      'The same key with a different request is 422 `idempotency_mismatch`. Only successful publishes are remembered: after an error the same key runs the request again. ' +
      "Keys are kept in the server's data directory and survive a restart; servers sharing a data directory do not share them.",
    example: '5f0c3b0e-8d1a-4a8e-9b6a-2f1d6c3e7a90',
  }),
});

export function productRoutes(app: App, ctx: RouteContext): void {
  suggestionMetrics(ctx);
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
            category: z.string().optional().meta({
              description: `Your own category for the product (at most ${MAX_CATEGORY_LENGTH} characters): stored, shown, filtered (\`category\`) and counted in search facets`,
              example: 'Sofas',
            }),
            attributes: z.string().optional().meta({ description: 'JSON object of seller attributes', example: '{"colour":"red"}' }),
            suggested: z.string().optional().meta({
              description:
                'JSON list: what POST /v1/analyze suggested for each photo (item i for photo i, null for none): `{"modelVersion", "heads": [{"head", "label", "score"}]}` from its `modelVersion` and the `head` and `value` of each listing field it filled. ' +
                'Each is checked against the photo as published (same model, a head it has, a label that head offered; else 400 naming it) and compared with the fields as published: kept (accepted), changed (corrected) or left empty (dropped), per head: ' +
                'a category head fills `category`, a colour head `attributes.colour`, a tag head `attributes.tags`, any other head `attributes.<head>`. GET /v1/products/{id} shows it as `feedback`; without it nothing is recorded.',
              example: '[{"modelVersion":"groknet-base@1","heads":[{"head":"clothing","label":"T-Shirt","score":0.93},{"head":"colour","label":"red","score":0.88}]}]',
            }),
            id: z.string().optional().meta({
              description: `Your own id for the product (1 to ${MAX_ID_LENGTH} characters, no control characters; the rules of \`groknet index\`). An id that exists is replaced, photos and all, as \`groknet index\` replaces a listing indexed again (answer 200, \`replaced: true\`). Without one a new id is made (201).`,
              example: 'sku-1234',
            }),
          }),
        },
      },
      schema: {
        summary: 'Publish a product: photos are analysed, stored and indexed',
        description:
          'Answers 201 with a new product, or 200 when the form gave the `id` of an existing product, which is replaced. ' +
          'Send an `Idempotency-Key` header to make retries safe: a repeat of the request with the same key answers the first answer again instead of publishing twice.',
        tags: ['products'],
        security: [{ bearer: [] }, { apiKey: [] }],
        querystring: PublishQuerySchema,
        headers: PublishHeadersSchema,
        response: { 200: CreatedSchema, 201: CreatedSchema, ...errors },
      },
    },
    async (request, reply) => {
      const catalog = requireCatalog(ctx);
      // Checked before the upload is read: a server without a segmenter refuses at once.
      const segmentation = request.query.garments ? requireSegmentation(ctx) : undefined;
      const upload = await readUpload(request, ctx.config.limits, ctx.config.maxImagesPerProduct);
      const given = withoutEmpty(upload.fields);
      const fields = parseFormFields(ProductFieldsSchema, { fields: given, truncated: upload.truncated });
      const publish = (): Promise<Published> =>
        publishProduct(
          ctx,
          catalog,
          {
            id: fields.id,
            title: fields.title,
            description: fields.description ?? '',
            price: fields.price ?? null,
            currency: fields.currency ?? null,
            category: fields.category ?? null,
            attributes: fields.attributes ?? {},
            files: upload.files,
            garments: segmentation ? (files) => segmentation.productGarments(files) : undefined,
            suggested: fields.suggested,
          },
          request.log,
        );
      const key = request.headers['idempotency-key'];
      const outcome = key
        ? await ctx.idempotency.run(key, publishFingerprint(request.query, given, upload.files), publish)
        : { value: await publish(), replayed: false };
      const answer = await publishAnswer(ctx, catalog, outcome.value, outcome.replayed);
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(outcome.value.status).send(answer);
    },
  );

  app.get(
    '/v1/products/:id',
    {
      schema: {
        summary: 'A product with its images, and what the model suggested for it',
        tags: ['products'],
        params: ProductIdParams,
        response: { 200: ProductDetailSchema, ...errors },
      },
    },
    async (request) => {
      const catalog = requireCatalog(ctx);
      const product = await catalog.getProduct(request.params.id);
      if (!product) throw new GroknetError('not_found', request.params.id);
      return { ...productView(product, ctx.images), feedback: await catalog.feedbackOf(product.id) };
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

/**
 * `groknet_suggestions{head,label,outcome}`: the catalog's recorded suggestions by what
 * sellers did with them, counted from the catalog at each scrape (one read of the small
 * feedback table), so every server sharing a catalog reports the same and a deleted or
 * replaced listing stops counting: a gauge, not a counter. What corrections changed a label
 * to stays out of the labels (free text would grow without bound): `groknet labels stats`.
 */
function suggestionMetrics(ctx: RouteContext): void {
  ctx.metrics.registry.collected(
    'groknet_suggestions',
    "Suggestions in published listings by head, label and outcome (accepted, corrected, dropped), counted from the catalog when scraped",
    'gauge',
    async () => {
      if (!ctx.catalog) return [];
      const totals = new Map<string, { labels: Record<string, string>; value: number }>();
      for (const { head, label, outcome, count } of await ctx.catalog.feedbackCounts()) {
        const key = JSON.stringify([head, label, outcome]);
        const entry = totals.get(key) ?? { labels: { head, label, outcome }, value: 0 };
        entry.value += count;
        totals.set(key, entry);
      }
      return [...totals.values()];
    },
  );
}
