// Probes and metrics: /healthz (the process answers), /readyz (model loaded, store open,
// not shutting down; the optional detector and segmenter reported, not required: a request
// that needs one answers 503 on its own), /metrics (Prometheus text).
import { z } from 'zod';
import type { App, RouteContext } from '../context.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics.ts';
import { servedModelJson, ServedModelSchema } from './admin.ts';

const CheckSchema = z.enum(['ok', 'failing', 'absent']);
/** An optional model opened on first use: `not_loaded` until then, `failing` after an open that failed (retried by the next request). */
const OptionalSchema = z.enum(['ok', 'not_loaded', 'failing', 'absent']);

const ReadySchema = z.object({
  ready: z.boolean(),
  modelVersion: z.string(),
  model: ServedModelSchema.meta({ description: 'The model served now (it changes with POST /v1/admin/model or SIGHUP)' }),
  checks: z.object({ model: CheckSchema, store: CheckSchema, queue: CheckSchema, detector: OptionalSchema, segmenter: OptionalSchema }),
});

export function healthRoutes(app: App, ctx: RouteContext): void {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags: ['operations'], response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: model loaded, store open', tags: ['operations'], response: { 200: ReadySchema, 503: ReadySchema } } },
    async (request, reply) => {
      let store: z.infer<typeof CheckSchema> = 'absent';
      if (ctx.catalog) {
        try {
          await ctx.catalog.info();
          store = 'ok';
        } catch (error) {
          request.log.warn({ err: error }, 'catalog not ready');
          store = 'failing';
        }
      }
      const queue: z.infer<typeof CheckSchema> = ctx.queue.accepting ? 'ok' : 'failing';
      const checks = {
        model: 'ok' as const,
        store,
        queue,
        detector: ctx.detection?.state ?? ('absent' as const),
        segmenter: ctx.segmentation?.state ?? ('absent' as const),
      };
      const ready = store !== 'failing' && queue === 'ok';
      return reply.status(ready ? 200 : 503).send({ ready, modelVersion: ctx.model.served.modelVersion, model: servedModelJson(ctx.model), checks });
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'], hide: false } }, async (_request, reply) => {
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(await ctx.metrics.registry.scrape());
  });
}
