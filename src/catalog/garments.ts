// Measures the garments of image bytes for ingest, once per distinct content hash, as
// analyze.ts runs the analyzer: a photo used by several listings, or segmented in an
// earlier run, costs nothing the second time. Failures are per photo and never abort.

import { GroknetError, toGroknetError } from '../errors.ts';
import { photoGarments } from '../pipelines/index-garments.ts';
import type { PhotoSegmenter } from '../pipelines/shop-the-look.ts';
import type { ImageBytes } from './image-file.ts';
import type { ImageGarment } from './types.ts';

export async function segmentDistinct(
  segmenter: PhotoSegmenter,
  images: readonly ImageBytes[],
  known: ReadonlyMap<string, ImageGarment[]>,
): Promise<Map<string, ImageGarment[] | GroknetError>> {
  const results = new Map<string, ImageGarment[] | GroknetError>(known);
  const todo = new Map<string, Buffer>();
  for (const image of images) {
    if (!results.has(image.contentHash)) todo.set(image.contentHash, image.bytes);
  }
  if (todo.size === 0) return results;
  const hashes = [...todo.keys()];
  let garments: Array<ImageGarment[] | GroknetError>;
  try {
    garments = await photoGarments(segmenter, [...todo.values()]);
  } catch (error) {
    const failure = toGroknetError(error);
    for (const hash of hashes) results.set(hash, failure);
    return results;
  }
  hashes.forEach((hash, i) => results.set(hash, garments[i] ?? new GroknetError('internal', 'segmentation returned too few results')));
  return results;
}
