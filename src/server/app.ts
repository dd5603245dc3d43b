// The HTTP service: a Fastify instance with Zod-validated routes, OpenAPI at /openapi.json
// and /docs, the web page at /, and the cross-cutting parts (errors, security headers,
// rate limit, CORS, metrics, graceful shutdown) wired once here.
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CatalogStore } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import { requireWriteAccess } from './auth.ts';
import { resolveConfig, type InferenceSettings, type ServerConfigInput } from './config.ts';
import type { App, RouteContext } from './context.ts';
import { ServerDetection, type DetectorSource } from './detection.ts';
import { registerDocs } from './docs.ts';
import { registerFavicon } from './favicon.ts';
import { errorHandler } from './http-errors.ts';
import { IdempotencyKeys } from './idempotency.ts';
import { RAW_IMAGE_TYPES } from './image-input.ts';
import { ImageStore } from './image-store.ts';
import { InferenceQueue } from './inference-queue.ts';
import { registerJsonBody } from './json-body.ts';
import { createServiceMetrics } from './metrics.ts';
import { ModelHolder, type ModelLease, type ModelLoader } from './model-holder.ts';
import { adminRoutes } from './routes/admin.ts';
import { analyzeRoutes } from './routes/analyze.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { healthRoutes } from './routes/health.ts';
import { imageRoutes } from './routes/images.ts';
import { PublishedSchema, type Published } from './published.ts';
import { productRoutes } from './routes/products.ts';
import { searchRoutes } from './routes/search.ts';
import { shopTheLookRoutes } from './routes/shop-the-look.ts';
import { type SearchService } from './search-port.ts';
import { searchCatalog, searchTarget } from '../search/search.ts';
import { MAX_ID_LENGTH, NoQuerySchema } from './schemas.ts';
import { ServerSegmentation, type SegmentationSettings, type SegmenterSource } from './segmentation.ts';
import { registerWeb } from './web.ts';

/** Longest path parameter the router matches at all; far beyond any id (MAX_ID_LENGTH). */
export const MAX_PARAM_LENGTH = 8 * MAX_ID_LENGTH;

export type { App } from './context.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The served model, for the process that runs the app (SIGHUP in `groknet serve`). */
    groknetModel: ModelHolder;
  }
}

export interface BuildAppOptions {
  analyzer: Analyzer;
  catalog?: CatalogStore;
  search?: SearchService;
  /**
   * Finds the products in photos (POST /v1/analyze) and what is seen together when a
   * product is published. A function is called on first use and its detector closed with
   * the app; a detector given ready stays its owner's. Without one, no products are detected.
   */
  detector?: DetectorSource;
  /**
   * Segments the clothing in photos (POST /v1/shop-the-look, POST /v1/analyze?garments=true).
   * Like the detector: a function is called on first use (a failure answers 503 and is
   * tried again later) and its segmenter closed with the app; one given ready stays its
   * owner's. Without one, those requests answer 503 unavailable.
   */
  segmenter?: SegmenterSource;
  config?: ServerConfigInput;
  /**
   * Switching the served model (POST /v1/admin/model, SIGHUP): how to open a model
   * directory, and the directory the analyzer came from. Without it, switching answers 503.
   */
  models?: {
    load: ModelLoader;
    path?: string;
    /** The app closes the analyzer once a switch has retired it and its last request ended. */
    ownsAnalyzer?: boolean;
  };
}

