// Several products in one photo: detect objects, keep those that are products (or the
// person wearing them), crop each from the original photo and analyse every crop with
// the unified model, so each product gets its own heads, embedding and binary code.
//
// The detector and the unified model cannot share backbone features: the detectors are
// whole COCO networks (CenterNet's MobileNetV3 at 512 px, NanoDet at 416 px) while the
// unified model's trunk is a different network fed with the crop at its own size, so
// each crop goes through the trunk again. Each image is decoded once, at full
// resolution; the detector gets its letterboxed tensor from those pixels and the crops
// are cut from them, so boxes and crops share one frame (EXIF orientation applied).
import { GroknetError, toGroknetError } from '../errors.ts';
import type { CocoClass } from '../detect/coco-classes.ts';
import { DEFAULT_DETECT_OPTIONS, resolveDetectOptions, type Detection, type Detector } from '../detect/detector.ts';
import type { XywhBox } from '../detect/nms.ts';
import { categorise, type ProductVertical } from '../detect/taxonomy.ts';
import { decodeImage, type DecodedImage } from '../image/decode.ts';
import { cropDecodedToPng } from '../image/encode.ts';
import type { Rect, Size } from '../image/geometry.ts';
import type { ImageLimits } from '../image/limits.ts';
import type { Analysis, Analyzer } from '../model/types.ts';

export interface DetectProductsOptions {
  detector: Detector;
  analyzer: Analyzer;
  /** Detections scoring below this are ignored (default 0.3). */
  minScore?: number;
  /** At most this many products per photo, best first (default 10). */
  maxProducts?: number;
  /** Extra context around each box, as a fraction of its width / height per side (default 0.05). */
  margin?: number;
  /** Keep classes with no product meaning (vertical null) instead of dropping them. */
  keepUnmapped?: boolean;
  /** Return each product's crop (PNG) as well, e.g. to write it to a dataset. */
  keepCrops?: boolean;
  limits?: Partial<ImageLimits>;
}

export type ProductAnalysis = Pick<Analysis, 'heads' | 'embedding' | 'code'>;

export interface DetectedProduct {
  /** [x, y, w, h] in pixels of the original photo. */
  box: XywhBox;
  class: CocoClass;
  /** Product vertical; null for a person (kept: it holds the garments). */
  vertical: ProductVertical | null;
  score: number;
  analysis: ProductAnalysis;
  /** The analysed crop (box plus margin, long side at most 1024 px), PNG; only with `keepCrops`. */
  crop?: Buffer;
}

export interface ImageProducts {
  /** Size of the photo the boxes refer to (after EXIF orientation). */
  size: Size;
  products: DetectedProduct[];
}

export const DEFAULT_MAX_PRODUCTS = 10;
export const MAX_PRODUCTS_LIMIT = 100;
const DEFAULT_MARGIN = 0.05;
// Crops are shrunk to this long side before analysis: the unified model looks at a few
// hundred pixels anyway, and a 12-megapixel crop would only cost encoding time and memory.
const CROP_MAX_SIDE = 1024;
const EPSILON = 1e-6;

interface Pending {
  size: Size;
  found: Array<{ detection: Detection; vertical: ProductVertical | null }>;
  /** Index of this image's first crop in the shared list of crops. */
  firstCrop: number;
}

/**
 * One result per input buffer, in order: the products found (possibly none), or the
 * GroknetError that stopped this image alone (bad bytes, too large...).
 */
