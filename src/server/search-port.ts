// What the HTTP routes need from search, as one small interface: the routes can be tested
// with any implementation, and createCatalogSearch answers it with src/search's one entry
// (searchCatalog), the same the CLI and the library call. Photos are analysed by the
// server's inference queue before they get here, so they share batches with other requests.
import type { CatalogStore } from '../catalog/types.ts';
import { searchCatalog, type SearchRequest } from '../search/search.ts';
import type { SearchResponse } from '../search/types.ts';

export type { SearchRequest };

export interface SearchService {
  search(request: SearchRequest): Promise<SearchResponse>;
}

/** The catalog's search, for a model whose exact-match threshold is `exactMatchThreshold` (held where `exactMatchHeads` are sure). */
export function createCatalogSearch(catalog: CatalogStore, exactMatchThreshold: number, exactMatchHeads?: readonly string[]): SearchService {
  return { search: (request) => searchCatalog({ catalog, exactMatchThreshold, exactMatchHeads }, request) };
}
