// Measures the garments of the photos being published, once per distinct content hash, as
// catalog/analyze.ts runs the analyzer: a photo used by several listings, or segmented in an
// earlier run, costs nothing the second time.
//
// One rule for every caller: a photo that cannot be segmented gets its error (it is then
// published without garments and reported); a measurer that throws refuses the whole batch
// (a server's segmenter that is busy, timed out or cannot be opened), which fails before
// anything is stored, so the caller can retry it.

import type { ImageGarment } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import { photoGarments } from '../pipelines/index-garments.ts';
import type { PhotoSegmenter } from '../pipelines/shop-the-look.ts';

/** The garments of each photo, in order; a photo that cannot be segmented gets its error. */
export type MeasureGarments = (photos: readonly Buffer[]) => Promise<Array<ImageGarment[] | GroknetError>>;

/** Garments measured by a segmenter in this process (photoGarments isolates a failing photo, so it never refuses a batch). */
export function garmentsBy(segmenter: PhotoSegmenter): MeasureGarments {
  return (photos) => photoGarments(segmenter, photos);
}

export async function segmentDistinct(
  measure: MeasureGarments,
  photos: ReadonlyArray<{ bytes: Buffer; contentHash: string }>,
  known: ReadonlyMap<string, ImageGarment[]>,
): Promise<Map<string, ImageGarment[] | GroknetError>> {
  const results = new Map<string, ImageGarment[] | GroknetError>(known);
  const todo = new Map<string, Buffer>();
  for (const photo of photos) {
    if (!results.has(photo.contentHash)) todo.set(photo.contentHash, photo.bytes);
  }
  if (todo.size === 0) return results;
  const garments = await measure([...todo.values()]);
  [...todo.keys()].forEach((hash, i) => results.set(hash, garments[i] ?? new GroknetError('internal', 'segmentation returned too few results')));
  return results;
}
