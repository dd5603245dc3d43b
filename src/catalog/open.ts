// openCatalog: the CatalogStore over a LanceDB directory, wiring each verb to the context.

import type { Analyzer } from '../model/types.ts';
import { filterableColumns } from './columns.ts';
import { CatalogContext } from './context.ts';
import { CooccurrenceStore } from './cooccurrence.ts';
import { countProducts } from './count.ts';
import { deleteProduct } from './delete.ts';
import { FeedbackStore } from './feedback.ts';
import { getProduct } from './get.ts';
import { hasTextIndex, optimize, type OptimizeOptions } from './indexes.ts';
import { insertProducts } from './insert.ts';
import { listProducts } from './list.ts';
import { analysesByHash, garmentsByHash, getProductHashes, hasImageHash } from './lookup.ts';
import { reindex } from './reindex.ts';
import { headColumn, scoreColumn } from './schema.ts';
import type { CatalogInfo, CatalogStore, ReindexOptions } from './types.ts';
import { garmentVocabulary, vocabularies } from './vocabularies.ts';

export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_SEEN_TOGETHER_LIMIT = 20;

export interface OpenCatalogOptions {
  /** Dimension of the analyzer's embeddings. Required to create a catalog; checked when opening one. */
  embeddingDim?: number;
  /** Overrides when the vector index is built (tests use a small value). */
  vectorIndexThreshold?: number;
  /** Overrides when the scalar (look-up and filter) indexes are built (tests use a small value). */
  scalarIndexThreshold?: number;
}

export async function openCatalog(dir: string = DEFAULT_DATA_DIR, options: OpenCatalogOptions = {}): Promise<CatalogStore> {
  const ctx = await CatalogContext.open(dir, options.embeddingDim);
  const links = new CooccurrenceStore(ctx);
  const feedback = new FeedbackStore(ctx);
  const optimizeOptions: OptimizeOptions = {
    ...(options.vectorIndexThreshold === undefined ? {} : { vectorIndexThreshold: options.vectorIndexThreshold }),
    ...(options.scalarIndexThreshold === undefined ? {} : { scalarIndexThreshold: options.scalarIndexThreshold }),
  };

  return {
    dir: ctx.dir,
    async info(): Promise<CatalogInfo> {
      const active = await ctx.current();
      return {
        dir: ctx.dir,
        embeddingDim: ctx.manifest.embeddingDim,
        modelVersion: active?.layout.modelVersion,
        codeBits: active?.layout.codeBits,
        heads: Object.fromEntries(
          Object.entries(active?.layout.heads ?? {}).map(([column, head]) => [
            head,
            { labelColumn: headColumn(column), scoreColumn: scoreColumn(column) },
          ]),
        ),
        filterColumns: active ? [...filterableColumns(active.layout)] : [],
        garments: active?.layout.garments ?? false,
        category: active?.layout.category ?? false,
      };
    },
    insertProducts: (products) => insertProducts(ctx, products),
    getProduct: (id, opts) => getProduct(ctx, id, opts),
    async deleteProduct(id) {
      const deleted = await deleteProduct(ctx, id);
      // Also when the product was already gone: a crash between the two deletes leaves links behind.
      await links.remove(id);
      await feedback.remove(id);
      return deleted;
    },
    recordSeenTogether: (source, sightings) => links.record(source, sightings),
    seenTogether: (id, opts) => links.linksOf(id, opts?.limit ?? DEFAULT_SEEN_TOGETHER_LIMIT),
    recordFeedback: (id, images) => feedback.record(id, images),
    feedbackOf: (id) => feedback.of(id),
    feedbackCounts: () => feedback.counts(),
    listProducts: (opts) => listProducts(ctx, opts),
    countProducts: () => countProducts(ctx),
    hasImageHash: (hash) => hasImageHash(ctx, hash),
    getProductHashes: (ids) => getProductHashes(ctx, ids),
    analysesByHash: (hashes) => analysesByHash(ctx, hashes),
    garmentsByHash: (hashes) => garmentsByHash(ctx, hashes),
    reindex: (analyzer: Analyzer, opts?: ReindexOptions) => reindex(ctx, analyzer, opts),
    async optimize() {
      await optimize(ctx, optimizeOptions);
      await links.optimize();
    },
    vocabularies: () => vocabularies(ctx),
    garmentVocabulary: () => garmentVocabulary(ctx),
    table: async () => (await ctx.current())?.table,
    hasTextIndex: () => hasTextIndex(ctx),
    async close() {
      links.close();
      feedback.close();
      ctx.close();
    },
  };
}