// Sent on every response; the page additionally gets a strict Content-Security-Policy.
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export async function buildApp(options: BuildAppOptions): Promise<App> {
  const config = resolveConfig(options.config);
  const metrics = createServiceMetrics();
  const holder = new ModelHolder(options.analyzer, {
    ...(options.models ? { load: options.models.load, ownsInitial: options.models.ownsAnalyzer ?? false } : {}),
    ...(options.models?.path ? { path: options.models.path } : {}),
    storedEmbeddingDim: async () => (options.catalog ? (await options.catalog.info()).embeddingDim : undefined),
    onRetiredCloseError: (error) => app.log.warn({ err: error }, 'a retired model could not be closed'),
  });
  // Every image is pinned to the model of the request that queues it (holder.view).
  const queue = new InferenceQueue(holder.view, config.inference, metrics);
  const handleError = errorHandler({ onError: (code) => metrics.errors.inc({ code }), retryAfter: () => queue.retryAfterSeconds() });
  const app = Fastify({
    logger: config.logLevel ? { level: config.logLevel } : false,
    trustProxy: config.trustProxy,
    // JSON bodies; image routes raise their own limit to the image limit.
    bodyLimit: 1024 * 1024,
    // A client that stops sending must not hold a connection (and its buffers) forever.
    requestTimeout: 120_000,
    // Errors raised before routing (a malformed URL) get the same `{ error }` shape.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
    // Path parameters are product ids (and image names), which `groknet index` makes from file
    // names: the router's default of 100 refused real ids. Measured decoded; the routes' schemas
    // hold the real limits (naming the field), the router only refuses what no schema could take.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  }).withTypeProvider<ZodTypeProvider>();
  app.decorate('groknetModel', holder);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  metrics.registry.gauge('groknet_inference_queue_depth', 'Images waiting for or in the model', () => queue.depth);
  metrics.registry.info('groknet_model_info', 'The model served (1 for its version)', () => ({ model_version: holder.served.modelVersion }));
  metrics.registry.gauge('groknet_model_switches_total', 'Model switches since the server started', () => holder.served.switches);
  const catalog = options.catalog;
  const ctx: RouteContext = {
    config,
    get analyzer() {
      return holder.analyzer;
    },
    model: holder,
    queue,
    images: new ImageStore(config.dataDir),
    catalog: options.catalog,
    // With a catalog and no search given, search that catalog with src/search.
    // With a catalog and no search given, search that catalog with src/search, at the
    // exact-match threshold of the request's model (a switch may bring a new calibration).
    search: options.search ?? (catalog ? { search: (request) => searchCatalog(searchTarget(catalog, holder.analyzer), request) } : undefined),
    detection: options.detector ? new ServerDetection(options.detector, holder.view, queue, config.limits) : undefined,
    segmentation: options.segmenter
      ? new ServerSegmentation(options.segmenter, segmentationSettings(config.inference), config.limits, metrics)
      : undefined,
    metrics,
    idempotency: new IdempotencyKeys<Published>({
      file: path.join(config.dataDir, 'idempotency-keys.jsonl'),
      valueSchema: PublishedSchema,
      onJournalError: (error) => app.log.warn({ err: error }, 'idempotency keys could not be written; they hold in memory until the server stops'),
    }),
    writeAccess: requireWriteAccess(config),
  };

  app.setErrorHandler(handleError);
  app.setNotFoundHandler(async (request) => {
    throw new GroknetError('route_not_found', `${request.method} ${request.url.split('?')[0]}`);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  // Each request runs on the model serving when its handling starts, to its end (leases are
  // reference counts: a switched-out model closes after its last request). preHandler: after
  // the body arrived, so a slow upload does not keep an old model alive.
  const leases = new WeakMap<object, ModelLease>();
  const releaseLease = (request: object): void => {
    leases.get(request)?.release();
    leases.delete(request);
  };
  app.addHook('preHandler', (request, _reply, done) => {
    const lease = holder.acquire();
    leases.set(request, lease);
    holder.runWith(lease, done);
  });
  app.addHook('onRequestAbort', async (request) => releaseLease(request));
  app.addHook('onResponse', async (request, reply) => {
    releaseLease(request);
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestDuration.observe(reply.elapsedTime / 1000, { method: request.method, route, status: String(reply.statusCode) });
  });

  registerJsonBody(app);
  // Raw image bodies arrive as one Buffer, bounded by the image byte limit.
  app.addContentTypeParser(RAW_IMAGE_TYPES, { parseAs: 'buffer', bodyLimit: config.limits.maxInputBytes }, (_request, body, done) => {
    done(null, body);
  });
  await app.register(multipart, { throwFileSizeLimit: true });
  // Gives replies sendFile() for stored images; the page registers its own instance.
  await mkdir(ctx.images.dir, { recursive: true });
  await app.register(fastifyStatic, { root: ctx.images.dir, serve: false });
  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      // Probes and scrapes must keep working while a client is throttled.
      allowList: (request) => ['/healthz', '/readyz', '/metrics'].includes(request.url),
      errorResponseBuilder: (_request, context) => new GroknetError('rate_limited', `retry in ${context.after}`),
    });
  }
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins,
      methods: ['GET', 'POST', 'DELETE'],
      allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'idempotency-key'],
      exposedHeaders: ['idempotent-replayed'],
    });
  }
  await registerDocs(app);
  registerFavicon(app);
  // An API route without query parameters refuses any: POST /v1/search?limit=3 would otherwise
  // answer 10 results as if the client's limit had been read (the size is the body's `k`).
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/') || route.schema?.querystring) return;
    route.schema = { ...route.schema, querystring: NoQuerySchema };
  });

  healthRoutes(app, ctx);
  analyzeRoutes(app, ctx);
  productRoutes(app, ctx);
  catalogRoutes(app, ctx);
  searchRoutes(app, ctx);
  shopTheLookRoutes(app, ctx);
  imageRoutes(app, ctx);
  adminRoutes(app, ctx);
  if (config.web) await registerWeb(app, config);

  // Shutdown: stop taking inference work, then let what was accepted finish.
  app.addHook('preClose', async () => {
    await queue.drain();
  });
  app.addHook('onClose', async () => {
    await ctx.detection?.close();
    await ctx.segmentation?.close();
    await holder.close();
  });
  return app;
}

/**
 * Segmentation bounds from the inference settings: as many photos may wait as full batches
 * fit in the inference queue (each photo's garments then fill about a batch of crops), and
 * a photo waits at most as long as an image waits for the model.
 */
export function segmentationSettings(inference: InferenceSettings): SegmentationSettings {
  return { maxWaiting: Math.max(1, Math.floor(inference.maxQueue / inference.maxBatch)), timeoutMs: inference.timeoutMs };
}
