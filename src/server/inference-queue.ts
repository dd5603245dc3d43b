// Batches inference across concurrent requests: the first image waits a few milliseconds
// for others, then up to `maxBatch` images go to the analyzer in one run (one ONNX
// Runtime call is far cheaper than many). One run at a time: the runtime already uses
// every core, so parallel runs would only compete. The queue is bounded (429 when full)
// and every request has a deadline (504), so a slow model cannot pile up memory.
import { GroknetError, toGroknetError } from '../errors.ts';
import { analyzerView } from '../model/analyzer-view.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import type { InferenceSettings } from './config.ts';
import type { ServiceMetrics } from './metrics.ts';
import { isAnalyzerView } from './model-holder.ts';

interface Job {
  image: Buffer;
  /** The model version this image runs on, fixed when it is queued (a batch holds one version). */
  analyzer: Analyzer;
  resolve: (analysis: Analysis) => void;
  reject: (error: GroknetError) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

export class InferenceQueue {
  private readonly waiting: Job[] = [];
  private running: Job[] = [];
  private windowTimer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private closing = false;
  /** Smoothed duration of one run, for Retry-After. */
  private runMs = 50;

  /**
   * @param analyzer the model, or the server's view of it (src/server/model-holder.ts): each
   *   image is pinned to the model of the request that queues it.
   */
  constructor(
    private readonly analyzer: Analyzer,
    private readonly settings: InferenceSettings,
    private readonly metrics?: ServiceMetrics,
  ) {}

  /** Images waiting or being analysed. */
  get depth(): number {
    return this.waiting.length + this.running.length;
  }

  get accepting(): boolean {
    return !this.closing;
  }

  /** Seconds a refused client should wait before retrying: time to clear the queue, at least 1. */
  retryAfterSeconds(): number {
    const runs = Math.ceil(this.depth / this.settings.maxBatch);
    return Math.max(1, Math.ceil((runs * this.runMs) / 1000));
  }

  analyze(image: Buffer, analyzer: Analyzer = this.analyzer): Promise<Analysis> {
    if (this.closing) return Promise.reject(new GroknetError('unavailable', 'the server is shutting down'));
    if (this.depth >= this.settings.maxQueue) {
      this.metrics?.rejected.inc({ reason: 'queue_full' });
      return Promise.reject(new GroknetError('overloaded', `${this.depth} images are waiting for the model`));
    }
    return new Promise<Analysis>((resolve, reject) => {
      const pinned = isAnalyzerView(analyzer) ? analyzer.pinned() : analyzer;
      const job: Job = { image, analyzer: pinned, resolve, reject, settled: false, timer: undefined as unknown as NodeJS.Timeout };
      job.timer = setTimeout(() => this.expire(job), this.settings.timeoutMs);
      this.waiting.push(job);
      this.schedule();
    });
  }

  /** Stops accepting work and waits for everything already accepted to finish. */
  async drain(): Promise<void> {
    this.closing = true;
    while (this.current || this.waiting.length > 0) {
      if (!this.current) this.flush();
      await this.current;
    }
  }

  private schedule(): void {
    if (this.current) return; // the running batch's completion picks up the rest
    if (this.waiting.length >= this.settings.maxBatch) {
      this.flush();
    } else if (!this.windowTimer) {
      this.windowTimer = setTimeout(() => this.flush(), this.settings.windowMs);
    }
  }

  private flush(): void {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    if (this.current || this.waiting.length === 0) return;
    // One model per run: the first waiting image's, with the others queued for the same one
    // (during a switch both versions wait; the rest go in the next run, order kept).
    const model = this.waiting[0]!.analyzer;
    const batch: Job[] = [];
    for (let i = 0; i < this.waiting.length && batch.length < this.settings.maxBatch; ) {
      if (this.waiting[i]!.analyzer === model) batch.push(...this.waiting.splice(i, 1));
      else i++;
    }
    this.running = batch;
    this.current = this.run(batch).finally(() => {
      this.running = [];
      this.current = undefined;
      // Whatever arrived meanwhile has already waited at least one run: no extra window.
      if (this.waiting.length > 0) this.flush();
    });
  }

  private async run(batch: Job[]): Promise<void> {
    const started = performance.now();
    let results: Array<Analysis | GroknetError>;
    try {
      results = await batch[0]!.analyzer.analyzeBuffers(batch.map((job) => job.image));
    } catch (error) {
      const failure = toGroknetError(error);
      results = batch.map(() => failure);
    }
    const elapsed = performance.now() - started;
    this.runMs = this.runMs * 0.8 + elapsed * 0.2;
    this.metrics?.batchSize.observe(batch.length);
    this.metrics?.batchDuration.observe(elapsed / 1000);
    batch.forEach((job, i) => {
      const result = results[i] ?? new GroknetError('internal', 'the analyzer returned too few results');
      this.settle(job, result);
    });
  }

  private expire(job: Job): void {
    const index = this.waiting.indexOf(job);
    if (index >= 0) this.waiting.splice(index, 1);
    this.metrics?.rejected.inc({ reason: 'timeout' });
    // A job already running still finishes in the analyzer; its answer is dropped.
    this.settle(job, new GroknetError('timeout', `no answer from the model within ${this.settings.timeoutMs} ms`));
  }

  private settle(job: Job, result: Analysis | GroknetError): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (result instanceof GroknetError) job.reject(result);
    else job.resolve(result);
  }
}

/** The analyzer seen through the inference queue: each image is a queued request (its refusals and deadlines included). */
export function queuedAnalyzer(analyzer: Analyzer, queue: InferenceQueue): Analyzer {
  // Read through: the server's view answers for the model of the running request.
  return analyzerView(() => analyzer, {
    async analyzeBuffers(images: readonly Buffer[]): Promise<Array<Analysis | GroknetError>> {
      const settled = await Promise.allSettled(images.map((image) => queue.analyze(image, analyzer)));
      return settled.map((s) => (s.status === 'fulfilled' ? s.value : toGroknetError(s.reason)));
    },
    // The queue's analyzer is the app's; closing it is not this view's business.
    async close(): Promise<void> {},
  });
}
