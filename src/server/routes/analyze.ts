// POST /v1/analyze: one photo -> heads, code, optional embedding and a suggested listing.
import { z } from 'zod';
import { suggestListing } from '../../pipelines/suggest-listing.ts';
import type { App, RouteContext } from '../app.ts';
import { ErrorBodySchema } from '../http-errors.ts';
import { cropToRegion, parseRegion, readUpload, RegionSchema } from '../image-input.ts';
import { HeadResultSchema, SuggestedListingSchema } from '../schemas.ts';
import { parseInput } from '../validate.ts';

const QuerySchema = z.strictObject({
  x: z.string().optional(),
  y: z.string().optional(),
  w: z.string().optional(),
  h: z.string().optional(),
  embedding: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => v === 'true' || v === '1')
    .meta({ description: 'Include the embedding vector in the answer' }),
});

const FieldsSchema = z.strictObject({ x: z.string(), y: z.string(), w: z.string(), h: z.string() }).partial();

export const AnalyzeResponseSchema = z
  .object({
    modelVersion: z.string(),
    heads: z.record(z.string(), HeadResultSchema),
    embedding: z.array(z.number()).optional(),
    code: z.string().meta({ description: 'Binary code of the embedding, hex' }),
    listing: SuggestedListingSchema,
    region: RegionSchema.nullable(),
    products: z.array(z.unknown()).meta({ description: 'Products detected in the photo (empty until detection lands)' }),
  })
  .meta({ id: 'AnalyzeResponse' });

const errors = { 400: ErrorBodySchema, 413: ErrorBodySchema, 415: ErrorBodySchema, 422: ErrorBodySchema, 429: ErrorBodySchema, 503: ErrorBodySchema, 504: ErrorBodySchema };

export function analyzeRoutes(app: App, ctx: RouteContext): void {
  app.post(
    '/v1/analyze',
    {
      bodyLimit: ctx.config.limits.maxInputBytes,
      config: {
        openapiBody: {
          consumes: ['multipart/form-data', 'image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'],
          schema: z.object({
            image: z.string().meta({ format: 'binary', description: 'The photo (multipart), or send the bytes as the body' }),
            x: z.string().optional(),
            y: z.string().optional(),
            w: z.string().optional(),
            h: z.string().optional(),
          }),
        },
      },
      schema: {
        summary: 'Analyse a photo and suggest a listing',
        description: 'Crop first with the region `x, y, w, h` (pixels of the upright image), in the query or as form fields.',
        tags: ['analyze'],
        querystring: QuerySchema,
        response: { 200: AnalyzeResponseSchema, ...errors },
      },
    },
    async (request) => {
      const upload = await readUpload(request, ctx.config.limits, 1);
      const fields = parseInput(FieldsSchema, upload.fields, 'form');
      const fromQuery = parseRegion(request.query, 'query');
      const region = fromQuery ?? parseRegion(fields, 'form');
      const bytes = region ? await cropToRegion(upload.files[0]!, region, ctx.config.limits) : upload.files[0]!;
      const analysis = await ctx.queue.analyze(bytes);
      return {
        modelVersion: analysis.modelVersion,
        heads: analysis.heads,
        ...(request.query.embedding ? { embedding: Array.from(analysis.embedding, (v) => Math.round(v * 1e6) / 1e6) } : {}),
        code: analysis.code,
        listing: suggestListing(analysis.heads),
        region: region ?? null,
        products: [],
      };
    },
  );
}
