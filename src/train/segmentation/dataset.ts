// The masked photos of Clothing Co-Parsing (904 of its 1,998): photo, mask and a stable
// train/val split by photo name (the same hash split the garment_tags head uses, so a
// held-out photo is held out from both).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../../errors.ts';
import { readStoredPixels } from '../../image/raw.ts';
import { hashSplit } from '../datasets/split.ts';

export interface MaskedPhoto {
  /** Photo path relative to the dataset root, the split key. */
  name: string;
  photo: string;
  mask: string;
  split: 'train' | 'val';
}

export interface MaskedDataset {
  root: string;
  labels: string[];
  photos: MaskedPhoto[];
}

export const VAL_FRACTION = 0.15;

export async function loadMaskedPhotos(root: string, valFraction = VAL_FRACTION): Promise<MaskedDataset> {
  const read = (file: string): Promise<string> =>
    readFile(path.join(root, file), 'utf8').catch(() => {
      throw new GroknetError('file_not_found', `no ${file} in ${root}`);
    });
  const labelsJson = JSON.parse(await read('labels.json')) as { labels?: unknown };
  if (!Array.isArray(labelsJson.labels) || !labelsJson.labels.every((l) => typeof l === 'string')) {
    throw new GroknetError('invalid_labels', 'labels.json must hold {"labels": [names]}');
  }
  const labels = labelsJson.labels as string[];
  if (labels.length > 256) throw new GroknetError('invalid_labels', `${labels.length} labels do not fit an 8-bit mask`);
  const photos: MaskedPhoto[] = [];
  for (const [i, line] of (await read('annotations.jsonl')).split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    let row: { photo?: unknown; mask?: unknown };
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      throw new GroknetError('invalid_labels', `annotations.jsonl line ${i + 1} is not JSON`);
    }
    if (typeof row.photo !== 'string') throw new GroknetError('invalid_labels', `annotations.jsonl line ${i + 1} has no "photo"`);
    if (typeof row.mask !== 'string') continue;
    photos.push({ name: row.photo, photo: path.join(root, row.photo), mask: path.join(root, row.mask), split: hashSplit(row.photo, valFraction) });
  }
  return { root, labels, photos };
}

/** A mask's label indices (its first channel: the dataset's masks are grey saved as RGB). */
export async function readMask(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const info = await readStoredPixels(file);
  const { data } = info;
  const out = new Uint8Array(info.width * info.height);
  for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels]!;
  return { data: out, width: info.width, height: info.height };
}

/** Mirrors interleaved pixels left to right (any channel count). */
export function mirror(data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * channels;
      const to = (y * width + (width - 1 - x)) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c]!;
    }
  }
  return out;
}

/** A region of a photo as fractions of its width and height (0..1). */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The whole pixels a CropBox covers in a width x height image (at least one pixel each way). */
export function cropRect(box: CropBox, width: number, height: number): { left: number; top: number; width: number; height: number } {
  const left = Math.min(width - 1, Math.max(0, Math.round(box.left * width)));
  const top = Math.min(height - 1, Math.max(0, Math.round(box.top * height)));
  return {
    left,
    top,
    width: Math.max(1, Math.min(width - left, Math.round(box.width * width))),
    height: Math.max(1, Math.min(height - top, Math.round(box.height * height))),
  };
}

/** The region `box` of interleaved pixels (photo or mask), row-major like its source. */
export function crop(data: Uint8Array, width: number, height: number, channels: number, box: CropBox): { data: Uint8Array; width: number; height: number } {
  if (data.length !== width * height * channels) throw new Error(`crop: ${data.length} values for ${width}x${height}x${channels}`);
  const r = cropRect(box, width, height);
  const out = new Uint8Array(r.width * r.height * channels);
  for (let y = 0; y < r.height; y++) {
    const from = ((r.top + y) * width + r.left) * channels;
    out.set(data.subarray(from, from + r.width * channels), y * r.width * channels);
  }
  return { data: out, width: r.width, height: r.height };
}

/**
 * `count` random square-ish crops (the same share `scale` of width and height, so the
 * person keeps its proportions) at random positions: views that show garments larger
 * than the letterboxed photo does. Deterministic in `random`.
 */
export function randomCrops(count: number, scale: readonly [number, number], random: () => number): CropBox[] {
  return Array.from({ length: count }, () => {
    const share = scale[0] + (scale[1] - scale[0]) * random();
    const round = (v: number) => Math.round(v * 1000) / 1000;
    return { left: round((1 - share) * random()), top: round((1 - share) * random()), width: round(share), height: round(share) };
  });
}
