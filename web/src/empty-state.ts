// What to say when a search finds nothing: a filter to remove, other words to try, or a
// catalog with nothing in it yet (and how to fill it).
import { search } from './api.ts';
import { TEXT } from './messages.ts';

/** An 8x8 grey PNG. */
const PROBE_PHOTO = 'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAD0lEQVQImWNowAEYhpYEAILzYAEeEbvlAAAAAElFTkSuQmCC';

let knownNotEmpty = false;

/** Any search that found something proves there is a catalog to search. */
export function sawProducts(): void {
  knownNotEmpty = true;
}

/**
 * The API has no product count, but a photo search answers the nearest products whatever
 * they look like: none at all means the catalog is empty. Asked only when a search without
 * filters found nothing and no product was seen yet. Unknown (an error) counts as not empty.
 */
async function catalogIsEmpty(): Promise<boolean> {
  if (knownNotEmpty) return false;
  try {
    const answer = await search({ image: PROBE_PHOTO, k: 1 });
    if (answer.results.length > 0) knownNotEmpty = true;
    return answer.results.length === 0;
  } catch {
    return false;
  }
}

export async function nothingFoundText(query: { words: boolean; filters: number }): Promise<string> {
  if (query.filters > 0) return query.words ? TEXT.noMatchWordsAndFilters : TEXT.noMatchFilters;
  if (await catalogIsEmpty()) return TEXT.catalogEmpty;
  return query.words ? TEXT.noMatchWords : TEXT.noMatchPhoto;
}
