// Progress of a long ingest: counts plus rate and ETA, computed here so every front end
// (CLI bar, API job status) shows the same numbers.

export interface IngestProgress {
  done: number;
  total: number;
  indexed: number;
  unchanged: number;
  failed: number;
  /** Listings per second since the start. */
  rate: number;
  /** Seconds left at the current rate; undefined until there is a rate. */
  etaSeconds: number | undefined;
  elapsedSeconds: number;
}

export class ProgressTracker {
  private readonly started = performance.now();
  done = 0;
  indexed = 0;
  unchanged = 0;
  failedItems = 0;

  constructor(
    readonly total: number,
    private readonly listener?: (progress: IngestProgress) => void,
  ) {}

  snapshot(): IngestProgress {
    const elapsedSeconds = (performance.now() - this.started) / 1000;
    const rate = elapsedSeconds > 0 ? this.done / elapsedSeconds : 0;
    return {
      done: this.done,
      total: this.total,
      indexed: this.indexed,
      unchanged: this.unchanged,
      failed: this.failedItems,
      rate,
      etaSeconds: rate > 0 ? (this.total - this.done) / rate : undefined,
      elapsedSeconds,
    };
  }

  report(): void {
    // A throwing progress renderer must not break the ingest.
    try {
      this.listener?.(this.snapshot());
    } catch {
      /* ignored */
    }
  }
}
