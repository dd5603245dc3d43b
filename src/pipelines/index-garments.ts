// The garments stored with each indexed photo (`groknet index --garments`): photos decoded
// and shrunk as shop the look does, segmented a few at a time, and for each garment its
// label, the colour of its own pixels and its share of the photo. A photo that cannot be
// read or segmented fails alone, so the rest of an ingest batch keeps its garments.
import { isGarmentName } from '../catalog/schema.ts';
import type { ImageGarment } from '../catalog/types.ts';
import { GroknetError, toGroknetError } from '../errors.ts';
import { decodeImage, type DecodedImage } from '../image/decode.ts';
import type { ImageLimits } from '../image/limits.ts';
import { garmentsFromSegmentation } from './garments.ts';
import type { SegmentedImage } from './segment.ts';
import { MAX_GARMENTS_LIMIT, SEGMENT_MAX_SIDE, shrink, type PhotoSegmenter } from './shop-the-look.ts';

/** Photos decoded and segmented together: bounds the decoded pixels held at once (about 3 MB each). */
export const GARMENT_PHOTOS_PER_RUN = 8;

export interface PhotoGarmentOptions {
  limits?: Partial<ImageLimits>;
}

/** The garments of each photo, largest first (at most 10), in input order; a photo that fails gets its error. */
export async function photoGarments(segmenter: PhotoSegmenter, photos: readonly Buffer[], options: PhotoGarmentOptions = {}): Promise<Array<ImageGarment[] | GroknetError>> {
  const results: Array<ImageGarment[] | GroknetError> = [];
  for (let start = 0; start < photos.length; start += GARMENT_PHOTOS_PER_RUN) {
    results.push(...(await run(segmenter, photos.slice(start, start + GARMENT_PHOTOS_PER_RUN), options.limits)));
  }
  return results;
}

async function run(segmenter: PhotoSegmenter, photos: readonly Buffer[], limits: Partial<ImageLimits> | undefined): Promise<Array<ImageGarment[] | GroknetError>> {
  const decoded = await Promise.all(
    photos.map(async (bytes) => {
      try {
        return await shrink(await decodeImage(bytes, limits), SEGMENT_MAX_SIDE);
      } catch (error) {
        return toGroknetError(error);
      }
    }),
  );
  const segmented = await segmentIsolating(segmenter, decoded.filter((d): d is DecodedImage => !(d instanceof GroknetError)));
  let next = 0;
  return decoded.map((d) => {
    if (d instanceof GroknetError) return d;
    const result = segmented[next++]!;
    return result instanceof GroknetError ? result : measure(segmenter, result);
  });
}

/** One segmenter run for all; if it fails, each photo alone, so one bad photo costs only its own garments. */
async function segmentIsolating(segmenter: PhotoSegmenter, images: readonly DecodedImage[]): Promise<Array<SegmentedImage | GroknetError>> {
  if (images.length === 0) return [];
  try {
    const out = await segmenter.segmentDecoded(images);
    return images.map((_, i) => out[i] ?? new GroknetError('internal', 'segmentation returned too few results'));
  } catch (error) {
    if (images.length === 1) return [toGroknetError(error)];
    const results: Array<SegmentedImage | GroknetError> = [];
    for (const image of images) results.push(...(await segmentIsolating(segmenter, [image])));
    return results;
  }
}

function measure(segmenter: PhotoSegmenter, { segmentation, image }: SegmentedImage): ImageGarment[] | GroknetError {
  try {
    return garmentsFromSegmentation(segmentation, image.data, { notGarments: segmenter.notGarments })
      // A label that cannot be a filter value (an odd model's label list) is left out rather than failing the photo.
      .filter((garment) => isGarmentName(garment.label))
      .slice(0, MAX_GARMENTS_LIMIT)
      .map(({ label, colour, areaShare }) => ({ label, colour: colour !== undefined && isGarmentName(colour) ? colour : null, areaShare }));
  } catch (error) {
    return toGroknetError(error);
  }
}
