// What the HTTP routes need from search, as one small interface over src/search's shapes:
// the routes can be tested with any implementation, and search-adapter.ts wires the real
// search module to it.
import type { Filters, SearchResponse } from '../search/types.ts';

export interface SearchRequest {
  /** Words typed by a buyer; words naming labels ("red shirt") may become filters. */
  text?: string;
  /** Embedding of a query photo, analysed by the server's inference queue. */
  embedding?: Float32Array;
  /** "More like this": the product's own images are the query. */
  productId?: string;
  filters: Filters;
  limit: number;
}

export interface SearchService {
  search(request: SearchRequest): Promise<SearchResponse>;
}
