// Shop the look: photo bytes -> clothing segmentation -> garments as products (largest
// first, capped) -> for each garment a catalog search by its box in the photo, the same
// search by image region as POST /v1/search with `image` + `region`; optionally only
// products of the garment's colour.
//
// The colour filter is the catalog's `garment_colour` field when its photos were indexed
// with their garments (`groknet index --garments`): the colours of each catalog photo's
// own garments, measured as a garment's colour here is, so a red tee is matched by the
// catalog's red garments, not by photos that are red overall. Any garment of that colour
// qualifies, not only one with the same label: the region's embedding already finds the
// kind of garment, and two garments of one kind are often labelled differently (t-shirt,
// top). Catalogs without garment colours use the per-image `colour` attribute, measured
// from the whole photo with the same palette (src/image/colour-names.ts). The field is
// chosen by shop-the-look-catalog.ts catalogColourField; see searchGarments.
//
// Two halves, so a server can bound the segmentation alone: findGarments (decode +
// segment + garments) and searchGarments (one region search per garment).
import { GroknetError } from '../errors.ts';
import { decodeImage, type DecodedImage } from '../image/decode.ts';
import { shrinkToFit } from '../image/raw.ts';
import type { ImageLimits } from '../image/limits.ts';
import type { Filters, SearchResult } from '../search/types.ts';
import { DEFAULT_MIN_GARMENT_SHARE, garmentsFromSegmentation, type GarmentCandidate } from './garments.ts';
import type { SegmentedImage } from './segment.ts';

/** What shop the look needs from a segmenter. The Segmenter class (./segment.ts) is one; tests script their own. */
export interface PhotoSegmenter {
  /** Labels never offered as garments (background, skin, hair). */
  readonly notGarments: ReadonlySet<string>;
  segmentDecoded(images: readonly DecodedImage[]): Promise<SegmentedImage[]>;
  close(): Promise<void>;
}

/** A garment of the photo: box in the photo's pixels (EXIF orientation applied). */
export type Garment = Omit<GarmentCandidate, 'labelIndex'>;

export interface PhotoGarments {
  /** The photo's size, the frame of the boxes. */
  width: number;
  height: number;
  /** Largest first. */
  garments: Garment[];
}

