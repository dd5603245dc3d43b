// Pseudo-labels: the catalog labels photos nobody labelled. Products are detected in each
// photo and analysed crop by crop; a crop whose nearest catalog product clears the
// exact-match threshold is taken to show that product, and inherits its id and the labels
// the catalog stores for it (top label per single-label head). Crops below the threshold
// stay unlabelled: a wrong label teaches the model more harm than a missing one.
import type { CatalogStore } from '../catalog/types.ts';
import type { CocoClass } from '../detect/coco-classes.ts';
import type { Detector } from '../detect/detector.ts';
import type { XywhBox } from '../detect/nms.ts';
import { GroknetError } from '../errors.ts';
import type { ImageLimits } from '../image/limits.ts';
import type { Analyzer } from '../model/types.ts';
import { nearestProduct, type NearestProduct } from '../search/nearest.ts';
import { detectProducts } from './detect.ts';

export interface PseudolabelOptions {
  catalog: CatalogStore;
  detector: Detector;
  /** The catalog's model: crops must be embedded like the catalog's images. */
  analyzer: Analyzer;
  /** Similarity from which a crop gets the product's labels (default: analyzer.exactMatchThreshold). */
  threshold?: number;
  /** Detections scoring below this are ignored (detectProducts' default when unset). */
  minScore?: number;
  /** At most this many crops per photo, best first (detectProducts' default when unset). */
  maxProducts?: number;
  limits?: Partial<ImageLimits>;
}

export interface CropMatch {
  /** [x, y, w, h] in pixels of the photo. */
  box: XywhBox;
  class: CocoClass;
  /** Detector score. */
  score: number;
  /** The crop that was analysed, PNG. */
  crop: Buffer;
  /** The nearest catalog product, whatever its similarity (undefined for an empty catalog). */
  nearest: NearestProduct | undefined;
  /** True when `nearest` clears the threshold: the crop carries its labels. */
  labelled: boolean;
}

export interface PhotoLabels {
  crops: CropMatch[];
}

/** One result per photo, in order: its crops and their matches, or the error that stopped it. */
export async function pseudolabelPhotos(photos: readonly Buffer[], options: PseudolabelOptions): Promise<Array<PhotoLabels | GroknetError>> {
  const threshold = options.threshold ?? options.analyzer.exactMatchThreshold;
  if (!(threshold >= -1 && threshold <= 1)) throw new GroknetError('invalid_argument', `threshold must be a cosine similarity from -1 to 1, got ${threshold}`);
  const detected = await detectProducts(photos, {
    detector: options.detector,
    analyzer: options.analyzer,
    keepCrops: true,
    ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
    ...(options.maxProducts === undefined ? {} : { maxProducts: options.maxProducts }),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const out: Array<PhotoLabels | GroknetError> = [];
  for (const result of detected) {
    if (result instanceof GroknetError) {
      out.push(result);
      continue;
    }
    const crops: CropMatch[] = [];
    for (const product of result.products) {
      const nearest = await nearestProduct(options.catalog, product.analysis.embedding);
      crops.push({
        box: product.box,
        class: product.class,
        score: product.score,
        crop: product.crop!,
        nearest,
        labelled: nearest !== undefined && nearest.similarity >= threshold,
      });
    }
    out.push({ crops });
  }
  return out;
}
