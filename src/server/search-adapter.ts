// The search module (src/search) behind the routes' SearchService: words go to text search,
// a photo's embedding and "more like this" go to vector search. Photos are analysed by the
// server's inference queue before they get here, so they share batches with other requests.
import type { CatalogStore } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import { searchText, searchVector } from '../search/index.ts';
import type { SearchResponse } from '../search/types.ts';
import type { SearchRequest, SearchService } from './search-port.ts';

/** Below zero cosine a product looks nothing like the query; calling it "similar" would mislead. */
const MIN_SIMILARITY = 0;

export function createCatalogSearch(catalog: CatalogStore, exactMatchThreshold: number): SearchService {
  return {
    async search(request: SearchRequest): Promise<SearchResponse> {
      const { filters, limit } = request;
      if (request.embedding) {
        return searchVector(catalog, request.embedding, { limit, filters, exactMatchThreshold, minScore: MIN_SIMILARITY }, 'image');
      }
      if (request.productId) {
        const embedding = await productEmbedding(catalog, request.productId);
        return searchVector(catalog, embedding, { limit, filters, exactMatchThreshold, minScore: MIN_SIMILARITY, excludeIds: [request.productId] });
      }
      // Words, or filters alone (browsing a facet); searchText refuses a query with neither.
      return searchText(catalog, request.text ?? '', { limit, filters });
    },
  };
}

/** The mean of a product's image embeddings, re-normalised: one query for all its photos. */
async function productEmbedding(catalog: CatalogStore, id: string): Promise<Float32Array> {
  const product = await catalog.getProduct(id, { withEmbeddings: true });
  if (!product) throw new GroknetError('not_found', id);
  const vectors = product.images.map((image) => image.embedding).filter((v): v is Float32Array => v !== undefined);
  if (vectors.length === 0) throw new GroknetError('store_error', `product ${id} has no stored embeddings`);
  const mean = new Float32Array(vectors[0]!.length);
  for (const vector of vectors) vector.forEach((value, i) => (mean[i]! += value));
  const norm = Math.hypot(...mean) || 1;
  return mean.map((value) => value / norm);
}
