// Detection for the HTTP routes: products in an uploaded photo (POST /v1/analyze), and the
// detector and crop analyzer that publishing links seen-together products with
// (src/ingest/link.ts). The detector is given ready or
// opened on first use (converting CenterNet takes a while the very first time); it runs
// one photo at a time, since ONNX Runtime already spreads one run over every core. Crops
// are analysed through the inference queue, so they share batches with other requests
// and obey its bounds (429 when full, 504 past the deadline).
import type { DetectOptions, Detection, Detector, DetectorName } from '../detect/detector.ts';
import type { DecodedImage } from '../image/decode.ts';
import type { ImageLimits } from '../image/limits.ts';
import { GroknetError } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import { detectProducts, type ImageProducts } from '../pipelines/detect.ts';
import { queuedAnalyzer, type InferenceQueue } from './inference-queue.ts';
import { OnDemand, type OnDemandState, type Source } from './on-demand.ts';

/** A detector, or how to open one when it is first needed. */
export type DetectorSource = Source<Detector>;

export class ServerDetection {
  private readonly held: OnDemand<Detector>;
  /** Analyses crops through the inference queue: must be used with this detector's detections. */
  readonly cropAnalyzer: Analyzer;

  constructor(
    source: DetectorSource,
    analyzer: Analyzer,
    queue: InferenceQueue,
    private readonly limits: ImageLimits,
  ) {
    this.held = new OnDemand(source, 'the product detector', oneAtATime);
    this.cropAnalyzer = queuedAnalyzer(analyzer, queue);
  }

  /** For /readyz: open, not opened yet, or its last open failed. */
  get state(): OnDemandState {
    return this.held.state;
  }

  /** The products in one photo, each analysed, and the detector's name; a photo that cannot be read throws its GroknetError. */
  async products(photo: Buffer): Promise<ImageProducts & { detector: DetectorName }> {
    const detector = await this.detector();
    const [result] = await detectProducts([photo], { detector, analyzer: this.cropAnalyzer, limits: this.limits });
    if (!result) throw new GroknetError('internal', 'detection returned nothing');
    if (result instanceof GroknetError) throw result;
    return { ...result, detector: detector.name };
  }

  /** Closes the detector if this object opened it; one handed over ready belongs to its owner. */
  close(): Promise<void> {
    return this.held.close();
  }

  /** The detector, run one photo at a time; opened on first use (503 unavailable when it cannot be). */
  detector(): Promise<Detector> {
    return this.held.get();
  }
}

/** Queues a detector's runs so only one is in flight at a time. */
function oneAtATime(detector: Detector): Detector {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    name: detector.name,
    input: detector.input,
    detect(image: Buffer | DecodedImage, options?: DetectOptions): Promise<Detection[]> {
      const run = tail.then(() => detector.detect(image, options));
      tail = run.catch(() => undefined);
      return run;
    },
    close: () => detector.close(),
  };
}
