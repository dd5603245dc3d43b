// Index maintenance. Small catalogs are searched by brute force, which is exact and fast;
// indexes are built when they start to pay off. Called after ingest, never on the read path.

import { Index } from '@lancedb/lancedb';
import type { Table } from '@lancedb/lancedb';
import { GroknetError } from '../errors.ts';
import type { CatalogContext } from './context.ts';
import { COLUMNS } from './schema.ts';

/** Rows (images) above which an approximate IVF_PQ vector index replaces brute force. */
export const VECTOR_INDEX_THRESHOLD = 10_000;
/** Rows above which id/hash look-ups get B-tree indexes. */
export const SCALAR_INDEX_THRESHOLD = 1_000;
export const TEXT_COLUMNS = [COLUMNS.title, COLUMNS.description] as const;

export interface OptimizeOptions {
  vectorIndexThreshold?: number;
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
      for (const column of TEXT_COLUMNS) {
        // Stemming and stop words make "loveseats" match "loveseat" and ignore "the".
        if (!indexed.has(column)) await table.createIndex(column, { config: Index.fts({ stem: true, removeStopWords: true }) });
      }
      if (rows >= SCALAR_INDEX_THRESHOLD) {
        for (const column of [COLUMNS.rowKey, COLUMNS.productId, COLUMNS.contentHash]) {
          if (!indexed.has(column)) await table.createIndex(column, { config: Index.btree() });
        }
      }
      if (rows >= threshold && !indexed.has(COLUMNS.vector)) {
        await table.createIndex(COLUMNS.vector, {
          config: Index.ivfPq({
            distanceType: 'cosine',
            numPartitions: Math.max(1, Math.round(Math.sqrt(rows))),
            numSubVectors: pqSubVectors(layout.embeddingDim),
          }),
        });
      }
      // Compacts the many small per-batch fragments and folds new rows into existing indexes.
      await table.optimize();
    } catch (error) {
      throw new GroknetError('store_error', 'optimizing the catalog failed', { cause: error });
    }
  });
}
