// Index maintenance. Small catalogs are searched by brute force, which is exact and fast;
// indexes are built when they start to pay off. Called after ingest, never on the read path.

import { Index } from '@lancedb/lancedb';
import type { Table, VectorQuery } from '@lancedb/lancedb';
import { GroknetError } from '../errors.ts';
import type { CatalogContext } from './context.ts';
import { CATEGORY_COLUMN, COLUMNS, GARMENT_COLUMNS, headColumn } from './schema.ts';

/** Rows (images) above which an approximate vector index replaces brute force. */
export const VECTOR_INDEX_THRESHOLD = 10_000;
/** Rows above which id/hash look-ups get B-tree indexes. */
export const SCALAR_INDEX_THRESHOLD = 1_000;
export const TEXT_COLUMNS = [COLUMNS.title, COLUMNS.description] as const;

export interface OptimizeOptions {
  vectorIndexThreshold?: number;
  scalarIndexThreshold?: number;
}

async function indexedColumns(table: Table): Promise<Set<string>> {
  const indices = await table.listIndices();
  return new Set(indices.flatMap((index) => index.columns));
}

export async function hasTextIndex(ctx: CatalogContext): Promise<boolean> {
  const active = await ctx.current();
  if (!active) return false;
  const indices = await active.table.listIndices();
  return TEXT_COLUMNS.every((column) => indices.some((i) => i.indexType === 'FTS' && i.columns.includes(column)));
}

export type VectorIndexKind = 'ivf_pq' | 'ivf_hnsw_sq';
/** The kind the catalog builds; bench/vector-search.ts measures both (BENCHMARKS.md "vector search"). */
export const VECTOR_INDEX_KIND: VectorIndexKind = 'ivf_hnsw_sq';
/** Query knobs once an index exists (ignored by brute force): IVF partitions probed,
 * PQ re-rank factor (1: none; SQ distances are already precise enough) and HNSW beam width. */
export const NPROBES = 20;
export const REFINE_FACTOR = 1;
export const EF = 64;

/** Applies the query knobs above to a vector search (the catalog's search and nearest-product look-ups). */
export function withIndexKnobs(query: VectorQuery): VectorQuery {
  const tuned = query.nprobes(NPROBES).ef(EF);
  return REFINE_FACTOR > 1 ? tuned.refineFactor(REFINE_FACTOR) : tuned;
}

export function vectorIndexConfig(kind: VectorIndexKind, rows: number, dim: number): Index {
  if (kind === 'ivf_pq') {
    return Index.ivfPq({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(Math.sqrt(rows))), numSubVectors: pqSubVectors(dim) });
  }
  // Partitions left to LanceDB (it sizes them for HNSW); 8-bit scalar quantisation per dimension.
  return Index.hnswSq({ distanceType: 'cosine' });
}

export function vectorIndexLabel(kind: VectorIndexKind, rows: number, dim: number): string {
  return kind === 'ivf_pq'
    ? `IVF_PQ (cosine, ${Math.max(1, Math.round(Math.sqrt(rows)))} partitions, ${pqSubVectors(dim)} sub-vectors)`
    : 'IVF_HNSW_SQ (cosine, LanceDB-sized partitions, 8-bit scalar quantisation, HNSW m=20 ef_construction=300 defaults)';
}

/** PQ needs the dimension split into equal sub-vectors; aim for 8-16 dimensions each. */
export function pqSubVectors(dim: number): number {
  for (const width of [16, 8, 32, 4, 2, 1]) if (dim % width === 0) return dim / width;
  return 1;
}

export async function optimize(ctx: CatalogContext, options: OptimizeOptions = {}): Promise<void> {
  const threshold = options.vectorIndexThreshold ?? VECTOR_INDEX_THRESHOLD;
  await ctx.withWriteLock(async () => {
    const active = await ctx.current();
    if (!active) return;
    const { table, layout } = active;
    try {
      const indexed = await indexedColumns(table);
      const rows = await table.countRows();
      // The seller's category and attribute values are the listing's words too (hybrid text search).
      for (const column of [...TEXT_COLUMNS, COLUMNS.attributes, ...(layout.category ? [CATEGORY_COLUMN] : [])]) {
        // Stemming and stop words make "loveseats" match "loveseat" and ignore "the".
        if (!indexed.has(column)) await table.createIndex(column, { config: Index.fts({ stem: true, removeStopWords: true }) });
      }
      if (rows >= (options.scalarIndexThreshold ?? SCALAR_INDEX_THRESHOLD)) {
        for (const column of [COLUMNS.rowKey, COLUMNS.productId, COLUMNS.contentHash, COLUMNS.price]) {
          if (!indexed.has(column)) await table.createIndex(column, { config: Index.btree() });
        }
        // Filters on labels count and find their rows through these (src/search/filter-plan.ts);
        // bitmaps suit columns with few distinct values, as label vocabularies are.
        const categories = layout.category ? [CATEGORY_COLUMN] : [];
        for (const column of [COLUMNS.currency, ...categories, ...Object.keys(layout.heads).map(headColumn)]) {
          if (!indexed.has(column)) await table.createIndex(column, { config: Index.bitmap() });
        }
        // Garment filters are array_has_any over list columns, which a label-list index answers.
        if (layout.garments) {
          for (const column of [GARMENT_COLUMNS.labels, GARMENT_COLUMNS.colours]) {
            if (!indexed.has(column)) await table.createIndex(column, { config: Index.labelList() });
          }
        }
      }
      if (rows >= threshold && !indexed.has(COLUMNS.vector)) {
        await table.createIndex(COLUMNS.vector, { config: vectorIndexConfig(VECTOR_INDEX_KIND, rows, layout.embeddingDim) });
      }
      // Compacts the many small per-batch fragments and folds new rows into existing indexes.
      await table.optimize();
    } catch (error) {
      throw new GroknetError('store_error', 'optimizing the catalog failed', { cause: error });
    }
  });
}
