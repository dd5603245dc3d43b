// k-NN over a LanceDB table with an optional SQL filter, run the way ./filter-plan.ts picks
// for that filter. What it plans with is cached per table version by ./filter-cache.ts: the
// filter's row count, the set of row ids it keeps (post-filtering) and its rows' vectors
// (the in-memory scan), so a filter is evaluated once per catalog change rather than once
// per query.

import type { Table, VectorQuery } from '@lancedb/lancedb';
import { withIndexKnobs } from '../catalog/indexes.ts';
import { allowedRowIds, filterFacts, filterSubset, type FilterSubset } from './filter-cache.ts';
import { DEFAULT_FILTER_PLAN_TUNING, planFilteredSearch, type FilterPlan, type FilterPlanTuning } from './filter-plan.ts';
import { nearestQuantised } from './subset-scan.ts';

export { settleFilterCaches } from './filter-cache.ts';

export interface FilteredNearestQuery {
  vector: readonly number[] | Float32Array;
  /** The vector column. */
  column: string;
  /** A validated SQL predicate (./filters.ts buildWhere), or undefined for none. */
  where?: string;
  limit: number;
  /** Columns of each row; `_distance` among them for the cosine distance. */
  select: string[];
}

export interface FilteredNearestResult<R> {
  /** Nearest first. */
  rows: R[];
  /** How the query ran; `ann` when there was no filter. */
  plan: FilterPlan | { kind: 'ann' };
  /** Post-filtering kept fewer rows than wanted, so it prefiltered after all. */
  fallback: boolean;
}

type Candidate = { _rowid: bigint; _distance: number };

export async function filteredNearest<R>(
  table: Table,
  query: FilteredNearestQuery,
  tuning: FilterPlanTuning = DEFAULT_FILTER_PLAN_TUNING,
): Promise<FilteredNearestResult<R>> {
  const ann = (): VectorQuery => withIndexKnobs(table.vectorSearch(Array.from(query.vector)).column(query.column).distanceType('cosine'));
  const base = (): VectorQuery => ann().select(query.select);
  if (!query.where) {
    return { rows: (await base().limit(query.limit).toArray()) as R[], plan: { kind: 'ann' }, fallback: false };
  }
  const where = query.where;
  const facts = await filterFacts(table, where);
  const matching = facts.matchingRows;
  if (matching === 0) return { rows: [], plan: { kind: 'flat' }, fallback: false };
  const planInput = { totalRows: facts.totalRows, matchingRows: matching, limit: query.limit, indexed: facts.indexedColumns.has(query.column) };
  let plan = planFilteredSearch(planInput, tuning);
  const prefilter = async () => (await base().where(where).limit(query.limit).toArray()) as R[];
  const enough = (found: number) => found >= Math.min(query.limit, matching);

  if (plan.kind === 'subset') {
    const subset = filterSubset(table, facts.version, query.column, where, matching);
    if (subset) {
      const rows = await nearestInSubset<R>(table, subset, query);
      // A write landing meanwhile (a compaction renumbers rows) may have made the row ids lie.
      if (rows && (await table.version()) === facts.version) return { rows, plan, fallback: false };
      return { rows: await prefilter(), plan, fallback: true };
    }
    // Until the rows are in memory (read in the background), the plan without them.
    plan = planFilteredSearch(planInput, { ...tuning, subsetMaxRows: 0 });
  }
  if (plan.kind === 'prefilter') return { rows: await prefilter(), plan, fallback: false };
  if (plan.kind === 'flat') {
    const rows = (await base().bypassVectorIndex().where(where).limit(query.limit).toArray()) as R[];
    return { rows, plan, fallback: false };
  }
  if (plan.kind !== 'postfilter') throw new Error(`unexpected plan ${plan.kind}`);
  // The ANN beam must be at least as wide as the rows asked for, or the index returns fewer.
  const ef = Math.max(plan.fetch, query.limit);
  const allowed = plan.via === 'rowIds' ? allowedRowIds(table, facts.version, where) : undefined;
  if (!allowed) {
    // LanceDB post-filters (reading the filter's columns for every fetched row).
    const native = { ...plan, via: 'lancedb' as const };
    const fetched = (await base().ef(ef).where(where).postfilter().limit(plan.fetch).toArray()) as R[];
    if (enough(fetched.length)) return { rows: fetched.slice(0, query.limit), plan: native, fallback: false };
    return { rows: await prefilter(), plan: native, fallback: true };
  }
  const candidates = (await ann().ef(ef).limit(plan.fetch).withRowId().select(['_distance']).toArray()) as Candidate[];
  // A write (a compaction renumbers rows) landing between the row-id set and this search
  // would make the set lie about these rows: prefilter instead, this once.
  if ((await table.version()) !== facts.version) return { rows: await prefilter(), plan, fallback: true };
  const kept = candidates.filter((c) => allowed.has(Number(c._rowid))).slice(0, query.limit);
  if (!enough(kept.length)) return { rows: await prefilter(), plan, fallback: true };
  return { rows: await takeInOrder<R>(table, kept, query.select), plan, fallback: false };
}

/**
 * The nearest rows of an in-memory subset, picked and scored by ./subset-scan.ts: their
 * distances are 8-bit approximations, as the ANN index's own (IVF_HNSW_SQ) are. Reading each
 * row's float vector back to score it exactly would double the read (BENCHMARKS.md).
 * Undefined when a picked row is gone from the table (a write since the subset was read).
 */
async function nearestInSubset<R>(table: Table, subset: FilterSubset, query: FilteredNearestQuery): Promise<R[] | undefined> {
  const picked = nearestQuantised(subset.vectors, query.vector, query.limit);
  const kept: Candidate[] = picked.map((p) => ({ _rowid: BigInt(subset.rowIds[p.row]!), _distance: 1 - p.similarity }));
  const rows = await takeInOrder<R>(table, kept, query.select);
  return rows.length === kept.length ? rows : undefined;
}

/** The selected columns of the kept rows, in the candidates' order, each with its distance. */
async function takeInOrder<R>(table: Table, kept: readonly Candidate[], select: readonly string[]): Promise<R[]> {
  if (kept.length === 0) return [];
  const columns = select.filter((c) => c !== '_distance');
  const taken = (await table.takeRowIds(kept.map((c) => c._rowid)).select(columns).withRowId().toArray()) as Array<Record<string, unknown>>;
  const byId = new Map(taken.map((row) => [Number(row._rowid), row]));
  return kept.flatMap((c) => {
    const row = byId.get(Number(c._rowid));
    if (!row) return []; // deleted between the two reads
    // A plain object of the selected columns, as a vector search returns them.
    const plain: Record<string, unknown> = Object.fromEntries(columns.map((column) => [column, row[column]]));
    if (select.includes('_distance')) plain._distance = c._distance;
    return [plain as R];
  });
}
