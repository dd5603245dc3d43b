// Garments as products: each garment a segmentation found becomes a product candidate of
// its own (label, bounding box, share of the photo, colour measured on its own pixels),
// ready for "shop the look", where every piece of an outfit is searched for separately.
// One candidate per label: two shoes or two gloves are one product, a pair.
import { dominantColours } from '../image/colour-names.ts';
import { NOT_GARMENTS } from '../segment/classes.ts';
import type { Segmentation } from './segmentation.ts';

export interface GarmentCandidate {
  label: string;
  /** Index of the label in the segmentation's label list (the mask value). */
  labelIndex: number;
  /** [x, y, width, height] in the photo's pixels: the bounding box of the garment's mask. */
  box: [number, number, number, number];
  /** Share of the photo's pixels. */
  areaShare: number;
  /** Dominant palette colour of the garment's own pixels; undefined when none could be measured. */
  colour: string | undefined;
  /** Share of the garment's pixels that have that colour. */
  colourShare: number;
}

export interface GarmentOptions {
  /** Garments covering less of the photo are left out (noise, or too small to shop for). */
  minShare?: number;
  /** Labels that are not garments; background, skin and hair by default. */
  notGarments?: ReadonlySet<string>;
}

export const DEFAULT_MIN_GARMENT_SHARE = 0.005;

/** Garments largest first. `rgb` is the photo's interleaved RGB at the segmentation's size. */
export function garmentsFromSegmentation(segmentation: Segmentation, rgb: Uint8Array, options: GarmentOptions = {}): GarmentCandidate[] {
  const { width, height, mask, labels } = segmentation;
  if (rgb.length !== width * height * 3) throw new Error(`the photo has ${rgb.length} bytes, the ${width}x${height} mask needs ${width * height * 3}`);
  const minShare = options.minShare ?? DEFAULT_MIN_GARMENT_SHARE;
  const skip = options.notGarments ?? NOT_GARMENTS;

  // Pixel count and bounding box per label, in one pass.
  const count = new Float64Array(256);
  const x1 = new Int32Array(256).fill(width);
  const y1 = new Int32Array(256).fill(height);
  const x2 = new Int32Array(256).fill(-1);
  const y2 = new Int32Array(256).fill(-1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = mask[y * width + x]!;
      count[v]! += 1;
      if (x < x1[v]!) x1[v] = x;
      if (x > x2[v]!) x2[v] = x;
      if (y < y1[v]!) y1[v] = y;
      if (y > y2[v]!) y2[v] = y;
    }
  }

  const total = width * height;
  const garments: GarmentCandidate[] = [];
  for (let v = 0; v < 256; v++) {
    const label = labels[v];
    if (label === undefined || count[v] === 0 || skip.has(label) || count[v]! / total < minShare) continue;
    const box: [number, number, number, number] = [x1[v]!, y1[v]!, x2[v]! - x1[v]! + 1, y2[v]! - y1[v]! + 1];
    const colour = garmentColour(rgb, width, mask, v, box);
    garments.push({ label, labelIndex: v, box, areaShare: count[v]! / total, colour: colour?.name, colourShare: colour?.share ?? 0 });
  }
  return garments.sort((a, b) => b.areaShare - a.areaShare);
}

/**
 * The garment's colour over its own pixels only. Measured inside its box, so that a small
 * garment is sampled as densely as a large one (dominantColours samples about 20,000
 * pixels of the area it is given).
 */
function garmentColour(rgb: Uint8Array, width: number, mask: Uint8Array, value: number, box: [number, number, number, number]): { name: string; share: number } | undefined {
  const [bx, by, bw, bh] = box;
  const crop = new Uint8Array(bw * bh * 3);
  for (let y = 0; y < bh; y++) {
    const from = ((by + y) * width + bx) * 3;
    crop.set(rgb.subarray(from, from + bw * 3), y * bw * 3);
  }
  const [top] = dominantColours(crop, bw, bh, (x, y) => mask[(by + y) * width + bx + x] === value);
  return top;
}
