// What every route group is given: the app's type and the context built once per app in
// app.ts, with the guards that answer 503 when the server was started without a part.
// Its own module so route files and app.ts both import it, and app.ts alone imports the routes.
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CatalogStore } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import type { requireWriteAccess } from './auth.ts';
import type { ServerConfig } from './config.ts';
import type { ServerDetection } from './detection.ts';
import type { IdempotencyKeys } from './idempotency.ts';
import type { ImageStore } from './image-store.ts';
import type { InferenceQueue } from './inference-queue.ts';
import type { ServiceMetrics } from './metrics.ts';
import type { ModelHolder } from './model-holder.ts';
import type { Published } from './published.ts';
import type { SearchService } from './search-port.ts';
import { NO_SEGMENTER, type ServerSegmentation } from './segmentation.ts';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

/** Everything a route group needs, built once per app. */
export interface RouteContext {
  config: ServerConfig;
  /** The model of the running request (its lease on `model`), else the one serving now: never keep it past the request. */
  readonly analyzer: Analyzer;
  /** Holds the served model: leases per request, switching (POST /v1/admin/model, SIGHUP). */
  model: ModelHolder;
  queue: InferenceQueue;
  images: ImageStore;
  catalog: CatalogStore | undefined;
  search: SearchService | undefined;
  /** Undefined when the server does not detect products. */
  detection: ServerDetection | undefined;
  /** Undefined when the server does not segment clothing. */
  segmentation: ServerSegmentation | undefined;
  metrics: ServiceMetrics;
  /** Idempotency-Key of POST /v1/products: what each key's publish did. */
  idempotency: IdempotencyKeys<Published>;
  /** preHandler for endpoints that change data. */
  writeAccess: ReturnType<typeof requireWriteAccess>;
}

/** The catalog, or 503 unavailable when this server has none. */
export function requireCatalog(ctx: RouteContext): CatalogStore {
  if (!ctx.catalog) throw new GroknetError('unavailable', 'this server has no catalog');
  return ctx.catalog;
}

/** Segmentation, or 503 unavailable when this server has no segmenter. */
export function requireSegmentation(ctx: RouteContext): ServerSegmentation {
  if (!ctx.segmentation) throw new GroknetError('unavailable', NO_SEGMENTER);
  return ctx.segmentation;
}
