// Public surface of the catalog: open a store, and the shapes involved (publishing into it: src/ingest).

export { openCatalog, DEFAULT_DATA_DIR, DEFAULT_SEEN_TOGETHER_LIMIT, type OpenCatalogOptions } from './open.ts';
export { COOCCURRENCE_TABLE, pairsOf } from './cooccurrence.ts';
export { assertCompatible } from './compatible.ts';
export { readSource, readSources, resolveInside, type FailedItem, type Listing, type Source } from './sources.ts';
export { productHash, sha256 } from './hash.ts';
export { VECTOR_INDEX_THRESHOLD, SCALAR_INDEX_THRESHOLD } from './indexes.ts';
export { MAX_IMAGE_BYTES } from './image-file.ts';
export type * from './types.ts';
