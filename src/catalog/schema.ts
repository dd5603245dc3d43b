// Table layout. One row per image with the product's fields repeated on each row: a product
// and all its images then land in the same commit, so no reader ever sees half a product.

import { Field, FixedSizeList, Float32, Float64, Int32, Int64, Schema, Uint8, Utf8 } from 'apache-arrow';
import type { Analysis } from '../model/types.ts';
import { GroknetError } from '../errors.ts';

export const COLUMNS = {
  rowKey: 'row_key',
  productId: 'product_id',
  productHash: 'product_hash',
  title: 'title',
  description: 'description',
  price: 'price',
  currency: 'currency',
  attributes: 'attributes',
  imageIndex: 'image_index',
  imageCount: 'image_count',
  imagePath: 'image_path',
  contentHash: 'content_hash',
  heads: 'heads',
  vector: 'vector',
  code: 'code',
  codeBits: 'code_bits',
  modelVersion: 'model_version',
  writtenAt: 'written_at',
} as const;

/** Predicted top label of single head `name`, flat so it can be filtered and faceted. */
export const headColumn = (name: string): string => `head_${name}`;
/** Confidence of that top label. */
export const scoreColumn = (name: string): string => `score_${name}`;

const META = {
  modelVersion: 'groknet.model_version',
  embeddingDim: 'groknet.embedding_dim',
  codeBits: 'groknet.code_bits',
  heads: 'groknet.heads',
} as const;

/** Head names become column names, so they are reduced to a safe identifier alphabet. */
export function sanitizeHeadName(name: string): string | undefined {
  const clean = name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(clean)) return undefined;
  return clean;
}

export interface TableLayout {
  modelVersion: string;
  embeddingDim: number;
  codeBits: number;
  /** sanitized column name -> head name as the model reports it */
  heads: Record<string, string>;
}

/** Layout for a new table, taken from the first analyses written to it. */
export function layoutFromAnalyses(analyses: readonly Analysis[], embeddingDim: number): TableLayout {
  const first = analyses[0];
  if (!first) throw new GroknetError('invalid_argument', 'no analyses to derive the table layout from');
  const heads: Record<string, string> = {};
  for (const analysis of analyses) {
    for (const [name, head] of Object.entries(analysis.heads)) {
      if (head.kind !== 'single') continue;
      const column = sanitizeHeadName(name);
      // Two heads that sanitise to the same column: the first keeps it, the other stays in JSON only.
      if (column && !(column in heads)) heads[column] = name;
    }
  }
  if (first.code.length === 0 || first.code.length % 2 !== 0) {
    throw new GroknetError('invalid_argument', 'binary code must be a whole number of bytes in hex');
  }
  return { modelVersion: first.modelVersion, embeddingDim, codeBits: first.code.length * 4, heads };
}

export function buildSchema(layout: TableLayout): Schema {
  const utf8 = (name: string, nullable = false) => new Field(name, new Utf8(), nullable);
  const fields: Field[] = [
    utf8(COLUMNS.rowKey),
    utf8(COLUMNS.productId),
    utf8(COLUMNS.productHash),
    utf8(COLUMNS.title),
    utf8(COLUMNS.description),
    new Field(COLUMNS.price, new Float64(), true),
    utf8(COLUMNS.currency, true),
    utf8(COLUMNS.attributes),
    new Field(COLUMNS.imageIndex, new Int32(), false),
    new Field(COLUMNS.imageCount, new Int32(), false),
    utf8(COLUMNS.imagePath),
    utf8(COLUMNS.contentHash),
    utf8(COLUMNS.heads),
    new Field(COLUMNS.vector, new FixedSizeList(layout.embeddingDim, new Field('item', new Float32(), true)), false),
    utf8(COLUMNS.code),
    // The code again as bytes, so LanceDB can compute Hamming distances natively.
    new Field(COLUMNS.codeBits, new FixedSizeList(layout.codeBits / 8, new Field('item', new Uint8(), true)), false),
    utf8(COLUMNS.modelVersion),
    new Field(COLUMNS.writtenAt, new Int64(), false),
  ];
  for (const column of Object.keys(layout.heads)) {
    fields.push(utf8(headColumn(column), true), new Field(scoreColumn(column), new Float32(), true));
  }
  const metadata = new Map<string, string>([
    [META.modelVersion, layout.modelVersion],
    [META.embeddingDim, String(layout.embeddingDim)],
    [META.codeBits, String(layout.codeBits)],
    [META.heads, JSON.stringify(layout.heads)],
  ]);
  return new Schema(fields, metadata);
}

/** Reads the layout back from a table's schema metadata. */
export function layoutFromSchema(schema: Schema): TableLayout {
  const meta = schema.metadata;
  const modelVersion = meta.get(META.modelVersion);
  const embeddingDim = Number(meta.get(META.embeddingDim));
  const codeBits = Number(meta.get(META.codeBits));
  const headsJson = meta.get(META.heads);
  if (!modelVersion || !Number.isInteger(embeddingDim) || !Number.isInteger(codeBits) || !headsJson) {
    throw new GroknetError('store_error', 'catalog table has no groknet layout metadata');
  }
  return { modelVersion, embeddingDim, codeBits, heads: JSON.parse(headsJson) as Record<string, string> };
}
