// Search: words, a photo, or a product ("more like this"), with filters and facets; plus
// the per-product similar and seen-together lists.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GroknetError } from '../../errors.ts';
import { requireCatalog, type App, type RouteContext } from '../context.ts';
import { errorResponses } from '../error-responses.ts';
import { RegionSchema } from '../image-input.ts';
import { FacetsSchema, MAX_ID_LENGTH, ProductIdParams, SearchHitSchema, SeenTogetherItemSchema } from '../schemas.ts';
import type { FilterCondition, Filters } from '../../search/types.ts';
import { requireSearch, searchGate } from '../search-admission.ts';
import { photoEmbedding } from '../search-by-photo.ts';
import type { SearchRequest, SearchService } from '../search-port.ts';
import { facetsView, hitView, seenTogetherView } from '../views.ts';

export const MAX_K = 100;

const text = z.string().max(200);
const num = z.number().finite();
// A filter is a value, a list of values, or the search module's condition object.
const FilterValueSchema = z.union([
  text,
  num,
  z.array(text).min(1).max(100),
  z.strictObject({ eq: z.union([text, num]) }),
  z.strictObject({ in: z.array(text).min(1).max(100) }),
  z.strictObject({ gte: num.optional(), lte: num.optional(), gt: num.optional(), lt: num.optional() }),
]);

type FilterValue = z.infer<typeof FilterValueSchema>;

function toCondition(value: FilterValue): FilterCondition {
  if (typeof value === 'string' || typeof value === 'number') return { eq: value };
  if (Array.isArray(value)) return { in: value };
  return value;
}

function searchBodySchema(maxImageBytes: number) {
  // base64 grows bytes by 4/3; a data: URL prefix is allowed so a page can send what it read.
  const maxBase64 = Math.ceil(maxImageBytes / 3) * 4 + 100;
  return z
    .strictObject({
      text: z.string().trim().max(500).optional(),
      image: z.string().max(maxBase64).optional().meta({ description: 'Query photo, base64 (a data: URL is accepted)' }),
      region: RegionSchema.optional().meta({
        description: 'Search by one product in the photo: its box x, y, w, h in pixels of the upright photo (e.g. a box from /v1/analyze products)',
      }),
      productId: z.string().min(1).max(MAX_ID_LENGTH).optional().meta({ description: 'Find products like this one' }),
      filters: z
        .record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'filter names are lower-case identifiers'), FilterValueSchema)
        .refine((f) => Object.keys(f).length <= 20, 'at most 20 filters')
        .optional()
        .meta({
          description:
            'Field -> value, list of values (any of them) or condition. Fields: price, currency, id, category (the seller\'s own), each predicted attribute (e.g. colour, measured on the whole photo) and, ' +
            'in a catalog indexed with --garments, garment (a garment in the photo, e.g. dress) and garment_colour (a garment of that colour, red, or that garment in it, dress:red)',
        }),
      k: z.number().int().min(1).max(MAX_K).default(20),
    })
    .refine((q) => [q.text, q.image, q.productId].filter(Boolean).length <= 1, 'give one of text, image or productId')
    .refine((q) => !q.region || q.image, { message: 'a region needs an image', path: ['region'] })
    .meta({ id: 'SearchRequest' });
}

const ParsedQuerySchema = z.object({
  kind: z.enum(['text', 'vector', 'image', 'binary']),
  text: z.string().nullable(),
  terms: z.array(z.string()).meta({ description: 'Words that named no label (every word of the query, these and the recognised ones, is matched as text)' }),
  filters: z.record(z.string(), z.unknown()).meta({ description: 'Filters applied: the ones given, and price phrases in the words ("under 200"). Other words that name a label are in `recognised`: they rank products, they do not filter' }),
  recognised: z.array(z.object({ phrase: z.string(), field: z.string(), value: z.union([z.string(), z.number()]), via: z.string().optional() })),
  image: z.boolean(),
  region: RegionSchema.nullable().meta({ description: 'The part of the photo searched by, when a region was given' }),
  productId: z.string().nullable(),
});

const SearchResponseSchema = z
  .object({
    query: ParsedQuerySchema,
    results: z.array(SearchHitSchema),
    facets: FacetsSchema,
    notes: z.array(z.string()).optional().meta({ description: "What the answer could not use: a style word (\"mid-century\") the model has no labels for is matched in the listings' own words only" }),
  })
  .meta({ id: 'SearchResponse' });

const ListSchema = z.object({ productId: z.string(), results: z.array(SearchHitSchema) });

const SeenTogetherSchema = z
  .object({ productId: z.string(), results: z.array(SeenTogetherItemSchema), note: z.string().optional() })
  .meta({ id: 'SeenTogether' });

