// k-NN by embedding: cosine similarity over the catalog's image vectors (LanceDB; brute force
// until the catalog is big enough for its vector index), grouped per product and labelled
// `exact` when the similarity clears the analyzer's calibrated same-product threshold.

import { GroknetError } from '../errors.ts';
import type { CatalogStore } from '../catalog/types.ts';
import { COLUMNS } from '../catalog/schema.ts';
import { computeFacets } from './facets.ts';
import { buildWhere, validateFilters } from './filters.ts';
import { filteredNearest } from './filtered-nearest.ts';
import { checkLimit, explainFilters, groupByProduct, resultColumns, toResult, type Row } from './results.ts';
import type { Filters, SearchQuery, SearchResponse } from './types.ts';

/** Rows fetched per wanted product: a product with several close images takes several rows. */
const ROWS_PER_RESULT = 4;
/**
 * Where the model's exact-match threshold was not calibrated, a match is still `exact` from
 * this similarity: the same photo re-encoded or resized (a JPEG copy scores ~0.99).
 */
export const SAME_PHOTO_SIMILARITY = 0.97;

export interface VectorSearchOptions {
  limit?: number;
  filters?: Filters;
  /** Cosine similarity at or above which a result is `exact` (analyzer.exactMatchThreshold). */
  exactMatchThreshold: number;
  /**
   * Heads whose confident labels (stored, not abstained) place a product where the threshold
   * was calibrated; a product missing any of them is at most `similar`. Absent: no such limit.
   */
  exactMatchHeads?: readonly string[] | undefined;
  /**
   * The query photo's sure labels: with exactMatchHeads, exact also needs the photo to be sure
   * of each of those heads, with the product's label. Absent (a bare embedding): the
   * product's side alone decides.
   */
  exactMatchQuery?: Readonly<Record<string, string>> | undefined;
  /** Drop results less similar than this. */
  minScore?: number;
  /** Leave these products out (e.g. the query product itself). */
  excludeIds?: readonly string[];
}

export function emptyResponse(query: SearchQuery): SearchResponse {
  return { query, results: [], facets: {} };
}

export async function searchVector(
  catalog: CatalogStore,
  embedding: Float32Array,
  options: VectorSearchOptions,
  queryKind: SearchQuery['kind'] = 'vector',
): Promise<SearchResponse> {
  const limit = checkLimit(options.limit, 10);
  const info = await catalog.info();
  const filters = validateFilters(options.filters, info);
  const query: SearchQuery = { kind: queryKind, filters, terms: [], limit };
  if (embedding.length !== info.embeddingDim) {
    throw new GroknetError('invalid_argument', `query embedding has ${embedding.length} dimensions, catalog ${info.embeddingDim}`);
  }
  const table = await catalog.table();
  if (!table) return emptyResponse(query);

  const exclude = new Set(options.excludeIds ?? []);
  // A filtered search runs the way its filter's selectivity calls for (./filter-plan.ts).
  const { rows } = await filteredNearest<Row>(table, {
    vector: embedding,
    column: COLUMNS.vector,
    where: buildWhere(filters, info),
    limit: Math.min((limit + exclude.size) * ROWS_PER_RESULT, 10_000),
    select: resultColumns(info, ['_distance']),
  });

  // Cosine distance is 1 - similarity.
  const similarity = (row: Row) => 1 - Number(row._distance);
  const candidates = groupByProduct(rows, info, similarity)
    .filter((c) => !exclude.has(c.id) && c.raw >= (options.minScore ?? -1))
    .sort((a, b) => b.raw - a.raw)
    .slice(0, limit);

  const heads = options.exactMatchHeads;
  const results = candidates.map((candidate) => {
    const above = candidate.raw >= options.exactMatchThreshold;
    const query = options.exactMatchQuery;
    const calibrated =
      heads === undefined ||
      heads.every((head) => candidate.labels[head] !== undefined && (query === undefined || query[head] === candidate.labels[head]!.label));
    // Outside the calibrated verticals only the same photo (re-encoded, resized) is claimed.
    const samePhoto = !calibrated && candidate.raw >= SAME_PHOTO_SIMILARITY;
    const exact = (above && calibrated) || samePhoto;
    const index = Number(candidate.row[COLUMNS.imageIndex]);
    const why = [
      samePhoto
        ? `image similarity ${candidate.raw.toFixed(3)} (exact: the same photo, re-encoded or resized; >= ${SAME_PHOTO_SIMILARITY})`
        : exact
        ? `image similarity ${candidate.raw.toFixed(3)} (exact match: >= ${options.exactMatchThreshold}${heads ? `, calibrated where ${heads.join(' and ')} ${heads.length === 1 ? 'is' : 'are'} sure` : ''})`
        : above
          ? `image similarity ${candidate.raw.toFixed(3)} (similar: the model is not sure this photo and this product share a ${heads!.join(' and ')} label, outside which its exact-match threshold was not calibrated)`
          : `image similarity ${candidate.raw.toFixed(3)} (similar; exact needs >= ${options.exactMatchThreshold})`,
      ...(index > 0 ? [`matched the listing's image #${index + 1}`] : []),
      ...explainFilters(candidate, filters, info),
    ];
    return toResult(candidate, candidate.raw, exact ? 'exact' : 'similar', why);
  });
  return { query, results, facets: computeFacets(candidates) };
}
