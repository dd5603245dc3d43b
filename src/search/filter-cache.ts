// What the filtered k-NN plans read, cached per table version (LanceDB bumps the version on
// every write, compaction included, which also renumbers row ids, so a new version starts
// empty): how many rows a filter keeps, the set of their row ids (post-filtering), and their
// vectors, quantised (the in-memory scan of ./subset-scan.ts). Sets and vectors are read in
// the background, one read at a time per table, after a filter's first query: reading 50,000
// scattered rows takes far longer than the query they would serve.

import type { Table } from '@lancedb/lancedb';
import { QuantisedRowsBuilder, quantisedBytes, type QuantisedRows } from './subset-scan.ts';

/** A filter's rows held in memory: their row ids and quantised vectors, in the same order. */
export interface FilterSubset {
  rowIds: Float64Array;
  vectors: QuantisedRows;
}

interface TableStats {
  version: number;
  totalRows: number;
  indexedColumns: Set<string>;
  matching: Map<string, number>;
  /** Row ids kept by a filter (numbers: LanceDB's ids are fragment << 32 | offset, far below 2^53). */
  allowed: Map<string, Set<number>>;
  allowedRows: number;
  /** Filter subsets by column and filter. */
  subsets: Map<string, FilterSubset>;
  subsetBytes: number;
  /** Reads in flight, by cache key, and the last one queued. */
  building: Map<string, Promise<void>>;
  lastBuild: Promise<void>;
}

/** Distinct filters whose counts are remembered per table version (filters are user input: bounded). */
const MAX_CACHED_COUNTS = 1_000;
/** Row ids held across all cached filters (~8 bytes each in a Set; 4M: a few tens of MB). */
const MAX_CACHED_ROW_IDS = 4_000_000;
/** Memory for filter subsets, all filters together: ~300 bytes a 256-d row, so ~1.8M rows (20 filters on 5% of 1M rows each). */
export const MAX_CACHED_SUBSET_BYTES = 512 * 1024 * 1024;
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
    subsets: new Map(),
    subsetBytes: 0,
    building: new Map(),
    lastBuild: Promise.resolve(),
  };
  statsByTable.set(table, stats);
  return stats;
}

export interface FilterFacts {
  /** The table version these facts (and the caches read for them) belong to. */
  version: number;
  totalRows: number;
  indexedColumns: ReadonlySet<string>;
  /** Rows the filter keeps (counted once per table version). */
  matchingRows: number;
}

/** The table's version, size and indexed columns, and the filter's row count, as of this call. */
export async function filterFacts(table: Table, where: string): Promise<FilterFacts> {
  const stats = await tableStats(table);
  let matching = stats.matching.get(where);
  if (matching === undefined) {
    matching = await table.countRows(where);
    if (stats.matching.size >= MAX_CACHED_COUNTS) stats.matching.delete(stats.matching.keys().next().value!);
    stats.matching.set(where, matching);
  }
  return { version: stats.version, totalRows: stats.totalRows, indexedColumns: stats.indexedColumns, matchingRows: matching };
}

/** Queues `read` behind the table's other reads (one at a time: a burst of new filters must not take every core from the queries). */
function inBackground(table: Table, stats: TableStats, key: string, read: () => Promise<void>): void {
  if (stats.building.has(key)) return;
  const build = stats.lastBuild
    .then(() => (statsByTable.get(table) === stats ? read() : undefined))
    // A failed read only means the next queries take the slower plan; they queue it again.
    .catch(() => undefined)
    .finally(() => stats.building.delete(key));
  stats.building.set(key, build);
  stats.lastBuild = build;
}

/** The filter's row-id set when cached for `version`; otherwise undefined, and the set is read in the background. */
export function allowedRowIds(table: Table, version: number, where: string): Set<number> | undefined {
  const stats = statsByTable.get(table);
  if (!stats || stats.version !== version) return undefined;
  const cached = stats.allowed.get(where);
  if (cached) return cached;
  inBackground(table, stats, `ids\n${where}`, async () => {
    const ids = new Set<number>();
    for await (const batch of table.query().where(where).withRowId().select([])) {
      const column = batch.getChild('_rowid');
      if (column) for (const id of column) ids.add(Number(id));
    }
    if (statsByTable.get(table) === stats) rememberRowIds(stats, where, ids);
  });
  return undefined;
}

function rememberRowIds(stats: TableStats, where: string, ids: Set<number>): void {
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

/**
 * The filter's rows of vector `column` in memory when cached for `version`; otherwise
 * undefined, and they are read in the background (rows without a vector are left out).
 */
export function filterSubset(table: Table, version: number, column: string, where: string, expectedRows: number): FilterSubset | undefined {
  const stats = statsByTable.get(table);
  if (!stats || stats.version !== version) return undefined;
  const key = `${column}\n${where}`;
  const cached = stats.subsets.get(key);
  if (cached) {
    // Least recently used leaves first: a hit moves to the back.
    stats.subsets.delete(key);
    stats.subsets.set(key, cached);
    return cached;
  }
  inBackground(table, stats, `vectors\n${key}`, async () => {
    const rowIds: number[] = [];
    let builder: QuantisedRowsBuilder | undefined;
    for await (const batch of table.query().where(where).withRowId().select([column])) {
      const ids = batch.getChild('_rowid');
      const vectors = batch.getChild(column);
      if (!ids || !vectors) continue;
      for (let i = 0; i < batch.numRows; i++) {
        const vector = vectors.get(i) as { toArray(): ArrayLike<number>; length: number } | null;
        if (!vector) continue;
        builder ??= new QuantisedRowsBuilder(vector.length, expectedRows);
        builder.add(vector.toArray());
        rowIds.push(Number(ids.get(i)));
      }
    }
    if (!builder || statsByTable.get(table) !== stats) return;
    rememberSubset(stats, key, { rowIds: Float64Array.from(rowIds), vectors: builder.build() });
  });
  return undefined;
}

const subsetBytes = (subset: FilterSubset) => subset.rowIds.byteLength + quantisedBytes(subset.vectors);

function rememberSubset(stats: TableStats, key: string, subset: FilterSubset): void {
  const bytes = subsetBytes(subset);
  if (bytes > MAX_CACHED_SUBSET_BYTES) return;
  for (const [oldKey, old] of stats.subsets) {
    if (stats.subsetBytes + bytes <= MAX_CACHED_SUBSET_BYTES) break;
    stats.subsets.delete(oldKey);
    stats.subsetBytes -= subsetBytes(old);
  }
  stats.subsets.set(key, subset);
  stats.subsetBytes += bytes;
}

/** Waits for the reads queued for `table` (tests and benchmarks, to measure the warm path). */
export async function settleFilterCaches(table: Table): Promise<void> {
  const stats = statsByTable.get(table);
  if (stats) await Promise.all(stats.building.values());
}
