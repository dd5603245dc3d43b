// What the HTTP routes need from search, as one small interface: the routes can be tested
// with any implementation, and the app answers it with src/search's one entry
// (searchCatalog), the same the CLI and the library call. Photos are analysed by the
// server's inference queue before they get here, so they share batches with other requests.
import type { SearchRequest } from '../search/search.ts';
import type { SearchResponse } from '../search/types.ts';

export type { SearchRequest };

export interface SearchService {
  search(request: SearchRequest): Promise<SearchResponse>;
}