const errors = errorResponses(400, 404, 413, 415, 422, 429, 503, 504);

export const SEEN_TOGETHER_NOTE = 'This server does not detect products, so publishing adds no seen-together links.';

/**
 * Search reads JSON only. A form or a raw photo would reach validation as no object at all
 * ("expected object, received null"): say what to send instead, before any of it is read.
 */
async function requireJson(request: FastifyRequest): Promise<void> {
  const type = request.headers['content-type'];
  if (type !== undefined && /^application\/json\s*(;|$)/i.test(type)) return;
  throw new GroknetError('unsupported_media_type', 'search takes a JSON body (Content-Type: application/json); send a photo as its "image" field, base64');
}

function decodeBase64Image(text: string): Buffer {
  const payload = text.startsWith('data:') ? text.slice(text.indexOf(',') + 1) : text;
  const compact = payload.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) throw new GroknetError('invalid_argument', 'body.image: not valid base64');
  return Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
}

export function searchRoutes(app: App, ctx: RouteContext): void {
  const maxImageBytes = ctx.config.limits.maxInputBytes;
  searchGate(ctx); // created with the routes, so its gauges are in /metrics from the start

  app.post(
    '/v1/search',
    {
      bodyLimit: Math.ceil(maxImageBytes / 3) * 4 + 64 * 1024,
      onRequest: requireJson,
      schema: {
        summary: 'Search the catalog by words, photo or product, with filters and facets',
        tags: ['search'],
        body: searchBodySchema(maxImageBytes),
        response: { 200: SearchResponseSchema, ...errors },
      },
    },
    async (request) => {
      const search = requireSearch(ctx);
      const body = request.body;
      const filters: Filters = Object.fromEntries(Object.entries(body.filters ?? {}).map(([field, value]) => [field, toCondition(value)]));
      let query: SearchRequest;
      if (body.image) {
        // Refused now rather than after the model has analysed the photo for nothing.
        searchGate(ctx).checkRoom();
        query = { ...(await photoEmbedding(ctx.queue, ctx.config.limits, decodeBase64Image(body.image), body.region)), filters, limit: body.k };
      } else if (body.productId) {
        query = { productId: body.productId, filters, limit: body.k };
      } else {
        // Words, or none: filters alone browse the catalog (a query with neither is refused).
        query = { text: body.text ?? '', filters, limit: body.k };
      }
      const answer = await search.search(query);
      return {
        query: {
          kind: answer.query.kind,
          text: answer.query.text ?? null,
          terms: answer.query.terms,
          filters: answer.query.filters,
          recognised: answer.query.recognised ?? [],
          image: Boolean(body.image),
          region: body.region ?? null,
          productId: body.productId ?? null,
        },
        results: answer.results.map((result) => hitView(result, ctx.images)),
        facets: facetsView(answer.facets),
        ...(answer.notes ? { notes: answer.notes } : {}),
      };
    },
  );

  app.get(
    '/v1/products/:id/similar',
    {
      schema: {
        summary: 'Products that look like this one',
        tags: ['search'],
        params: ProductIdParams,
        querystring: z.strictObject({ k: z.coerce.number().int().min(1).max(MAX_K).default(12) }),
        response: { 200: ListSchema, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      // POST /v1/search's "more like this" without filters: the product itself is left out there.
      const answer = await requireSearch(ctx).search({ productId: id, filters: {}, limit: request.query.k });
      return { productId: id, results: answer.results.map((result) => hitView(result, ctx.images)) };
    },
  );

  app.get(
    '/v1/products/:id/seen-together',
    {
      schema: {
        summary: 'Products photographed together with this one, most often first',
        description:
          'When a product is published, the products in its photos are detected and matched to the catalog (similarity at or above the exact-match threshold); products found in one photo are linked. `count` is the number of photos a pair was seen in.',
        tags: ['search'],
        params: ProductIdParams,
        querystring: z.strictObject({ k: z.coerce.number().int().min(1).max(MAX_K).default(12) }),
        response: { 200: SeenTogetherSchema, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const catalog = requireCatalog(ctx);
      // Up to k + 2 catalog queries: admitted like a search.
      const { links, products } = await searchGate(ctx).run(async () => {
        if (!(await catalog.getProduct(id))) throw new GroknetError('not_found', id);
        const links = await catalog.seenTogether(id, { limit: request.query.k });
        return { links, products: await Promise.all(links.map((link) => catalog.getProduct(link.id))) };
      });
      // A linked product deleted by another process a moment ago is simply left out.
      const results = links.flatMap((link, i) => (products[i] ? [seenTogetherView(products[i], link, ctx.images)] : []));
      return { productId: id, results, ...(ctx.detection ? {} : { note: SEEN_TOGETHER_NOTE }) };
    },
  );
}
