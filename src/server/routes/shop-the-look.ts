// POST /v1/shop-the-look: one outfit photo -> its garments (clothing segmentation), each
// searched for in the catalog by its box, as POST /v1/search does with an image and a
// region; optionally only products of the garment's colour. The steps are
// src/pipelines/shop-the-look-catalog.ts, shared with `groknet shop-the-look`.
import { z } from 'zod';
import { DEFAULT_LOOK_K, DEFAULT_MAX_GARMENTS, MAX_GARMENTS_LIMIT, MAX_LOOK_K } from '../../pipelines/shop-the-look.ts';
import { catalogColourField, lookJson, shopTheLookInCatalog } from '../../pipelines/shop-the-look-catalog.ts';
import { requireSegmentation, type App, type RouteContext } from '../context.ts';
import { errorResponses, PHOTO_ROUTE_ERRORS } from '../error-responses.ts';
import { readUpload } from '../image-input.ts';
import { FlagSchema, GarmentSchema, SearchHitSchema } from '../schemas.ts';
import { hitView } from '../views.ts';
import { parseFormFields, parseInput } from '../validate.ts';
import { requireSearch } from '../search-admission.ts';

// The same options in the query or as form fields of a multipart body (the query wins).
const OptionsSchema = z.strictObject({
  k: z.coerce.number().int().min(1).max(MAX_LOOK_K).optional().meta({ description: `Results per garment (default ${DEFAULT_LOOK_K})` }),
  maxGarments: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_GARMENTS_LIMIT)
    .optional()
    .meta({ description: `At most this many garments, largest first (default ${DEFAULT_MAX_GARMENTS})` }),
  matchColour: FlagSchema.optional().meta({ description: "Only products with a garment of the garment's colour (garment_colour, when the catalog was indexed with --garments), else whose colour attribute is it (default false)" }),
});

const FieldsSchema = z.strictObject({ k: z.string(), maxGarments: z.string(), matchColour: z.string() }).partial();

const LookGarmentSchema = GarmentSchema.extend({
  filters: z.record(z.string(), z.string()).meta({ description: "The filters this garment's search used, e.g. { garment_colour: 'red' } (or { colour: 'red' }) with matchColour" }),
  results: z.array(SearchHitSchema).meta({ description: 'Catalog products like the garment, best first: exact (the same product) or similar' }),
}).meta({ id: 'LookGarment' });

export const ShopTheLookResponseSchema = z
  .object({
    width: z.number().int().meta({ description: 'Width of the upright photo, the frame of the boxes' }),
    height: z.number().int(),
    matchColour: z.boolean(),
    garments: z.array(LookGarmentSchema).meta({ description: 'The garments found, largest first; empty when the photo shows none' }),
  })
  .meta({ id: 'ShopTheLookResponse' });

/** The filter field of the catalog's colour attribute; a search service given without a catalog knows its own fields. */
async function colourField(ctx: RouteContext): Promise<string | undefined> {
  return ctx.catalog ? catalogColourField(ctx.catalog, 'matchColour') : 'colour';
}

export function shopTheLookRoutes(app: App, ctx: RouteContext): void {
  app.post(
    '/v1/shop-the-look',
    {
      bodyLimit: ctx.config.limits.maxInputBytes,
      config: {
        openapiBody: {
          consumes: ['multipart/form-data', 'image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'],
          schema: z.object({
            image: z.string().meta({ format: 'binary', description: 'The outfit photo (multipart), or send the bytes as the body' }),
            k: z.string().optional(),
            maxGarments: z.string().optional(),
            matchColour: z.string().optional(),
          }),
        },
      },
      schema: {
        summary: 'Shop the look: each garment of an outfit photo, with the catalog products like it',
        description:
          "The photo's clothing is segmented; each garment (largest first) is searched for by its box, like POST /v1/search with an image and a region. " +
          "With `matchColour`, only products with a garment of the garment's colour (`garment_colour`, stored by `groknet index --garments`), or, in a catalog without garment colours, whose `colour` attribute is it. Options go in the query or as form fields. " +
          '503 `unavailable` when this server has no clothing segmentation model.',
        tags: ['search'],
        querystring: OptionsSchema,
        response: { 200: ShopTheLookResponseSchema, ...errorResponses(...PHOTO_ROUTE_ERRORS) },
      },
    },
    async (request) => {
      const segmentation = requireSegmentation(ctx);
      const search = requireSearch(ctx);
      const upload = await readUpload(request, ctx.config.limits, 1);
      const options = { ...parseInput(OptionsSchema, parseFormFields(FieldsSchema, upload), 'form'), ...definedOnly(request.query) };
      const look = await shopTheLookInCatalog(
        upload.files[0]!,
        {
          garments: (photo, bounds) => segmentation.garments(photo, bounds),
          embed: async (image) => (await ctx.queue.analyze(image)).embedding,
          search: async (embedding, filters, limit) => (await search.search({ embedding, filters, limit })).results,
          colourField: () => colourField(ctx),
          limits: ctx.config.limits,
        },
        options,
      );
      return lookJson(look, (result) => hitView(result, ctx.images));
    },
  );
}

/** The query's options that were given (an absent one must not hide a form field). */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
