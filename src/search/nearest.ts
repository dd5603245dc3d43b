// The single nearest catalog product to an embedding, with the labels its best-matching
// image was given: what co-occurrence and pseudo-labelling ask of every detected crop.
// Deciding whether the match is close enough is left to the caller (the threshold differs:
// exact match for both today, but a caller may want to see the near misses).

import type { CatalogStore } from '../catalog/types.ts';
import { COLUMNS } from '../catalog/schema.ts';
import { GroknetError } from '../errors.ts';
import { filteredNearest } from './filtered-nearest.ts';
import { groupByProduct, resultColumns, type Row } from './results.ts';

export interface NearestProduct {
  id: string;
  title: string;
  /** Path of the image that matched. */
  image: string;
  /** Cosine similarity of the query with that image. */
  similarity: number;
  /** Head name -> top label stored for that image (heads that abstained are absent). */
  labels: Record<string, string>;
}

export async function nearestProduct(catalog: CatalogStore, embedding: Float32Array): Promise<NearestProduct | undefined> {
  const info = await catalog.info();
  if (embedding.length !== info.embeddingDim) {
    throw new GroknetError('invalid_argument', `query embedding has ${embedding.length} dimensions, catalog ${info.embeddingDim}`);
  }
  const table = await catalog.table();
  if (!table) return undefined;
  // The plan searchVector runs for an unfiltered query (one place builds LanceDB's vector queries).
  const { rows } = await filteredNearest<Row>(table, { vector: embedding, column: COLUMNS.vector, limit: 1, select: resultColumns(info, ['_distance']) });
  // Cosine distance is 1 - similarity.
  const [best] = groupByProduct(rows, info, (row) => 1 - Number(row._distance));
  if (!best) return undefined;
  return {
    id: best.id,
    title: best.title,
    image: best.image,
    similarity: best.raw,
    labels: Object.fromEntries(Object.entries(best.labels).map(([head, { label }]) => [head, label])),
  };
}
