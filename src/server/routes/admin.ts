// Operating the served model without a restart (behind the write key, as publishing is):
// POST /v1/admin/model switches to another model directory under the allowed roots once it
// is loaded, warmed and found to compute the catalog's embeddings; POST /v1/admin/reindex
// re-analyses the catalog with the serving model in the background (new heads' labels fill
// the stored listings) while search keeps answering from the old table until the swap.
import { z } from 'zod';
import type { ReindexSummary } from '../../catalog/types.ts';
import { toGroknetError } from '../../errors.ts';
import { requireCatalog, type App, type RouteContext } from '../context.ts';
import { errorResponses } from '../error-responses.ts';
import { resolveAllowedModelDir, type ModelHolder } from '../model-holder.ts';
import { modelOf } from './catalog.ts';
import type { CatalogStore } from '../../catalog/types.ts';

export const ServedModelSchema = z
  .object({
    modelVersion: z.string().meta({ description: '`name@version` from the model\'s model.json' }),
    name: z.string(),
    version: z.string(),
    path: z.string().nullable().meta({ description: 'The directory it was loaded from (null: handed over without one)' }),
    switches: z.number().int().meta({ description: 'Model switches since the server started' }),
  })
  .meta({ id: 'ServedModel' });

const SwitchBodySchema = z.strictObject({
  path: z.string().min(1).max(4096).meta({ description: 'A model directory under one of the allowed roots (`models/` in the data dir, or --models-dir); relative paths are taken under the first root' }),
});

const ReindexStateSchema = z
  .object({
    state: z.enum(['idle', 'running', 'done', 'failed']),
    modelVersion: z.string().nullable().meta({ description: 'The model the run analyses with' }),
    done: z.number().int().meta({ description: 'Products analysed in the current pass' }),
    total: z.number().int().meta({ description: 'Products to analyse in the current pass' }),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    reindexed: z.number().int().nullable().meta({ description: 'Products written to the new table (when done)' }),
    swapped: z.boolean().nullable().meta({ description: 'Whether readers now see the reindexed table (when done)' }),
    failed: z.array(z.object({ item: z.string(), code: z.string(), message: z.string() })).meta({ description: 'Products that could not be re-analysed; any blocks the swap' }),
    error: z.string().nullable(),
  })
  .meta({ id: 'ReindexState' });

type ReindexState = z.infer<typeof ReindexStateSchema>;

export function servedModelJson(holder: ModelHolder): z.infer<typeof ServedModelSchema> {
  const served = holder.served;
  return { ...served, ...modelOf(served.modelVersion) };
}

/** One background reindex at a time; a second POST while one runs joins it. */
class BackgroundReindex {
  private status: ReindexState = { state: 'idle', modelVersion: null, done: 0, total: 0, startedAt: null, finishedAt: null, reindexed: null, swapped: null, failed: [], error: null };
  private running: Promise<void> | undefined;

  get snapshot(): ReindexState {
    return { ...this.status, failed: [...this.status.failed] };
  }

  /** Starts a run on the model serving now (held by a lease until the run ends), unless one runs. */
  start(catalog: CatalogStore, holder: ModelHolder, log: { warn: (obj: object, msg: string) => void }): void {
    if (this.running) return;
    const lease = holder.acquire();
    this.status = { ...this.snapshot, state: 'running', modelVersion: lease.analyzer.modelVersion, done: 0, total: 0, startedAt: new Date().toISOString(), finishedAt: null, reindexed: null, swapped: null, failed: [], error: null };
    this.running = catalog
      .reindex(lease.analyzer, { onProgress: (done, total) => Object.assign(this.status, { done, total }) })
      .then(
        (summary: ReindexSummary) => {
          Object.assign(this.status, { state: 'done', reindexed: summary.reindexed, swapped: summary.swapped, failed: summary.failed });
        },
        (error: unknown) => {
          log.warn({ err: error }, 'background reindex failed');
          const e = toGroknetError(error);
          Object.assign(this.status, { state: 'failed', error: `${e.code}: ${e.message}` });
        },
      )
      .finally(() => {
        this.status.finishedAt = new Date().toISOString();
        lease.release();
        this.running = undefined;
      });
  }

  /** Waits for the run in progress (tests, shutdown). */
  async settled(): Promise<void> {
    await this.running;
  }
}

export function adminRoutes(app: App, ctx: RouteContext): void {
  const reindex = new BackgroundReindex();
  // A reindex still running when the server closes finishes first: its swap is atomic either way.
  app.addHook('preClose', async () => reindex.settled());

  app.get(
    '/v1/admin/model',
    { schema: { summary: 'The model served', tags: ['admin'], response: { 200: ServedModelSchema } } },
    async () => servedModelJson(ctx.model),
  );

  app.post(
    '/v1/admin/model',
    {
      onRequest: ctx.writeAccess,
      schema: {
        summary: 'Switch the served model without a restart',
        description:
          'Loads the model in `path` (a directory under `models/` in the data dir, or under --models-dir), warms it and checks that it computes the same embeddings and codes as the model serving now (the catalog stores them), then serves it. Requests already running finish on the model they started with; the old one is closed after the last. A model that cannot be loaded answers 400 and one with another embedding 409 `model_mismatch`; the served model stays. Its new heads reach stored listings with POST /v1/admin/reindex. Also: send SIGHUP to reload the `--model` directory.',
        tags: ['admin'],
        body: SwitchBodySchema,
        response: { 200: ServedModelSchema.extend({ previous: z.string().meta({ description: 'The modelVersion served before' }) }), ...errorResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => {
      const dir = await resolveAllowedModelDir(request.body.path, ctx.config.modelsDirs);
      const previous = ctx.model.served.modelVersion;
      await ctx.model.switchTo(dir);
      const served = servedModelJson(ctx.model);
      request.log.warn({ previous, modelVersion: served.modelVersion, path: dir }, 'model switched');
      return { ...served, previous };
    },
  );

  app.get(
    '/v1/admin/reindex',
    { schema: { summary: 'Progress of the background reindex', tags: ['admin'], response: { 200: ReindexStateSchema } } },
    async () => reindex.snapshot,
  );

  app.post(
    '/v1/admin/reindex',
    {
      onRequest: ctx.writeAccess,
      schema: {
        summary: 'Reindex the catalog with the serving model, in the background',
        description:
          'Re-analyses every stored photo with the model serving now into a new table and swaps it in when all went well (new heads then fill the listings and their filters); search keeps answering from the current table meanwhile, and publishing waits for the swap. Answers at once with the progress (GET this path to follow it); while a run is going on, a POST joins it. Does nothing when the catalog already holds this model.',
        tags: ['admin'],
        response: { 202: ReindexStateSchema, ...errorResponses(401, 403, 503) },
      },
    },
    async (request, reply) => {
      reindex.start(requireCatalog(ctx), ctx.model, request.log);
      return reply.status(202).send(reindex.snapshot);
    },
  );
}
