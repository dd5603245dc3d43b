// Augmented views of a training image, named by a suffix on its reference so each view's
// backbone features are cached like any image: "<ref>@flip" (mirrored) and "<ref>@crop"
// (an 80% crop whose position depends on the image, so it is stable across runs).
import { createHash } from 'node:crypto';
import { decodeImage } from '../image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../image/limits.ts';
import { loadForModel, preprocessDecoded } from '../image/preprocess.ts';
import type { PreprocessSpec } from '../image/spec.ts';
import { readIdxSample, readSampleBytes } from './datasets/read.ts';

export type View = 'flip' | 'crop';
export const VIEWS: readonly View[] = ['flip', 'crop'];

export function viewRef(ref: string, view: View): string {
  return `${ref}@${view}`;
}

export function splitViewRef(ref: string): { source: string; view?: View } {
  const match = /^(.*)@(flip|crop)$/.exec(ref);
  return match ? { source: match[1]!, view: match[2] as View } : { source: ref };
}

/** The model input tensor of an image reference, augmented when it names a view. */
export async function loadViewTensor(ref: string, spec: PreprocessSpec): Promise<Float32Array> {
  const { source, view } = splitViewRef(ref);
  // IDX samples are pixels already; an encoded photo without a view takes the one-pipeline path (shrink-on-load).
  const idx = await readIdxSample(source);
  if (!view && !idx) return (await loadForModel(await readSampleBytes(source), spec, DEFAULT_IMAGE_LIMITS)).tensor;
  const image = idx ?? (await decodeImage(await readSampleBytes(source), DEFAULT_IMAGE_LIMITS));
  const augmented = !view ? {} : view === 'flip' ? mirror(image.data, image.width, image.height) : crop(image.data, image.width, image.height, source);
  return (await preprocessDecoded({ ...image, ...augmented }, spec)).tensor;
}

function mirror(data: Buffer, width: number, height: number): { data: Buffer; width: number; height: number } {
  const out = Buffer.alloc(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + (width - 1 - x)) * 3;
      out[to] = data[from]!;
      out[to + 1] = data[from + 1]!;
      out[to + 2] = data[from + 2]!;
    }
  }
  return { data: out, width, height };
}

function crop(data: Buffer, width: number, height: number, key: string): { data: Buffer; width: number; height: number } {
  const digest = createHash('sha1').update(key).digest();
  const w = Math.max(1, Math.round(width * 0.8));
  const h = Math.max(1, Math.round(height * 0.8));
  const left = Math.floor(((digest[0] ?? 0) / 255) * (width - w));
  const top = Math.floor(((digest[1] ?? 0) / 255) * (height - h));
  const out = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) data.copy(out, y * w * 3, ((top + y) * width + left) * 3, ((top + y) * width + left + w) * 3);
  return { data: out, width: w, height: h };
}
