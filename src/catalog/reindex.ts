// reindex: re-analyses every image with a new model into a fresh table, then swaps the
// manifest pointer. Readers keep querying the old table (same model throughout) until the
// swap, so no query ever compares embeddings of two different models.

import type { Table } from '@lancedb/lancedb';
import { GroknetError, toGroknetError } from '../errors.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import { analyzeDistinct } from './analyze.ts';
import { productColumns } from './columns.ts';
import type { CatalogContext } from './context.ts';
import { readImageFile, type ImageBytes } from './image-file.ts';
import { listingFieldsOf } from './listing.ts';
import { mergeProducts } from './insert.ts';
import { tableName } from './manifest.ts';
import { rowsToProducts } from './rows.ts';
import { buildSchema, COLUMNS, layoutFromAnalyses, type TableLayout } from './schema.ts';
import { sqlIn } from './sql.ts';
import type { Product, ProductInput, ReindexFailure, ReindexOptions, ReindexSummary } from './types.ts';

/** Writes that land in the old table while we copy are picked up by a few catch-up rounds. */
const CATCH_UP_ROUNDS = 3;

async function productHashesOf(table: Table): Promise<Map<string, string>> {
  const rows = await table
    .query()
    .where(`${COLUMNS.imageIndex} = 0`)
    .select([COLUMNS.productId, COLUMNS.productHash])
    .toArray();
  return new Map(rows.map((row) => [String(row[COLUMNS.productId]), String(row[COLUMNS.productHash])]));
}

async function reanalyse(
  products: readonly Product[],
  analyzer: Analyzer,
  cache: Map<string, Analysis>,
  failed: ReindexFailure[],
): Promise<ProductInput[]> {
  const read = new Map<string, ImageBytes[]>();
  for (const product of products) {
    try {
      const images: ImageBytes[] = [];
      for (const stored of product.images) {
        const image = await readImageFile(stored.path);
        // Other bytes than were ingested would silently change the listing: make it visible.
        if (image.contentHash !== stored.contentHash) {
          throw new GroknetError('invalid_argument', `${stored.path} changed since it was ingested; ingest it again`);
        }
        images.push(image);
      }
      read.set(product.id, images);
    } catch (error) {
      const e = toGroknetError(error);
      failed.push({ item: product.id, code: e.code, message: e.message });
    }
  }
  const analyses = await analyzeDistinct(analyzer, [...read.values()].flat(), cache);
  const inputs: ProductInput[] = [];
  for (const product of products) {
    const images = read.get(product.id);
    if (!images) continue;
    const failure = images.map((i) => analyses.get(i.contentHash)).find((a) => a instanceof GroknetError);
    if (failure instanceof GroknetError) {
      failed.push({ item: product.id, code: failure.code, message: failure.message });
      continue;
    }
    for (const image of images) cache.set(image.contentHash, analyses.get(image.contentHash) as Analysis);
    inputs.push({
      ...listingFieldsOf(product),
      // Garments come from the pixels, not the model: they are carried over, not measured again.
      images: images.map((image, i) => ({
        path: image.path,
        contentHash: image.contentHash,
        analysis: analyses.get(image.contentHash) as Analysis,
        garments: product.images[i]?.garments ?? null,
      })),
    });
  }
  return inputs;
}

export async function reindex(ctx: CatalogContext, analyzer: Analyzer, options: ReindexOptions = {}): Promise<ReindexSummary> {
  const batchSize = options.batchSize ?? 32;
  return ctx.withWriteLock(async () => {
    const old = await ctx.current();
    const generation = ctx.manifest.generation + 1;
    const name = tableName(generation);
    const sameModel =
      old?.layout.modelVersion === analyzer.modelVersion && ctx.manifest.embeddingDim === analyzer.embeddingDim;
    if (sameModel || (!old && ctx.manifest.embeddingDim === analyzer.embeddingDim)) {
      return { reindexed: 0, failed: [], swapped: false, modelVersion: analyzer.modelVersion };
    }
    // Leftovers of a reindex that crashed before its swap are never visible: start clean.
    await ctx.dropIfExists(name);
    if (!old) {
      await ctx.swapTo(name, generation, analyzer.embeddingDim);
      return { reindexed: 0, failed: [], swapped: true, modelVersion: analyzer.modelVersion };
    }

    const failures = new Map<string, ReindexFailure>();
    const cache = new Map<string, Analysis>();
    /** product id -> product hash we last tried (copied ids are also in `copied`). */
    const attempted = new Map<string, string>();
    const copied = new Set<string>();
    let target: { table: Table; layout: TableLayout } | undefined;

    for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
      const source = await productHashesOf(old.table);
      const pending = [...source].filter(([id, hash]) => attempted.get(id) !== hash).map(([id]) => id);
      const removed = [...attempted.keys()].filter((id) => !source.has(id));
      for (const id of removed) {
        attempted.delete(id);
        failures.delete(id);
      }
      const removedCopies = removed.filter((id) => copied.delete(id));
      if (target && removedCopies.length > 0) {
        await target.table.delete(`${COLUMNS.productId} IN ${sqlIn(removedCopies)}`);
      }
      if (pending.length === 0) break;

      for (let i = 0; i < pending.length; i += batchSize) {
        const ids = pending.slice(i, i + batchSize);
        const rows = await old.table
          .query()
          .where(`${COLUMNS.productId} IN ${sqlIn(ids)}`)
          .select(productColumns(old.layout, false))
          .toArray();
        const products = rowsToProducts(rows, old.layout);
        const failed: ReindexFailure[] = [];
        const inputs = await reanalyse(products, analyzer, cache, failed);
        if (inputs.length > 0) {
          if (!target) {
            const analyses = inputs.flatMap((p) => p.images.map((image) => image.analysis));
            const layout = layoutFromAnalyses(analyses, analyzer.embeddingDim);
            target = { table: await ctx.createTable(name, buildSchema(layout)), layout };
          }
          await mergeProducts(target.table, target.layout, inputs);
        }
        for (const product of products) {
          attempted.set(product.id, product.productHash);
          failures.delete(product.id);
          if (inputs.some((p) => p.id === product.id)) copied.add(product.id);
        }
        for (const failure of failed) failures.set(failure.item, failure);
        // A product copied earlier that now fails must not survive in its stale form.
        const stale = failed.map((f) => f.item).filter((id) => copied.delete(id));
        if (target && stale.length > 0) await target.table.delete(`${COLUMNS.productId} IN ${sqlIn(stale)}`);
        options.onProgress?.(Math.min(i + batchSize, pending.length), pending.length);
      }
    }

    const failed = [...failures.values()];
    if (failed.length > 0 && !options.force) {
      if (target) await ctx.db.dropTable(name);
      return { reindexed: 0, failed, swapped: false, modelVersion: old.layout.modelVersion };
    }
    await ctx.swapTo(name, generation, analyzer.embeddingDim);
    return { reindexed: copied.size, failed, swapped: true, modelVersion: analyzer.modelVersion };
  });
}
