// Search by binary code: Hamming distance over the 1-bit codes (cheap: 32 bytes per image
// for 256 bits) picks candidates, optionally re-ranked by exact cosine on the float vectors.

import { GroknetError } from '../errors.ts';
import type { CatalogStore } from '../catalog/types.ts';
import { COLUMNS } from '../catalog/schema.ts';
import { hexToBytes, toFloat32 } from '../catalog/rows.ts';
import { computeFacets } from './facets.ts';
import { buildWhere, validateFilters } from './filters.ts';
import { checkLimit, explainFilters, groupByProduct, resultColumns, toResult, type Row } from './results.ts';
import { emptyResponse } from './search-vector.ts';
import type { Filters, SearchQuery, SearchResponse } from './types.ts';

// LanceDB computes Hamming distance on uint8 vectors; its typings only list the float metrics.
const HAMMING = 'hamming' as unknown as 'l2';

export interface BinarySearchOptions {
  limit?: number;
  filters?: Filters;
  /** Rows kept by the Hamming pre-filter (default 10 x limit). */
  candidates?: number;
  /** Re-rank candidates by cosine similarity; needs `embedding`. */
  rerank?: boolean;
  embedding?: Float32Array;
  exactMatchThreshold: number;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na * nb) || 1);
}

export async function searchBinary(catalog: CatalogStore, code: string, options: BinarySearchOptions): Promise<SearchResponse> {
  const limit = checkLimit(options.limit, 10);
  const info = await catalog.info();
  const filters = validateFilters(options.filters, info);
  const query: SearchQuery = { kind: 'binary', filters, terms: [], limit };
  const table = await catalog.table();
  if (!table || info.codeBits === undefined) return emptyResponse(query);

  if (!/^[0-9a-f]*$/i.test(code) || code.length * 4 !== info.codeBits) {
    throw new GroknetError('invalid_argument', `code must be ${info.codeBits / 4} hex characters`);
  }
  if (options.rerank && options.embedding?.length !== info.embeddingDim) {
    throw new GroknetError('invalid_argument', `re-ranking needs the query embedding (${info.embeddingDim} dimensions)`);
  }
  const candidates = checkLimit(options.candidates, Math.min(limit * 10, 1000));

  let search = table
    .vectorSearch(Uint8Array.from(hexToBytes(code)))
    .column(COLUMNS.codeBits)
    .distanceType(HAMMING)
    .select(resultColumns(info, options.rerank ? [COLUMNS.vector, '_distance'] : ['_distance']))
    .limit(Math.max(candidates, limit));
  const where = buildWhere(filters, info);
  if (where) search = search.where(where);
  const rows: Row[] = await search.toArray();

  const bits = info.codeBits;
  const queryEmbedding = options.embedding;
  const score = options.rerank && queryEmbedding
    ? (row: Row) => cosine(queryEmbedding, toFloat32(row[COLUMNS.vector]))
    : (row: Row) => 1 - Number(row._distance) / bits;
  const grouped = groupByProduct(rows, info, score)
    .sort((a, b) => b.raw - a.raw)
    .slice(0, limit);

  const results = grouped.map((candidate) => {
    const distance = Number(candidate.row._distance);
    const why = [`hamming distance ${distance}/${bits}`];
    let exact: boolean;
    if (options.rerank) {
      exact = candidate.raw >= options.exactMatchThreshold;
      why.push(`re-ranked by image similarity ${candidate.raw.toFixed(3)}`);
    } else {
      // Without the float vectors only an identical code is evidence of the same image.
      exact = distance === 0;
    }
    why.push(...explainFilters(candidate, filters, info));
    return toResult(candidate, candidate.raw, exact ? 'exact' : 'similar', why);
  });
  return { query, results, facets: computeFacets(grouped) };
}
