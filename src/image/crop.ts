// Cutting one region out of a photo, for analysing one product or garment in it: POST
// /v1/analyze and POST /v1/search with a region, and shop the look (one region per garment,
// from the server or the command line).
import { GroknetError } from '../errors.ts';
import { openImage, readImageHeader } from './decode.ts';
import type { ImageLimits } from './limits.ts';
import { fromSharpError } from './sharp-errors.ts';

/** A box in whole pixels of the upright (EXIF-oriented) image. */
export interface CropRegion {
  x: number;
  y: number;
  w: number;
  h: number;
}

// The model looks at a few hundred pixels: a crop larger than this is shrunk before it is
// re-encoded, which keeps the re-encoded PNG well inside the input byte limit.
const MAX_CROP_SIDE = 1024;

/** Cuts the region out of the (EXIF-oriented) image and returns it as PNG bytes. */
export async function cropToRegion(bytes: Buffer, region: CropRegion, limits: ImageLimits): Promise<Buffer> {
  const header = await readImageHeader(bytes, limits);
  if (region.x + region.w > header.width || region.y + region.h > header.height) {
    throw new GroknetError('invalid_argument', `region ${region.x},${region.y} ${region.w}x${region.h} lies outside the ${header.width}x${header.height} image`);
  }
  try {
    return await openImage(bytes, limits)
      .extract({ left: region.x, top: region.y, width: region.w, height: region.h })
      .resize({ width: MAX_CROP_SIDE, height: MAX_CROP_SIDE, fit: 'inside', withoutEnlargement: true })
      .png()
      .toBuffer();
  } catch (error) {
    throw fromSharpError(error, header.family);
  }
}