export async function detectProducts(buffers: readonly Buffer[], options: DetectProductsOptions): Promise<Array<ImageProducts | GroknetError>> {
  const { detector, analyzer } = options;
  // Checked here so a bad value fails the call, not every image one by one.
  const { minScore } = resolveDetectOptions({ minScore: options.minScore ?? DEFAULT_DETECT_OPTIONS.minScore });
  const maxProducts = options.maxProducts ?? DEFAULT_MAX_PRODUCTS;
  const margin = options.margin ?? DEFAULT_MARGIN;
  if (!Number.isInteger(maxProducts) || maxProducts < 1 || maxProducts > MAX_PRODUCTS_LIMIT) {
    throw new GroknetError('invalid_argument', `max products must be an integer from 1 to ${MAX_PRODUCTS_LIMIT}, got ${maxProducts}`);
  }
  if (!(margin >= 0 && margin <= 1)) throw new GroknetError('invalid_argument', `margin must be from 0 to 1, got ${margin}`);

  // Detection and cropping image by image (one full-size decode in memory at a time),
  // then all crops of all images through the unified model together, in full batches.
  const crops: Buffer[] = [];
  const pending: Array<Pending | GroknetError> = [];
  for (const buffer of buffers) {
    try {
      const image = await decodeImage(buffer, options.limits);
      const detections = await detector.detect(image, { minScore });
      const found = detections
        .flatMap((detection) => {
          const category = categorise(detection.class, { keepUnmapped: options.keepUnmapped });
          return category ? [{ detection, vertical: category.vertical }] : [];
        })
        .slice(0, maxProducts);
      const firstCrop = crops.length;
      for (const { detection } of found) crops.push(await cropProduct(image, detection.box, margin));
      pending.push({ size: { width: image.width, height: image.height }, found, firstCrop });
    } catch (error) {
      pending.push(toGroknetError(error));
    }
  }

  const analyses = crops.length > 0 ? await analyzer.analyzeBuffers(crops) : [];
  return pending.map((item) => {
    if (item instanceof GroknetError) return item;
    const products: DetectedProduct[] = [];
    for (const [k, { detection, vertical }] of item.found.entries()) {
      const analysis = analyses[item.firstCrop + k];
      // Crops are PNGs made here, so a failure is groknet's own: report it for the image.
      if (!analysis || analysis instanceof GroknetError) return analysis ?? new GroknetError('internal', 'a crop was not analysed');
      products.push({
        box: detection.box,
        class: detection.class,
        vertical,
        score: detection.score,
        analysis: { heads: analysis.heads, embedding: analysis.embedding, code: analysis.code },
        ...(options.keepCrops ? { crop: crops[item.firstCrop + k]! } : {}),
      });
    }
    return { size: item.size, products };
  });
}

/** A detected product as JSON, the shape `groknet detect --json` and `POST /v1/analyze` share. */
export interface DetectedProductJson {
  box: number[];
  class: CocoClass;
  vertical: ProductVertical | null;
  score: number;
  analysis: { heads: ProductAnalysis['heads']; embedding?: number[]; code: string };
}

export function detectedProductJson(product: DetectedProduct, options: { embedding?: boolean } = {}): DetectedProductJson {
  return {
    // Tenths of a pixel are more than the detectors resolve.
    box: product.box.map((v) => Math.round(v * 10) / 10),
    class: product.class,
    vertical: product.vertical,
    score: Math.round(product.score * 1e4) / 1e4,
    analysis: {
      heads: product.analysis.heads,
      ...(options.embedding ? { embedding: Array.from(product.analysis.embedding, (v) => Math.round(v * 1e6) / 1e6) } : {}),
      code: product.analysis.code,
    },
  };
}

/** The integer pixel rectangle cut for a box: the box grown by `margin` per side, inside the image. */
export function cropRect(box: XywhBox, margin: number, size: Size): Rect {
  const [x, y, w, h] = box;
  // Outward to whole pixels; the epsilon keeps float noise (110.00000000000001) from adding one.
  const left = clampInt(Math.floor(x - w * margin + EPSILON), 0, size.width - 1);
  const top = clampInt(Math.floor(y - h * margin + EPSILON), 0, size.height - 1);
  const right = clampInt(Math.ceil(x + w + w * margin - EPSILON), left + 1, size.width);
  const bottom = clampInt(Math.ceil(y + h + h * margin - EPSILON), top + 1, size.height);
  return { left, top, width: right - left, height: bottom - top };
}

async function cropProduct(image: DecodedImage, box: XywhBox, margin: number): Promise<Buffer> {
  const rect = cropRect(box, margin, image);
  return cropDecodedToPng(image, rect, CROP_MAX_SIDE);
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
