// POST /v1/analyze: one photo -> heads, code, optional embedding and a suggested listing,
// the products detected in the photo, each analysed on its own, and on request the
// garments its clothing segmentation finds.
import { z } from 'zod';
import { cropToRegion } from '../../image/crop.ts';
import { detectedProductJson } from '../../pipelines/detect.ts';
import { garmentJson } from '../../pipelines/shop-the-look.ts';
import { suggestListing } from '../../pipelines/suggest-listing.ts';
import { requireSegmentation, type App, type RouteContext } from '../context.ts';
import { errorResponses, PHOTO_ROUTE_ERRORS } from '../error-responses.ts';
import { parseRegion, readUpload, RegionSchema } from '../image-input.ts';
import { DetectedProductSchema, flagDefaulting, GarmentSchema, HeadResultSchema, SuggestedListingSchema } from '../schemas.ts';
import { parseFormFields } from '../validate.ts';

const QuerySchema = z.strictObject({
  x: z.string().optional(),
  y: z.string().optional(),
  w: z.string().optional(),
  h: z.string().optional(),
  embedding: flagDefaulting(false).meta({ description: 'Include the embedding vector in the answer (and in each detected product)' }),
  detect: flagDefaulting(true).meta({ description: 'Detect the products in the photo (default true; ignored by a server without a detector)' }),
  garments: flagDefaulting(false).meta({ description: 'Segment the clothing and list the garments (default false; 503 on a server without a segmentation model)' }),
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
    products: z.array(DetectedProductSchema).meta({
      description: 'Products detected in the whole photo (boxes in its pixels, also when a region was given), best first; empty when none was found or detection is off',
    }),
    detector: z.string().nullable().meta({ description: 'The detector that looked for products; null when this server does not detect or detect=false' }),
    garments: z.array(GarmentSchema).optional().meta({
      description: 'With garments=true: the garments of the whole photo (boxes in its pixels, also when a region was given), largest first, each with its own colour',
    }),
  })
  .meta({ id: 'AnalyzeResponse' });


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
        summary: 'Analyse a photo, suggest a listing and find the products (and on request the garments) in it',
        description:
          'Crop first with the region `x, y, w, h` (pixels of the upright image), in the query or as form fields: heads, code and listing then describe the region. Products are detected in the whole photo.',
        tags: ['analyze'],
        querystring: QuerySchema,
        response: { 200: AnalyzeResponseSchema, ...errorResponses(...PHOTO_ROUTE_ERRORS) },
      },
    },
    async (request) => {
      const upload = await readUpload(request, ctx.config.limits, 1);
      const fields = parseFormFields(FieldsSchema, upload);
      const fromQuery = parseRegion(request.query, 'query');
      const region = fromQuery ?? parseRegion(fields, 'form');
      const photo = upload.files[0]!;
      const bytes = region ? await cropToRegion(photo, region, ctx.config.limits) : photo;
      const detection = request.query.detect ? ctx.detection : undefined;
      const segmentation = request.query.garments ? requireSegmentation(ctx) : undefined;
      const [analysis, found, dressed] = await Promise.all([ctx.queue.analyze(bytes), detection?.products(photo), segmentation?.garments(photo)]);
      return {
        modelVersion: analysis.modelVersion,
        heads: analysis.heads,
        ...(request.query.embedding ? { embedding: Array.from(analysis.embedding, (v) => Math.round(v * 1e6) / 1e6) } : {}),
        code: analysis.code,
        listing: suggestListing(analysis.heads),
        region: region ?? null,
        products: (found?.products ?? []).map((p) => detectedProductJson(p, { embedding: request.query.embedding })),
        detector: found?.detector ?? null,
        ...(dressed ? { garments: dressed.garments.map(garmentJson) } : {}),
      };
    },
  );
}
