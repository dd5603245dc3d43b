// k-NN by embedding: cosine similarity over the catalog's image vectors (LanceDB; brute force
// until the catalog is big enough for its vector index), grouped per product and labelled
// `exact` when the similarity clears the analyzer's calibrated same-product threshold.

import { GroknetError } from '../errors.ts';
import { exactVerdict, SAME_PHOTO_SIMILARITY } from './exact-match.ts';

export { SAME_PHOTO_SIMILARITY };
import type { CatalogStore } from '../catalog/types.ts';
import { COLUMNS } from '../catalog/schema.ts';
import { VERTICAL_HEAD } from '../model/heads/vertical-head.ts';
import { computeFacets, otherVerticalHeads } from './facets.ts';
import { buildWhere, validateFilters } from './filters.ts';
import { filteredNearest } from './filtered-nearest.ts';
import { checkLimit, explainFilters, groupByProduct, resultColumns, toResult, type Row } from './results.ts';
import type { Filters, SearchQuery, SearchResponse } from './types.ts';

/** Rows fetched per wanted product: a product with several close images takes several rows. */
const ROWS_PER_RESULT = 4;

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
  /** Head -> the kind of product it describes (analyzer.headVerticals): with the query's sure `vertical`, other verticals' heads get no facets. */
  headVerticals?: Readonly<Record<string, string>> | undefined;
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
  const calibratedOn = heads ? calibrationWords(heads, options.headVerticals) : undefined;
  const results = candidates.map((candidate) => {
    const labels = Object.fromEntries(Object.entries(candidate.labels).map(([head, { label }]) => [head, label]));
    const verdict = exactVerdict(candidate.raw, labels, { threshold: options.exactMatchThreshold, heads, queryLabels: options.exactMatchQuery });
    // Outside the calibrated verticals only the same photo (re-encoded, resized) is claimed.
    const samePhoto = verdict === 'same-photo';
    const exact = verdict === 'exact' || samePhoto;
    // Where the threshold does not hold, no similarity short of the same photo makes it exact: say so, not "needs >= t".
    const uncalibrated = verdict === 'uncalibrated' || (verdict === 'below' && exactVerdict(1, labels, { threshold: options.exactMatchThreshold, heads, queryLabels: options.exactMatchQuery }) !== 'exact');
    const index = Number(candidate.row[COLUMNS.imageIndex]);
    const why = [
      samePhoto
        ? `image similarity ${candidate.raw.toFixed(3)} (exact: the same photo, re-encoded or resized; >= ${SAME_PHOTO_SIMILARITY})`
        : exact
        ? `image similarity ${candidate.raw.toFixed(3)} (exact match: >= ${options.exactMatchThreshold}${heads ? `, calibrated on ${calibratedOn!.where}` : ''})`
        : uncalibrated
          ? `image similarity ${candidate.raw.toFixed(3)} (similar; exact is only claimed for ${calibratedOn!.where}, where its threshold was calibrated, or for the same photo)`
          : `image similarity ${candidate.raw.toFixed(3)} (similar; exact needs >= ${options.exactMatchThreshold})`,
      ...(index > 0 ? [`matched the listing's image #${index + 1}`] : []),
      ...explainFilters(candidate, filters, info),
    ];
    return toResult(candidate, candidate.raw, exact ? 'exact' : 'similar', why);
  });
  const hidden = otherVerticalHeads(options.headVerticals, options.exactMatchQuery?.[VERTICAL_HEAD]);
  return { query, results, facets: computeFacets(candidates, hidden) };
}

/**
 * Where the exact-match threshold holds, in words: "grocery products" when its heads all
 * describe one vertical (model.json), else the heads' names (a model without verticals).
 */
function calibrationWords(heads: readonly string[], headVerticals: Readonly<Record<string, string>> | undefined): { where: string } {
  const verticals = new Set(heads.map((head) => headVerticals?.[head]));
  const [vertical] = verticals;
  if (verticals.size === 1 && vertical !== undefined) return { where: `${vertical} products` };
  return { where: `photos sure of ${heads.join(' and ')}, with the same label` };
}
