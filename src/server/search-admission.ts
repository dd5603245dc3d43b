// Admission control for search: a semaphore over catalog queries with a bounded waiting
// line. Image inference has its own bound (inference-queue.ts); without this one, text
// search under load queued without limit inside LanceDB and its latency grew with the
// number of waiting requests. Now at most `maxConcurrent` queries run, at most `maxQueue`
// wait in arrival order, and anything beyond is refused at once with 429 `overloaded` and
// a Retry-After estimated from recent query times.
import { GroknetError } from '../errors.ts';
import type { RouteContext } from './context.ts';
import type { SearchAdmissionSettings } from './config.ts';
import type { Counter } from './metrics.ts';
import type { SearchRequest, SearchService } from './search-port.ts';

export class AdmissionGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Smoothed duration of one query, for Retry-After. */
  private queryMs = 50;

  constructor(
    private readonly settings: SearchAdmissionSettings,
    private readonly rejected?: Counter,
  ) {
    for (const key of ['maxConcurrent', 'maxQueue'] as const) {
      const value = settings[key];
      if (!Number.isSafeInteger(value) || value < 0) throw new GroknetError('invalid_config', `search.${key} must be a whole number >= 0, got ${String(value)}`);
    }
  }

  /** Queries running now. */
  get running(): number {
    return this.active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  private get enabled(): boolean {
    return this.settings.maxConcurrent > 0;
  }

  /** Seconds a refused client should wait: time to work off what is running and waiting, at least 1. */
  retryAfterSeconds(): number {
    const rounds = Math.ceil((this.active + this.waiting.length) / Math.max(1, this.settings.maxConcurrent));
    return Math.max(1, Math.ceil((rounds * this.queryMs) / 1000));
  }

  /** Throws `overloaded` when a request arriving now would be refused (lets callers skip costly work first). */
  checkRoom(): void {
    if (this.enabled && this.active >= this.settings.maxConcurrent && this.waiting.length >= this.settings.maxQueue) throw this.refusal();
  }

  /** Runs `work` when a slot is free; refuses at once when the waiting line is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.enabled) return work();
    await this.acquire();
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.queryMs = this.queryMs * 0.8 + (performance.now() - started) * 0.2;
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.settings.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.settings.maxQueue) return Promise.reject(this.refusal());
    // The slot is handed over by release(): `active` stays counted for the waiter.
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private refusal(): GroknetError {
    this.rejected?.inc({ reason: 'queue_full' });
    return new GroknetError('overloaded', `${this.active} searches running and ${this.waiting.length} waiting`, {
      retryAfterSeconds: this.retryAfterSeconds(),
    });
  }
}

/** A search service whose every query passes the gate. */
export function gatedSearch(service: SearchService, gate: AdmissionGate): SearchService {
  return { search: (request: SearchRequest) => gate.run(() => service.search(request)) };
}

interface Admission {
  gate: AdmissionGate;
  search: SearchService | undefined;
}

// One gate per app, kept beside its route context (built once per app in app.ts), so every
// route group that searches shares it without the context having to know about it.
const admissions = new WeakMap<RouteContext, Admission>();

function admissionOf(ctx: RouteContext): Admission {
  let admission = admissions.get(ctx);
  if (!admission) {
    const gate = new AdmissionGate(ctx.config.search, ctx.metrics.searchRejected);
    ctx.metrics.registry.gauge('groknet_search_running', 'Search queries running in the catalog', () => gate.running);
    ctx.metrics.registry.gauge('groknet_search_queue_depth', 'Search requests waiting for a catalog query slot', () => gate.queued);
    admission = { gate, search: ctx.search ? gatedSearch(ctx.search, gate) : undefined };
    admissions.set(ctx, admission);
  }
  return admission;
}

/** The app's search gate, for routes that query the catalog directly (seen-together). */
export function searchGate(ctx: RouteContext): AdmissionGate {
  return admissionOf(ctx).gate;
}

/**
 * The app's search service behind its gate. Do not call it from inside `searchGate(ctx).run`:
 * the query would wait for a second slot while holding the first.
 */
export function admittedSearch(ctx: RouteContext): SearchService | undefined {
  return admissionOf(ctx).search;
}

/** The app's search service behind its gate (429 when its waiting line is full), or 503 unavailable when this server has no search index. */
export function requireSearch(ctx: RouteContext): SearchService {
  const search = admittedSearch(ctx);
  if (!search) throw new GroknetError('unavailable', 'this server has no search index');
  return search;
}

