// insertProducts: products and all their images in one LanceDB commit.

import { GroknetError, isGroknetError } from '../errors.ts';
import type { Table } from '@lancedb/lancedb';
import type { CatalogContext } from './context.ts';
import { garmentsByHash } from './lookup.ts';
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
    let active =
      (await ctx.current()) ?? (await ctx.createActive(layoutFromAnalyses(analyses, ctx.manifest.embeddingDim)));
    // A catalog from before garment columns gets them with its first garments.
    if (unique.some((p) => p.images.some((image) => image.garments))) active = await ctx.addGarmentColumns(active);
    // And one from before the category column gets it with its first category.
    if (unique.some((p) => p.category)) active = await ctx.addCategoryColumn(active);
    await mergeProducts(active.table, active.layout, active.layout.garments ? await withStoredGarments(ctx, unique) : unique);
    return { written: unique.length };
  });
}

/**
 * Images given without garments keep those stored for the same photo (content hash):
 * garments come from the pixels, so a listing rewritten by a path that does not segment
 * (the API, an ingest without --garments) must not lose them.
 */
async function withStoredGarments(ctx: CatalogContext, products: readonly ProductInput[]): Promise<ProductInput[]> {
  const hashes = products.flatMap((p) => p.images.filter((image) => !image.garments).map((image) => image.contentHash));
  if (hashes.length === 0) return [...products];
  const stored = await garmentsByHash(ctx, hashes);
  if (stored.size === 0) return [...products];
  return products.map((p) => ({ ...p, images: p.images.map((image) => (image.garments ? image : { ...image, garments: stored.get(image.contentHash) ?? null })) }));
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
