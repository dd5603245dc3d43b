// One result shape for every kind of search, shared by the CLI and the HTTP API.

export type FilterCondition =
  | { eq: string | number }
  | { in: string[] }
  | { gte?: number; lte?: number; gt?: number; lt?: number };

/** Field name (price, currency, id, or a head name such as colour) -> condition. */
export type Filters = Record<string, FilterCondition>;

/** exact/similar: image searches (by the analyzer's threshold); text: matched words; filter: matched filters only. */
export type MatchKind = 'exact' | 'similar' | 'text' | 'filter';

export interface SearchResult {
  id: string;
  /** Higher is better; cosine similarity for image searches, a 0-1 hybrid score for text. */
  score: number;
  match: MatchKind;
  /** Human-readable reasons, e.g. `colour=yellow (predicted 0.91)`, `title matches "loveseat"`. */
  why: string[];
  title: string;
  /** Path of the image that matched best. */
  image: string;
  /** Its index among the product's images (what the API's photo URL names). */
  imageIndex?: number;
  price: number | null;
  currency: string | null;
}

export interface RecognisedPhrase {
  phrase: string;
  field: string;
  value: string | number;
  /** The synonym or singular form that linked the phrase to the label, when not literal. */
  via?: string;
}

export interface SearchQuery {
  kind: 'text' | 'vector' | 'image' | 'binary';
  text?: string;
  filters: Filters;
  terms: string[];
  recognised?: RecognisedPhrase[];
  limit: number;
}

/** Field -> value -> number of products in the result set. */
export type Facets = Record<string, Record<string, number>>;

export interface SearchResponse {
  query: SearchQuery;
  results: SearchResult[];
  facets: Facets;
  /** What the answer could not use, e.g. a style word the model has no labels for (matched as text only). */
  notes?: string[];
}
