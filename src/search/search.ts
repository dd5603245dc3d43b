// The one search entry: every interface (POST /v1/search, GET /v1/products/:id/similar,
// `groknet search`, shop the look, the library) asks its query here, so one query has one
// plan and one answer whichever way it came in. Words (or filters alone) go to text search
// (./search-text.ts); a photo's embedding and "more like this" go to vector search
// (./search-vector.ts), which runs each filter the way ./filter-plan.ts picks.
// Callers parse their own input (a JSON body, argv) into a SearchRequest and render the
// SearchResponse their own way; nothing between is theirs to decide.

import type { CatalogStore } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import { sureLabels } from './exact-match.ts';

export { sureLabels };
import { searchText } from './search-text.ts';
import { searchVector } from './search-vector.ts';
import type { Filters, SearchResponse } from './types.ts';

/**
 * Below zero cosine a product looks nothing like the query; calling it "similar" would
 * mislead. The same floor for a photo and for "more like this".
 */
export const MIN_SIMILARITY = 0;

/** Words typed by a buyer; words naming labels ("red shirt") may become filters. '' with filters: browse by them. */
export interface WordsQuery {
  text: string;
  embedding?: never;
  productId?: never;
}

/** A photo, as the catalog's model embeds it (the caller runs the model: the server batches requests). */
export interface PhotoQuery {
  embedding: Float32Array;
  /**
   * The photo's sure labels (head -> label, abstained heads left out: `sureLabels(analysis)`),
   * so `exact` is only claimed where the model's threshold holds for the photo too.
   */
  labels?: Readonly<Record<string, string>>;
  text?: never;
  productId?: never;
}

/** "More like this": the product's photos are the query; the product itself is left out. */
export interface MoreLikeThisQuery {
  productId: string;
  text?: never;
  embedding?: never;
}

/** What a query searches by: exactly one of text, embedding, productId. */
export type SearchSubject = WordsQuery | PhotoQuery | MoreLikeThisQuery;

/** One query of any kind: its subject, filters and how many products to return. */
export type SearchRequest = SearchSubject & {
  filters: Filters;
  /** Products to return, 1 to 1000 (each interface sets its own default and maximum). */
  limit: number;
};

/** The catalog searched, with what its model says about matches. */
export interface SearchTarget {
  catalog: CatalogStore;
  /**
   * Cosine similarity at or above which an image match is `exact`: the catalog's model's
   * (analyzer.exactMatchThreshold). Photo and "more like this" queries need it; words do
   * not, so a caller that only searches by words need not load the model.
   */
  exactMatchThreshold?: number | undefined;
  /** Heads that mark where the threshold holds (analyzer.exactMatchHeads); absent: everywhere. */
  exactMatchHeads?: readonly string[] | undefined;
  /** Head -> the kind of product it describes (analyzer.headVerticals): a photo query's facets keep its own vertical's heads. */
  headVerticals?: Readonly<Record<string, string>> | undefined;
}

/** What a search needs from the catalog's model, where one is loaded (words alone need none). */
export function searchTarget(catalog: CatalogStore, analyzer?: Pick<Analyzer, 'exactMatchThreshold' | 'exactMatchHeads' | 'headVerticals'>): SearchTarget {
  return { catalog, exactMatchThreshold: analyzer?.exactMatchThreshold, exactMatchHeads: analyzer?.exactMatchHeads, headVerticals: analyzer?.headVerticals };
}

export async function searchCatalog(target: SearchTarget, request: SearchRequest): Promise<SearchResponse> {
  const { catalog } = target;
  const { filters, limit } = request;
  if (request.embedding !== undefined) {
    const exactMatchThreshold = requireThreshold(target);
    const exactMatchQuery = request.labels;
    return searchVector(catalog, request.embedding, { limit, filters, exactMatchThreshold, exactMatchHeads: target.exactMatchHeads, headVerticals: target.headVerticals, exactMatchQuery, minScore: MIN_SIMILARITY }, 'image');
  }
  if (request.productId !== undefined) {
    const exactMatchThreshold = requireThreshold(target);
    const { embedding, labels } = await productEmbedding(catalog, request.productId);
    return searchVector(catalog, embedding, { limit, filters, exactMatchThreshold, exactMatchHeads: target.exactMatchHeads, headVerticals: target.headVerticals, exactMatchQuery: labels, minScore: MIN_SIMILARITY, excludeIds: [request.productId] });
  }
  // Surrounding spaces are not part of the query (the echoed `query.text` included).
  return searchText(catalog, request.text.trim(), { limit, filters });
}

/** Search by a photo's bytes: the analyzer embeds it, then searchCatalog; the photo's analysis comes back too. */
export async function searchByImage(
  catalog: CatalogStore,
  analyzer: Analyzer,
  image: Buffer,
  options: { limit?: number; filters?: Filters } = {},
): Promise<SearchResponse & { analysis: Analysis }> {
  const [analysis] = await analyzer.analyzeBuffers([image]);
  if (!analysis) throw new GroknetError('internal', 'the analyzer returned nothing');
  if (analysis instanceof GroknetError) throw analysis;
  const response = await searchCatalog(
    searchTarget(catalog, analyzer),
    // 10: what searchByImage has always returned by default.
    { embedding: analysis.embedding, labels: sureLabels(analysis), filters: options.filters ?? {}, limit: options.limit ?? 10 },
  );
  return { ...response, analysis };
}

function requireThreshold(target: SearchTarget): number {
  if (target.exactMatchThreshold === undefined) {
    throw new GroknetError('internal', "searching by a photo or a product needs the model's exact-match threshold");
  }
  return target.exactMatchThreshold;
}

/**
 * The query for "more like this": the mean of all the product's image embeddings,
 * re-normalised. A product is all of its photos; its first is only first by file name.
 */
async function productEmbedding(catalog: CatalogStore, id: string): Promise<{ embedding: Float32Array; labels: Record<string, string> }> {
  const product = await catalog.getProduct(id, { withEmbeddings: true });
  if (!product) throw new GroknetError('not_found', id);
  const vectors = product.images.map((image) => image.embedding).filter((v): v is Float32Array => v !== undefined);
  if (vectors.length === 0) throw new GroknetError('store_error', `product ${id} has no stored embeddings`);
  const mean = new Float32Array(vectors[0]!.length);
  for (const vector of vectors) vector.forEach((value, i) => (mean[i]! += value));
  const norm = Math.hypot(...mean) || 1;
  // Its first photo's sure labels stand for the product (stored labels are the sure ones).
  return { embedding: mean.map((value) => value / norm), labels: { ...(product.images[0]?.labels ?? {}) } };
}

