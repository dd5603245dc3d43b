// insertProducts: products and all their images in one LanceDB commit.

import { GroknetError, isGroknetError } from '../errors.ts';
import type { Table } from '@lancedb/lancedb';
import type { CatalogContext } from './context.ts';
import { productToRows, type Row } from './rows.ts';
import { COLUMNS, layoutFromAnalyses, type TableLayout } from './schema.ts';
import { sqlIn } from './sql.ts';
import type { ProductInput } from './types.ts';

export async function insertProducts(ctx: CatalogContext, products: readonly ProductInput[]): Promise<{ written: number }> {
  if (products.length === 0) return { written: 0 };
  // The same id twice in one batch: the later listing wins, as it would in two batches.
  const latest = new Map<string, ProductInput>();
  for (const product of products) latest.set(product.id, product);
  const unique = [...latest.values()];

  return ctx.withWriteLock(async () => {
    const analyses = unique.flatMap((p) => p.images.map((image) => image.analysis));
    const active =
      (await ctx.current()) ?? (await ctx.createActive(layoutFromAnalyses(analyses, ctx.manifest.embeddingDim)));
    await mergeProducts(active.table, active.layout, unique);
    return { written: unique.length };
  });
}

/**
 * Writes products into `table` as one commit. Exported for reindex, which fills a table
 * readers cannot see yet.
 */
export async function mergeProducts(table: Table, layout: TableLayout, products: readonly ProductInput[]): Promise<void> {
  if (products.length === 0) return;
  const now = Date.now();
  const rows: Row[] = products.flatMap((product) => productToRows(product, layout, now));
  const ids = [...new Set(products.map((p) => p.id))];
  // One merge = one commit: it inserts new image rows, updates rows whose key exists and
  // deletes the leftover images of these products (a product that lost images), atomically.
  // Keyed on row_key, a retried batch (queue retry, resumed ingest) rewrites instead of duplicating.
  try {
    await table
      .mergeInsert(COLUMNS.rowKey)
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .whenNotMatchedBySourceDelete({ where: `${COLUMNS.productId} IN ${sqlIn(ids)}` })
      .execute(rows);
  } catch (error) {
    if (isGroknetError(error)) throw error;
    throw new GroknetError('store_error', 'writing products failed', { cause: error });
  }
}
