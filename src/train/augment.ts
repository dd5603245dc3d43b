// Augmented views of a training image, named by a suffix on its reference so each view's
// backbone features are cached like any image: "<ref>@flip" (mirrored), "<ref>@crop" (an 80%
// crop whose position depends on the image, so it is stable across runs), "<ref>@jitter"
// (brightness, contrast, saturation and hue moved by amounts drawn from the reference, for
// datasets whose labels do not name colours), "<ref>@shrink" (a thumbnail: long side 40-96 px
// through a JPEG of quality 50-85, drawn from the reference, as small listing photos are),
// and their combinations joined by "+"
// ("<ref>@flip+jitter": one cached view that is both, so a dataset gets colour variety
// without more rows per epoch).
import { createHash } from 'node:crypto';
import { decodeImage } from '../image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../image/limits.ts';
import { changeColours, thumbnailPixels } from '../image/raw.ts';
import { loadForModel, preprocessDecoded } from '../image/preprocess.ts';
import type { PreprocessSpec } from '../image/spec.ts';
import { readIdxSample, readSampleBytes } from './datasets/read.ts';

export type Transform = 'crop' | 'flip' | 'shrink' | 'jitter';
/** The transforms, in the order a view applies them and names them. */
export const TRANSFORMS: readonly Transform[] = ['crop', 'flip', 'shrink', 'jitter'];
/** A view: one or more transforms joined by "+", in TRANSFORMS' order (e.g. "flip+jitter"). */
export type View = string;
/** What a count of views means in a dataset's config: 1 adds the mirrored view, 2 also the crop. */
export const COUNTED_VIEWS: readonly View[] = ['flip', 'crop'];
/** The view of held-out images that queries the augmented-view retrieval measure. */
export const QUERY_VIEW: View = 'crop';

/** The transforms a view name stands for; throws unless they are TRANSFORMS, in order, each once. */
export function viewTransforms(view: View): Transform[] {
  const parts = view.split('+');
  const order = parts.map((p) => TRANSFORMS.indexOf(p as Transform));
  if (order.some((o, i) => o < 0 || (i > 0 && o <= order[i - 1]!))) throw new Error(`not a view: "${view}" (${TRANSFORMS.join(', ')} joined by "+", in that order)`);
  return parts as Transform[];
}

/**
 * A view entry in a dataset's config: one view, or alternatives joined by "|"
 * ("crop+flip|crop+flip+shrink"), of which each training image takes one, drawn from its
 * reference: half the photos can be thumbnails and half full-size for the cost of one row.
 */
export type ViewEntry = string;

/** The views an entry offers; throws unless each is a view and none repeats. */
export function viewChoices(entry: ViewEntry): View[] {
  const choices = entry.split('|');
  for (const choice of choices) viewTransforms(choice);
  if (new Set(choices).size !== choices.length) throw new Error(`not a view entry: "${entry}" (an alternative is listed twice)`);
  return choices;
}

export function isViewEntry(entry: string): boolean {
  try {
    viewChoices(entry);
    return true;
  } catch {
    return false;
  }
}

/** One view, no alternatives ("crop+flip", not "crop|flip"). */
export function isView(name: string): boolean {
  return !name.includes('|') && isViewEntry(name);
}

/** The view an image takes from an entry: stable across runs, so its cached features are reused. */
export function pickView(entry: ViewEntry, ref: string): View {
  const choices = viewChoices(entry);
  if (choices.length === 1) return choices[0]!;
  const digest = createHash('sha1').update(`view:${entry}:${ref}`).digest();
  return choices[digest.readUInt32BE(0) % choices.length]!;
}

export function viewRef(ref: string, view: View): string {
  return `${ref}@${view}`;
}

export function splitViewRef(ref: string): { source: string; view?: View } {
  const at = ref.lastIndexOf('@');
  const view = at >= 0 ? ref.slice(at + 1) : '';
  return at >= 0 && isView(view) ? { source: ref.slice(0, at), view } : { source: ref };
}

/** The model input tensor of an image reference, augmented when it names a view. */
export async function loadViewTensor(ref: string, spec: PreprocessSpec): Promise<Float32Array> {
  const { source, view } = splitViewRef(ref);
  // IDX samples are pixels already; an encoded photo without a view takes the one-pipeline path (shrink-on-load).
  const idx = await readIdxSample(source);
  if (!view && !idx) return (await loadForModel(await readSampleBytes(source), spec, DEFAULT_IMAGE_LIMITS)).tensor;
  const image = idx ?? (await decodeImage(await readSampleBytes(source), DEFAULT_IMAGE_LIMITS));
  let pixels = { data: image.data, width: image.width, height: image.height };
  for (const transform of view ? viewTransforms(view) : []) {
    if (transform === 'crop') pixels = crop(pixels.data, pixels.width, pixels.height, source);
    else if (transform === 'flip') pixels = mirror(pixels.data, pixels.width, pixels.height);
    else if (transform === 'shrink') pixels = await thumbnailPixels(pixels, ...thumbnailOf(source));
    else pixels = await jitterColour(pixels.data, pixels.width, pixels.height, source);
  }
  return (await preprocessDecoded({ ...image, ...pixels }, spec)).tensor;
}

/** Long side and JPEG quality of a shrunk view of `key`: drawn from its hash, so stable across runs. */
export function thumbnailOf(key: string): [maxSide: number, quality: number] {
  const digest = createHash('sha1').update(`shrink:${key}`).digest();
  return [40 + ((digest[0] ?? 0) % 57), 50 + ((digest[1] ?? 0) % 36)];
}

/** The colour changes of a jittered view of `key`: drawn from its hash, so stable across runs. */
export function jitterAmounts(key: string): { brightness: number; contrast: number; saturation: number; hue: number } {
  const digest = createHash('sha1').update(`jitter:${key}`).digest();
  const uniform = (i: number, low: number, high: number) => low + ((digest[i] ?? 0) / 255) * (high - low);
  // Mild enough that a product stays recognisable (grocery packaging is told apart by colour).
  return { brightness: uniform(0, 0.75, 1.25), contrast: uniform(1, 0.75, 1.25), saturation: uniform(2, 0.6, 1.4), hue: Math.round(uniform(3, -12, 12)) };
}

// src/image's changeColours does the colour work (sharp's modulate and linear on the raw pixels).
async function jitterColour(data: Buffer, width: number, height: number, key: string): Promise<{ data: Buffer; width: number; height: number }> {
  return changeColours({ data, width, height }, jitterAmounts(key));
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
