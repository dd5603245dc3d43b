// How to run one filtered k-NN query, chosen per query from how many rows the filter keeps
// (BENCHMARKS.md "Vector search at scale" measured each way at 1M rows on 2 cores):
// - subset: the matching rows' vectors held in memory, quantised (./subset-scan.ts: a Hamming
//   pass on sign bits, then 8-bit scores; read once per filter and table version by
//   ./filter-cache.ts): ~1-2 ms up to 100,000 rows. Until the rows are in memory, the plans below.
// - flat: an exact scan of the matching rows only (the scalar index finds them). LanceDB
//   reads each matching vector (~8 us a row there), so it wins only for selective filters,
//   where the ANN index struggles (most graph neighbours fail the filter).
// - postfilter: the `fetch` nearest rows by the ANN index, then the filter. Cheap while the
//   filter keeps a good share of rows, since `fetch` then needs to be only a few times k.
//   Up to `allowSetMaxRows` matching rows the filter is applied from a cached set of their
//   row ids (`rowIds`: the ANN step then reads no column but the distance, the costly part
//   of LanceDB's own post-filter at 1M rows); above, LanceDB post-filters (`lancedb`).
// - prefilter: LanceDB's ANN search restricted to matching rows. Exact about the filter but
//   with a high fixed cost on a big index (~11 ms at 1M rows); the fallback for the band
//   in between.
// Without a vector index every search is a brute-force scan, so prefiltering is exact and cheap.

export type FilterPlan =
  | { kind: 'subset' }
  | { kind: 'prefilter' }
  | { kind: 'flat' }
  | { kind: 'postfilter'; fetch: number; via: 'rowIds' | 'lancedb' };

export interface FilterPlanInput {
  /** Rows in the table. */
  totalRows: number;
  /** Rows the filter keeps. */
  matchingRows: number;
  /** Rows wanted. */
  limit: number;
  /** Whether the vector column has an ANN index (otherwise searches scan). */
  indexed: boolean;
}

/** Up to this many matching rows an exact scan of them beats prefiltering (measured). */
export const FLAT_SCAN_MAX_ROWS = 1_000;
/**
 * Fetch this many times the rows wanted over the filter's share: the nearest rows that pass
 * are then among them with recall near the index's own (at 1M rows and 5% kept, 300 rows
 * for k=10 gave recall 0.976, 400 gave 0.981), and too few pass (a prefilter follows) in
 * under 1% of queries (at 2x: 1.5%).
 */
export const POSTFILTER_MARGIN = 3;
/** Beyond this many ANN rows post-filtering loses recall (the index is approximate that deep: 1,500 rows at a 1.3% filter kept 0.94) and time (~10 ms at 2,000). */
export const POSTFILTER_MAX_FETCH = 1_000;
/** Filters keeping more rows than this post-filter in LanceDB rather than from a cached row-id set (its memory). */
export const ALLOW_SET_MAX_ROWS = 250_000;

/** Up to this many matching rows a filter's vectors are kept in memory and searched there (~300 bytes a row at 256-d). */
export const SUBSET_MAX_ROWS = 100_000;

/** The thresholds above; tests and benchmarks pass others to exercise each plan on small tables. */
export interface FilterPlanTuning {
  flatScanMaxRows: number;
  postfilterMargin: number;
  postfilterMaxFetch: number;
  allowSetMaxRows: number;
  /** 0 turns the in-memory subsets off (the plan while a filter's rows are not in memory yet). */
  subsetMaxRows: number;
}

export const DEFAULT_FILTER_PLAN_TUNING: FilterPlanTuning = {
  flatScanMaxRows: FLAT_SCAN_MAX_ROWS,
  postfilterMargin: POSTFILTER_MARGIN,
  postfilterMaxFetch: POSTFILTER_MAX_FETCH,
  allowSetMaxRows: ALLOW_SET_MAX_ROWS,
  subsetMaxRows: SUBSET_MAX_ROWS,
};

export function planFilteredSearch(input: FilterPlanInput, tuning: FilterPlanTuning = DEFAULT_FILTER_PLAN_TUNING): FilterPlan {
  const { totalRows, matchingRows, limit, indexed } = input;
  if (!indexed) return { kind: 'prefilter' };
  if (matchingRows <= tuning.subsetMaxRows) return { kind: 'subset' };
  if (matchingRows <= tuning.flatScanMaxRows) return { kind: 'flat' };
  const share = matchingRows / Math.max(totalRows, 1);
  const fetch = Math.max(limit, Math.ceil((limit * tuning.postfilterMargin) / share));
  if (fetch <= tuning.postfilterMaxFetch) return { kind: 'postfilter', fetch, via: matchingRows <= tuning.allowSetMaxRows ? 'rowIds' : 'lancedb' };
  return { kind: 'prefilter' };
}