/** A region of the photo in whole pixels, the shape POST /v1/search takes. */
export interface PixelRegion {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Searches the catalog by one region of the photo; the results best first. */
export type SearchRegion = (photo: Buffer, region: PixelRegion, filters: Filters, limit: number) => Promise<SearchResult[]>;

export interface FindGarmentsOptions {
  segmenter: PhotoSegmenter;
  /** At most this many garments, largest first (default 6). */
  maxGarments?: number;
  /** Garments covering less of the photo are left out (default 0.005). */
  minShare?: number;
  limits?: Partial<ImageLimits>;
}

export interface SearchGarmentsOptions {
  searchRegion: SearchRegion;
  /** Results per garment (default 8). */
  k?: number;
  /**
   * Filter each garment's search by its colour, with this filter field (`garment_colour`
   * when the catalog stores garment colours, else its `colour` attribute); undefined: no
   * colour filter. A garment whose colour could not be measured is searched without it.
   */
  colourField?: string;
}

export interface GarmentResults extends Garment {
  /** The filters its search used: `{ garment_colour: 'red' }` (or `{ colour: 'red' }`) when matched by colour, else empty. */
  filters: Record<string, string>;
  results: SearchResult[];
}

export interface ShopTheLook {
  width: number;
  height: number;
  garments: GarmentResults[];
}

export const DEFAULT_MAX_GARMENTS = 6;
export const MAX_GARMENTS_LIMIT = 10;
export const DEFAULT_LOOK_K = 8;
export const MAX_LOOK_K = 50;

// The model sees 448x288 (its manifest's input size); a mask at full camera resolution would only cost time (every
// pixel's label is interpolated over every class) and memory. Segmented at this long side
// at most, boxes then scaled back to the photo's pixels.
export const SEGMENT_MAX_SIDE = 1024;

function checkInteger(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new GroknetError('invalid_argument', `${name} must be an integer from 1 to ${max}, got ${value}`);
  return value;
}

/** The garments of one photo, largest first; a photo that cannot be read throws its GroknetError. */
export async function findGarments(photo: Buffer, options: FindGarmentsOptions): Promise<PhotoGarments> {
  const maxGarments = checkInteger(options.maxGarments ?? DEFAULT_MAX_GARMENTS, 'maxGarments', MAX_GARMENTS_LIMIT);
  const minShare = options.minShare ?? DEFAULT_MIN_GARMENT_SHARE;
  if (!(minShare >= 0 && minShare <= 1)) throw new GroknetError('invalid_argument', `minShare must be from 0 to 1, got ${minShare}`);
  const image = await decodeImage(photo, options.limits);
  const small = await shrink(image, SEGMENT_MAX_SIDE);
  const [segmented] = await options.segmenter.segmentDecoded([small]);
  if (!segmented) throw new GroknetError('internal', 'segmentation returned nothing');
  const candidates = garmentsFromSegmentation(segmented.segmentation, segmented.image.data, { minShare, notGarments: options.segmenter.notGarments });
  const sx = image.width / segmented.segmentation.width;
  const sy = image.height / segmented.segmentation.height;
  const garments = candidates.slice(0, maxGarments).map(({ labelIndex: _, box, ...garment }) => ({ ...garment, box: scaleBox(box, sx, sy, image.width, image.height) }));
  return { width: image.width, height: image.height, garments };
}

/** Searches the catalog for each garment (all at once: their crops share the analyzer's batches). */
export async function searchGarments(photo: Buffer, found: PhotoGarments, options: SearchGarmentsOptions): Promise<ShopTheLook> {
  const k = checkInteger(options.k ?? DEFAULT_LOOK_K, 'k', MAX_LOOK_K);
  const garments = await Promise.all(
    found.garments.map(async (garment): Promise<GarmentResults> => {
      const [x, y, w, h] = garment.box;
      const filters: Record<string, string> = options.colourField && garment.colour ? { [options.colourField]: garment.colour } : {};
      const conditions: Filters = Object.fromEntries(Object.entries(filters).map(([field, value]) => [field, { eq: value }]));
      const results = await options.searchRegion(photo, { x, y, w, h }, conditions, k);
      return { ...garment, filters, results };
    }),
  );
  return { width: found.width, height: found.height, garments };
}

/** Both halves in one call (no server bounds): the garments of the photo, each with its search results. */
export async function shopTheLook(photo: Buffer, options: FindGarmentsOptions & SearchGarmentsOptions): Promise<ShopTheLook> {
  // Checked before any work, so a bad k does not cost a segmentation.
  checkInteger(options.k ?? DEFAULT_LOOK_K, 'k', MAX_LOOK_K);
  return searchGarments(photo, await findGarments(photo, options), options);
}

/** A garment as JSON, the shape the API returns: shares rounded, no colour is null. */
export function garmentJson(garment: Garment): { label: string; box: number[]; areaShare: number; colour: string | null; colourShare: number } {
  return {
    label: garment.label,
    box: [...garment.box],
    areaShare: Math.round(garment.areaShare * 1e4) / 1e4,
    colour: garment.colour ?? null,
    colourShare: Math.round(garment.colourShare * 1e4) / 1e4,
  };
}

/** The image with its long side at most `maxSide` (the same image when it already fits): src/image/raw.ts's shrinkToFit. */
export const shrink = shrinkToFit;

/** A box on the segmented image -> the same box in the photo's pixels, whole pixels, inside the photo. */
function scaleBox(box: readonly [number, number, number, number], sx: number, sy: number, width: number, height: number): [number, number, number, number] {
  if (sx === 1 && sy === 1) return [box[0], box[1], box[2], box[3]];
  const x0 = Math.max(0, Math.floor(box[0] * sx));
  const y0 = Math.max(0, Math.floor(box[1] * sy));
  const x1 = Math.min(width, Math.ceil((box[0] + box[2]) * sx));
  const y1 = Math.min(height, Math.ceil((box[1] + box[3]) * sy));
  return [x0, y0, Math.max(1, x1 - x0), Math.max(1, y1 - y0)];
}
