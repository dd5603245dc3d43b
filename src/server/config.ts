// Server settings with their defaults in one place; the serve command and the tests fill
// in only what they change.
import path from 'node:path';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from '../image/limits.ts';

export interface InferenceSettings {
  /** Largest batch handed to the analyzer (its own batch size). */
  maxBatch: number;
  /** How long the first request of a batch waits for company, in milliseconds. */
  windowMs: number;
  /** Requests waiting or running before new ones are refused with 429. */
  maxQueue: number;
  /** A request that has not been answered after this many milliseconds fails with 504. */
  timeoutMs: number;
}

/**
 * Admission control for search (words, filters, "more like this", seen-together): how many
 * catalog queries run at once and how many may wait. Beyond that a request is refused at
 * once with 429 and Retry-After instead of queueing without bound.
 */
export interface SearchAdmissionSettings {
  /** Catalog queries running at once; 0 turns admission control off. */
  maxConcurrent: number;
  /** Requests waiting for a slot before new ones are refused with 429. */
  maxQueue: number;
}

export interface ServerConfig {
  /** Root of everything the server writes: `images/` (uploads) and the catalog. */
  dataDir: string;
  /** Key for write endpoints; undefined means writes follow `allowAnonymousWrites`. */
  apiKey: string | undefined;
  allowAnonymousWrites: boolean;
  /** Origins allowed by CORS; empty keeps CORS off (same-origin only). */
  corsOrigins: string[];
  /** Requests per client per minute; 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  /** Trust X-Forwarded-For (only behind a proxy you run). */
  trustProxy: boolean;
  limits: ImageLimits;
  /** Images per product upload. */
  maxImagesPerProduct: number;
  inference: InferenceSettings;
  search: SearchAdmissionSettings;
  /** Serve the web page at `/` (bundled with esbuild at start). */
  web: boolean;
  /** Where the bundled page script is written; defaults to the groknet cache. */
  webCacheDir: string | undefined;
  /**
   * Folders POST /v1/admin/model may load a model from (each directory under one of them);
   * defaults to `models/` in the data dir.
   */
  modelsDirs: string[];
  /** Fastify (pino) log level, or false for no logs (tests). */
  logLevel: LogLevel | false;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_INFERENCE: InferenceSettings = { maxBatch: 16, windowMs: 5, maxQueue: 256, timeoutMs: 30_000 };

// LanceDB runs each query on its own thread pool, so a handful at once already keeps the
// cores busy; more only adds waiting inside the store. 256 waiting at ~100 text queries/s
// (the load run on 2 cores) is a few seconds of queue, far inside the 30 s request bound.
export const DEFAULT_SEARCH_ADMISSION: SearchAdmissionSettings = { maxConcurrent: 8, maxQueue: 256 };

export type ServerConfigInput = Partial<Omit<ServerConfig, 'inference' | 'search'>> & {
  inference?: Partial<InferenceSettings>;
  search?: Partial<SearchAdmissionSettings>;
};

export function resolveConfig(partial: ServerConfigInput = {}): ServerConfig {
  const dataDir = path.resolve(partial.dataDir ?? 'data');
  return {
    dataDir,
    apiKey: partial.apiKey || undefined,
    allowAnonymousWrites: partial.allowAnonymousWrites ?? false,
    corsOrigins: partial.corsOrigins ?? [],
    rateLimitPerMinute: partial.rateLimitPerMinute ?? 600,
    trustProxy: partial.trustProxy ?? false,
    limits: partial.limits ?? DEFAULT_IMAGE_LIMITS,
    maxImagesPerProduct: partial.maxImagesPerProduct ?? 8,
    inference: { ...DEFAULT_INFERENCE, ...partial.inference },
    search: { ...DEFAULT_SEARCH_ADMISSION, ...partial.search },
    web: partial.web ?? true,
    webCacheDir: partial.webCacheDir,
    modelsDirs: (partial.modelsDirs ?? [path.join(dataDir, 'models')]).map((dir) => path.resolve(dir)),
    logLevel: partial.logLevel ?? false,
  };
}
