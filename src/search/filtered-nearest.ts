// k-NN over a LanceDB table with an optional SQL filter, run the way ./filter-plan.ts picks
// for that filter. What it plans with is cached per table version (LanceDB bumps it on every
// write, compaction included, which also renumbers row ids): the filter's row count, and for
// post-filtering the set of row ids the filter keeps, so a filter is evaluated once per
// catalog change rather than once per query.

import type { Table, VectorQuery } from '@lancedb/lancedb';
import { withIndexKnobs } from '../catalog/indexes.ts';
import { DEFAULT_FILTER_PLAN_TUNING, planFilteredSearch, type FilterPlan, type FilterPlanTuning } from './filter-plan.ts';

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

interface TableStats {
  version: number;
  totalRows: number;
  indexedColumns: Set<string>;
  matching: Map<string, number>;
  /** Row ids kept by a filter (numbers: LanceDB's ids are fragment << 32 | offset, far below 2^53). */
  allowed: Map<string, Set<number>>;
  allowedRows: number;
  /** Row-id sets being read, by filter, and the last one queued. */
  building: Map<string, Promise<void>>;
  lastBuild: Promise<void>;
}

/** Distinct filters whose counts are remembered per table version (filters are user input: bounded). */
const MAX_CACHED_COUNTS = 1_000;
/** Row ids held across all cached filters (~8 bytes each in a Set; 4M: a few tens of MB). */
const MAX_CACHED_ROW_IDS = 4_000_000;
const statsByTable = new WeakMap<Table, TableStats>();

async function tableStats(table: Table): Promise<TableStats> {
  const version = await table.version();
  const known = statsByTable.get(table);
  if (known?.version === version) return known;
  const [totalRows, indices] = await Promise.all([table.countRows(), table.listIndices()]);
  const stats: TableStats = {
    version,
    totalRows,
    indexedColumns: new Set(indices.flatMap((i) => i.columns)),
    matching: new Map(),
    allowed: new Map(),
    allowedRows: 0,
    building: new Map(),
    lastBuild: Promise.resolve(),
  };
  statsByTable.set(table, stats);
  return stats;
}

async function matchingRows(table: Table, stats: TableStats, where: string): Promise<number> {
  const cached = stats.matching.get(where);
  if (cached !== undefined) return cached;
  const count = await table.countRows(where);
  if (stats.matching.size >= MAX_CACHED_COUNTS) stats.matching.delete(stats.matching.keys().next().value!);
  stats.matching.set(where, count);
  return count;
}

/**
 * The filter's row-id set when cached; otherwise undefined, and the set is built in the
 * background (once per filter and version) for the queries that follow: reading the ids of
 * 50,000 rows takes ~50 ms at 1M rows, more than the query it would serve.
 */
function allowedRowIds(table: Table, stats: TableStats, where: string): Set<number> | undefined {
  const cached = stats.allowed.get(where);
  if (cached) return cached;
  if (!stats.building.has(where)) {
    // One read at a time per table: a burst of new filters must not take every core from the queries.
    const build = stats.lastBuild
      .then(() => readRowIds(table, where))
      .then((ids) => {
        if (statsByTable.get(table) === stats) remember(stats, where, ids);
      })
      // A failed build only means the next queries post-filter in LanceDB; they try again.
      .catch(() => undefined)
      .finally(() => stats.building.delete(where));
    stats.building.set(where, build);
    stats.lastBuild = build;
  }
  return undefined;
}

async function readRowIds(table: Table, where: string): Promise<Set<number>> {
  const ids = new Set<number>();
  for await (const batch of table.query().where(where).withRowId().select([])) {
    const column = batch.getChild('_rowid');
    if (column) for (const id of column) ids.add(Number(id));
  }
  return ids;
}

function remember(stats: TableStats, where: string, ids: Set<number>): void {
  if (ids.size > MAX_CACHED_ROW_IDS) return;
  // Oldest filters make room first.
  for (const [key, set] of stats.allowed) {
    if (stats.allowedRows + ids.size <= MAX_CACHED_ROW_IDS) break;
    stats.allowed.delete(key);
    stats.allowedRows -= set.size;
  }
  stats.allowed.set(where, ids);
  stats.allowedRows += ids.size;
}

/** Waits for the row-id sets being built for `table` (tests and benchmarks, to measure the warm path). */
export async function settleFilterCaches(table: Table): Promise<void> {
  const stats = statsByTable.get(table);
  if (stats) await Promise.all(stats.building.values());
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
  const stats = await tableStats(table);
  const matching = await matchingRows(table, stats, where);
  if (matching === 0) return { rows: [], plan: { kind: 'flat' }, fallback: false };
  const plan = planFilteredSearch(
    { totalRows: stats.totalRows, matchingRows: matching, limit: query.limit, indexed: stats.indexedColumns.has(query.column) },
    tuning,
  );
  const prefilter = async () => (await base().where(where).limit(query.limit).toArray()) as R[];
  const enough = (found: number) => found >= Math.min(query.limit, matching);

  if (plan.kind === 'prefilter') return { rows: await prefilter(), plan, fallback: false };
  if (plan.kind === 'flat') {
    const rows = (await base().bypassVectorIndex().where(where).limit(query.limit).toArray()) as R[];
    return { rows, plan, fallback: false };
  }
  // The ANN beam must be at least as wide as the rows asked for, or the index returns fewer.
  const ef = Math.max(plan.fetch, query.limit);
  const allowed = plan.via === 'rowIds' ? allowedRowIds(table, stats, where) : undefined;
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
  if ((await table.version()) !== stats.version) return { rows: await prefilter(), plan, fallback: true };
  const kept = candidates.filter((c) => allowed.has(Number(c._rowid))).slice(0, query.limit);
  if (!enough(kept.length)) return { rows: await prefilter(), plan, fallback: true };
  return { rows: await takeInOrder<R>(table, kept, query.select), plan, fallback: false };
}

/** The selected columns of the kept rows, in the candidates' order, each with its distance. */
async function takeInOrder<R>(table: Table, kept: readonly Candidate[], select: readonly string[]): Promise<R[]> {
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
