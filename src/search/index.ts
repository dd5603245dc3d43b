// Public surface of search: one entry (searchCatalog) and one response shape for every kind
// of query; the per-kind functions below it are its building blocks.

export { searchCatalog, searchByImage, sureLabels, MIN_SIMILARITY, type SearchRequest, type SearchSubject, type SearchTarget, type WordsQuery, type PhotoQuery, type MoreLikeThisQuery } from './search.ts';
export { searchText, TEXT_CANDIDATES, type TextSearchOptions } from './search-text.ts';
export { searchVector, type VectorSearchOptions } from './search-vector.ts';
export { searchBinary, type BinarySearchOptions } from './search-binary.ts';
export { nearestProduct, type NearestProduct } from './nearest.ts';
export { parseQuery, type ParsedQuery } from './parse-query.ts';
export { computeFacets } from './facets.ts';
export { findDuplicates, type DuplicateGroup, type DuplicateOptions, type DuplicateReport } from './duplicates.ts';
export { MAX_QUERY_LENGTH, validateFilters, buildWhere, filterFields, GARMENT_FIELD, GARMENT_COLOUR_FIELD, CATEGORY_FIELD } from './filters.ts';
export { SYNONYMS } from './synonyms.ts';
export type * from './types.ts';
export { VECTOR_INDEX_THRESHOLD } from '../catalog/indexes.ts';
