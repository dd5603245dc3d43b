// What to say when a search finds nothing: a filter to remove, other words to try, or a
// catalog with nothing in it yet (and how to fill it).
import { catalogSummary } from './api.ts';
import { TEXT } from './messages.ts';

let knownNotEmpty = false;

/** Any search that found something proves there is a catalog to search. */
export function sawProducts(): void {
  knownNotEmpty = true;
}

/**
 * Asked only when a search without filters found nothing and no product was seen yet
 * (GET /v1/catalog counts the products). Unknown (an error) counts as not empty.
 */
async function catalogIsEmpty(): Promise<boolean> {
  if (knownNotEmpty) return false;
  try {
    const { products } = await catalogSummary();
    if (products > 0) knownNotEmpty = true;
    return products === 0;
  } catch {
    return false;
  }
}

export async function nothingFoundText(query: { words: boolean; filters: number }): Promise<string> {
  if (query.filters > 0) return query.words ? TEXT.noMatchWordsAndFilters : TEXT.noMatchFilters;
  if (await catalogIsEmpty()) return TEXT.catalogEmpty;
  return query.words ? TEXT.noMatchWords : TEXT.noMatchPhoto;
}
