// Clothing segmentation for the HTTP routes: the garments of an uploaded photo (POST
// /v1/analyze?garments=true, POST /v1/shop-the-look). The segmenter is optional: given
// ready, opened on first use (its trunk conversion takes a while the very first time),
// or absent. A server without one, or whose model cannot be opened, answers 503
// unavailable; an open that failed is tried again by a later request.
//
// Bounded like the inference queue: one photo is decoded and segmented at a time (ONNX
// Runtime already spreads one run over every core, and only one full-size decode is in
// memory), at most `maxWaiting` photos wait or run (429 overloaded beyond), and a photo
// still waiting for its turn after `timeoutMs` is abandoned (504 timeout). A run that has
// started finishes: its work is bounded (one decode, one model run on at most 1024 px).
import { GroknetError } from '../errors.ts';
import type { ImageLimits } from '../image/limits.ts';
import type { ImageGarment } from '../catalog/types.ts';
import { photoGarments } from '../pipelines/index-garments.ts';
import { findGarments, type PhotoGarments, type PhotoSegmenter } from '../pipelines/shop-the-look.ts';
import type { ServiceMetrics } from './metrics.ts';
import { OnDemand, type OnDemandState, type Source } from './on-demand.ts';

/** A segmenter, or how to open one when it is first needed. */
export type SegmenterSource = Source<PhotoSegmenter>;

export interface SegmentationSettings {
  /** Photos waiting or being segmented before new ones are refused with 429. */
  maxWaiting: number;
  /** A photo not yet started after this many milliseconds fails with 504. */
  timeoutMs: number;
}

export const NO_SEGMENTER = 'this server does not segment clothing (it was started without a segmentation model)';

export class ServerSegmentation {
  private readonly held: OnDemand<PhotoSegmenter>;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    source: SegmenterSource,
    private readonly settings: SegmentationSettings,
    private readonly limits: ImageLimits,
    private readonly metrics?: ServiceMetrics,
  ) {
    this.held = new OnDemand(source, 'the clothing segmenter');
  }

  /** For /readyz: open, not opened yet, or its last open failed. */
  get state(): OnDemandState {
    return this.held.state;
  }

  /** Photos waiting or being segmented. */
  get depth(): number {
    return this.pending;
  }

  /** The garments of one photo, largest first; a photo that cannot be read throws its GroknetError. */
  garments(photo: Buffer, options: { maxGarments?: number } = {}): Promise<PhotoGarments> {
    return this.admitted((segmenter) => findGarments(photo, { segmenter, limits: this.limits, ...options }));
  }

  /**
   * The garments to store with each photo of a published product (label, colour, share of
   * the photo), as `groknet index --garments` stores them; a photo that cannot be segmented
   * gets its error and is published without garments. Admission as for `garments`.
   */
  productGarments(photos: readonly Buffer[]): Promise<Array<ImageGarment[] | GroknetError>> {
    return this.admitted((segmenter) => photoGarments(segmenter, photos, { limits: this.limits }));
  }

  /** Runs `work` with the segmenter in its turn, or refuses it (429) when too many wait already. */
  private async admitted<T>(work: (segmenter: PhotoSegmenter) => Promise<T>): Promise<T> {
    if (this.pending >= this.settings.maxWaiting) {
      this.metrics?.rejected.inc({ reason: 'segment_queue_full' });
      throw new GroknetError('overloaded', `${this.pending} photos are waiting for the segmenter`);
    }
    this.pending++;
    try {
      // Opened outside the line: the first open may take far longer than a request's wait.
      const segmenter = await this.segmenter();
      return await this.inTurn(() => work(segmenter));
    } finally {
      this.pending--;
    }
  }

  /** Closes the segmenter if this object opened it; one handed over ready belongs to its owner. */
  close(): Promise<void> {
    return this.held.close();
  }

  /** Runs `work` when the runs before it are done, unless the caller's wait is over first. */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const run = this.tail.then(() => {
      clearTimeout(timer);
      if (expired) throw new GroknetError('timeout', 'abandoned while waiting for the segmenter');
      return work();
    });
    this.tail = run.catch(() => undefined);
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        expired = true;
        this.metrics?.rejected.inc({ reason: 'segment_timeout' });
        reject(new GroknetError('timeout', `the segmenter did not start on this photo within ${this.settings.timeoutMs} ms`));
      }, this.settings.timeoutMs);
    });
    // Whichever settles first; a run that loses to its deadline never starts (see above).
    return Promise.race([run, deadline]).finally(() => clearTimeout(timer));
  }

  private segmenter(): Promise<PhotoSegmenter> {
    return this.held.get();
  }
}
