// Shop the look over a catalog, the one path POST /v1/shop-the-look and `groknet
// shop-the-look` share: the catalog's colour field checked first (with matchColour), then
// the photo's garments found, then each garment's box cut from the photo, embedded and
// searched for in the catalog (./shop-the-look.ts: findGarments + searchGarments), and
// the answer as the API's JSON.
//
// What differs between the two is handed in: the server segments through its bounded
// segmentation, embeds through its batching inference queue and searches through its
// search service; the command line calls the segmenter, the analyzer and the catalog
// directly.
import type { CatalogStore } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import { cropToRegion } from '../image/crop.ts';
import type { ImageLimits } from '../image/limits.ts';
import { filterFields, GARMENT_COLOUR_FIELD } from '../search/filters.ts';
import type { Filters, SearchResult } from '../search/types.ts';
import { DEFAULT_LOOK_K, DEFAULT_MAX_GARMENTS, garmentJson, searchGarments, type PhotoGarments, type SearchRegion, type ShopTheLook } from './shop-the-look.ts';

export interface LookSources {
  /** The photo's garments, largest first: findGarments over a segmenter, or a server's bounded segmentation. */
  garments(photo: Buffer, options: { maxGarments: number }): Promise<PhotoGarments>;
  /** The embedding of an image (a garment's crop): the analyzer's, or a server's inference queue's. */
  embed(image: Buffer): Promise<Float32Array>;
  /** The catalog products nearest an embedding, best first (vector search, as POST /v1/search with an image). */
  search(embedding: Float32Array, filters: Filters, limit: number): Promise<SearchResult[]>;
  /**
   * The filter field of the catalog's colour attribute (catalogColourField), asked only with
   * matchColour and before the photo is segmented; undefined: nothing to filter by (an empty catalog).
   */
  colourField(): Promise<string | undefined>;
  limits: ImageLimits;
}

export interface CatalogLookOptions {
  /** Results per garment (default 8, at most 50). */
  k?: number;
  /** At most this many garments, largest first (default 6, at most 10). */
  maxGarments?: number;
  /** Only products whose colour attribute is the garment's colour (default false). */
  matchColour?: boolean;
}

export interface CatalogLook extends ShopTheLook {
  matchColour: boolean;
}

/** Each garment of the photo, largest first, with the catalog products like it. */
export async function shopTheLookInCatalog(photo: Buffer, sources: LookSources, options: CatalogLookOptions = {}): Promise<CatalogLook> {
  const matchColour = options.matchColour ?? false;
  // Checked before the photo is segmented: a catalog that cannot match colours fails at once.
  const colourField = matchColour ? await sources.colourField() : undefined;
  const found = await sources.garments(photo, { maxGarments: options.maxGarments ?? DEFAULT_MAX_GARMENTS });
  const searchRegion: SearchRegion = async (bytes, region, filters, limit) => {
    const embedding = await sources.embed(await cropToRegion(bytes, region, sources.limits));
    return sources.search(embedding, filters, limit);
  };
  const look = await searchGarments(photo, found, { searchRegion, k: options.k ?? DEFAULT_LOOK_K, ...(colourField ? { colourField } : {}) });
  return { ...look, matchColour };
}

/**
 * The filter field holding the catalog's colour attribute, for matchColour: its garment
 * colours when it stores them (`index --garments`), else its `colour`. Undefined for a
 * catalog with nothing in it yet (no field to filter, no results either); a catalog whose
 * model has no colour attribute cannot match colours: invalid_argument, its message led by
 * `option` (what the caller calls the colour matching, e.g. 'matchColour').
 */
export async function catalogColourField(catalog: CatalogStore, option: string): Promise<string | undefined> {
  const info = await catalog.info();
  if (info.modelVersion === undefined) return undefined;
  // The colours of each catalog photo's own garments, when it has them (./shop-the-look.ts).
  if (info.garments && (await catalog.garmentVocabulary()).colours.length > 0) return GARMENT_COLOUR_FIELD;
  const fields = filterFields(info);
  const field = ['colour', 'color'].find((name) => fields.get(name)?.type === 'string');
  if (!field) throw new GroknetError('invalid_argument', `${option}: this catalog has no colour attribute to filter by`);
  return field;
}

/** The look as the API returns it (POST /v1/shop-the-look); `hit` turns each search result into its JSON. */
export function lookJson<H>(look: CatalogLook, hit: (result: SearchResult) => H) {
  return {
    width: look.width,
    height: look.height,
    matchColour: look.matchColour,
    garments: look.garments.map((garment) => ({
      ...garmentJson(garment),
      filters: garment.filters,
      results: garment.results.map(hit),
    })),
  };
}
