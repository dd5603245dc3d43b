// What every object detector offers the pipeline, and the steps they share after their
// own decoding: score threshold, class-aware NMS, mapping back through the letterbox
// to the original photo, [x, y, w, h] output.
import { GroknetError } from '../errors.ts';
import type { DecodedImage } from '../image/decode.ts';
import { boxToOriginal, type Geometry } from '../image/geometry.ts';
import type { ImageLimits } from '../image/limits.ts';
import { loadForModel, preprocessDecoded, type ModelInput } from '../image/preprocess.ts';
import type { PreprocessSpec } from '../image/spec.ts';
import type { SessionOptions } from '../model/backend/onnxruntime.ts';
import { cocoClassName, type CocoClass } from './coco-classes.ts';
import { nms, toXywh, type ScoredBox, type XywhBox } from './nms.ts';

export const DETECTOR_NAMES = ['centernet', 'nanodet'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

export interface Detection {
  /** [x, y, w, h] in pixels of the original photo (after EXIF orientation). */
  box: XywhBox;
  classId: number;
  class: CocoClass;
  score: number;
}

export interface DetectOptions {
  /** Detections scoring below this are dropped. */
  minScore?: number;
  /** IoU above which a same-class detection is suppressed by a better one. */
  iouThreshold?: number;
  /** At most this many detections, best first. */
  maxDetections?: number;
}

export const DEFAULT_DETECT_OPTIONS: Readonly<Required<DetectOptions>> = Object.freeze({
  minScore: 0.3,
  iouThreshold: 0.5,
  maxDetections: 100,
});

export interface DetectorOptions extends SessionOptions {
  limits?: Partial<ImageLimits>;
}

export interface Detector {
  readonly name: DetectorName;
  /** How this detector prepares images (size, letterbox, normalisation). */
  readonly input: PreprocessSpec;
  /**
   * Detects objects in encoded image bytes, or in pixels already decoded (the pipeline
   * decodes once and crops from the same pixels). Bad images throw a GroknetError.
   */
  detect(image: Buffer | DecodedImage, options?: DetectOptions): Promise<Detection[]>;
  close(): Promise<void>;
}

export function resolveDetectOptions(options: DetectOptions = {}): Required<DetectOptions> {
  const o = { ...DEFAULT_DETECT_OPTIONS, ...options };
  if (!(o.minScore >= 0 && o.minScore <= 1)) throw new GroknetError('invalid_argument', `min score must be from 0 to 1, got ${o.minScore}`);
  if (!(o.iouThreshold >= 0 && o.iouThreshold <= 1)) throw new GroknetError('invalid_argument', `IoU threshold must be from 0 to 1, got ${o.iouThreshold}`);
  if (!Number.isInteger(o.maxDetections) || o.maxDetections < 1) {
    throw new GroknetError('invalid_argument', `max detections must be a positive integer, got ${o.maxDetections}`);
  }
  return o;
}

/** The model tensor and letterbox geometry for either kind of input. */
export async function prepareDetectorInput(image: Buffer | DecodedImage, spec: PreprocessSpec, limits?: Partial<ImageLimits>): Promise<ModelInput> {
  return Buffer.isBuffer(image) ? loadForModel(image, spec, limits) : preprocessDecoded(image, spec);
}

// Boxes thinner than this after clipping lie (almost) entirely in the letterbox padding.
const MIN_SIDE_PX = 1;

/**
 * Candidates in model-input pixels -> final detections in original pixels: threshold,
 * class-aware NMS (on input pixels: the letterbox scale is uniform, so IoU is the same),
 * then mapping back with the geometry the preprocessing used.
 */
export function finishDetections(candidates: readonly ScoredBox[], geometry: Geometry, options: Required<DetectOptions>): Detection[] {
  const passing = candidates.filter((c) => c.score >= options.minScore && cocoClassName(c.classId) !== undefined);
  const out: Detection[] = [];
  for (const kept of nms(passing, { iouThreshold: options.iouThreshold })) {
    const box = boxToOriginal(kept.box, geometry);
    if (box.x2 - box.x1 < MIN_SIDE_PX || box.y2 - box.y1 < MIN_SIDE_PX) continue;
    out.push({ box: toXywh(box), classId: kept.classId, class: cocoClassName(kept.classId)!, score: kept.score });
    if (out.length >= options.maxDetections) break;
  }
  return out;
}
