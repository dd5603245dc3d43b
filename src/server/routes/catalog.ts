// GET /v1/catalog: what a client needs before it searches: how many products there are
// (the page says "the catalog is empty" from it), which model analyses photos here and what
// its heads are called.
import { z } from 'zod';
import { requireCatalog, type App, type RouteContext } from '../context.ts';
import { errorResponses } from '../error-responses.ts';

export const CatalogSummarySchema = z
  .object({
    products: z.number().int().meta({ description: 'Products in the catalog (0: empty; fill it with `groknet index` or POST /v1/products)' }),
    model: z
      .object({ name: z.string(), version: z.string() })
      .meta({ description: 'The model this server analyses photos with; products are indexed with it (`modelVersion` of a product is `name@version`)' }),
    fields: z
      .record(z.string(), z.string())
      .meta({ description: "What a person calls each of the model's heads (filter and facet fields), from its model.json: `grocery_fine` -> \"Grocery item\". Heads without a title are absent." }),
  })
  .meta({ id: 'CatalogSummary' });

/** `groknet-base@0.4.4` -> name and version. */
export function modelOf(modelVersion: string): { name: string; version: string } {
  const at = modelVersion.lastIndexOf('@');
  return at > 0 ? { name: modelVersion.slice(0, at), version: modelVersion.slice(at + 1) } : { name: modelVersion, version: '' };
}

export function catalogRoutes(app: App, ctx: RouteContext): void {
  app.get(
    '/v1/catalog',
    {
      schema: {
        summary: 'The catalog: how many products, which model',
        description: 'Cheap (a count, no search): what a client asks to tell an empty catalog from a search that found nothing.',
        tags: ['products'],
        response: { 200: CatalogSummarySchema, ...errorResponses(503) },
      },
    },
    async () => ({ products: await requireCatalog(ctx).countProducts(), model: modelOf(ctx.analyzer.modelVersion), fields: { ...ctx.analyzer.headTitles } }),
  );
}
