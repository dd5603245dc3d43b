// Table layout. One row per image with the product's fields repeated on each row: a product
// and all its images then land in the same commit, so no reader ever sees half a product.

import { Field, FixedSizeList, Float32, Float64, Int32, Int64, List, Schema, Uint8, Utf8 } from 'apache-arrow';
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

/**
 * The seller's category (ListingFields.category), on every image row as the other listing
 * fields are. Kept apart from COLUMNS because tables created before it lack it
 * (TableLayout.category); null: the listing has no category.
 */
export const CATEGORY_COLUMN = 'category';

/**
 * Garments found in each photo by clothing segmentation (`groknet index --garments`), kept
 * apart from COLUMNS because tables created before them lack them (TableLayout.garments).
 * `garments` is the JSON list (label, colour, share; null: not segmented, `[]`: none found);
 * the two lists are its filterable form, matched with array_has_any: a photo holds several
 * garments, so one flat column per attribute (as heads have) cannot hold them.
 * `garment_colours` holds each garment's colour and its garmentPair, so one field filters
 * both "any red garment" (`red`) and "a red dress" (`dress:red`), where two separate lists
 * could not tell a red dress from a blue dress beside a red top.
 */
export const GARMENT_COLUMNS = {
  garments: 'garments',
  labels: 'garment_labels',
  colours: 'garment_colours',
} as const;

// Garment labels and colours become filter values: short, printable, no pair separator.
const GARMENT_NAME = /^[\p{L}\p{N}][\p{L}\p{N} _'-]{0,47}$/u;

/** Whether a garment label or colour name can be stored (and so filtered by). */
export function isGarmentName(name: unknown): name is string {
  return typeof name === 'string' && GARMENT_NAME.test(name);
}

/** A garment label with its colour, as `garment_colours` stores it: `dress:red`. */
export function garmentPair(label: string, colour: string): string {
  return `${label}:${colour}`;
}

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
  /** Whether rows have the GARMENT_COLUMNS (every table created since they exist has). */
  garments: boolean;
  /** Whether rows have the CATEGORY_COLUMN (every table created since it exists has). */
  category: boolean;
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
  return { modelVersion: first.modelVersion, embeddingDim, codeBits: first.code.length * 4, heads, garments: true, category: true };
}

function garmentFields(): Field[] {
  return [
    new Field(GARMENT_COLUMNS.garments, new Utf8(), true),
    new Field(GARMENT_COLUMNS.labels, new List(new Field('item', new Utf8(), true)), true),
    new Field(GARMENT_COLUMNS.colours, new List(new Field('item', new Utf8(), true)), true),
  ];
}

/** The category column for a table created without it, all null (no listing had one), added as the garment columns are. */
export const ADD_CATEGORY_COLUMN: ReadonlyArray<{ name: string; valueSql: string }> = [
  { name: CATEGORY_COLUMN, valueSql: 'CAST(NULL AS STRING)' },
];

/**
 * The garment columns for a table created without them, all null (not segmented), as
 * LanceDB adds columns: by SQL, a metadata-only change that leaves the rows in place.
 */
export const ADD_GARMENT_COLUMNS: ReadonlyArray<{ name: string; valueSql: string }> = [
  { name: GARMENT_COLUMNS.garments, valueSql: 'CAST(NULL AS STRING)' },
  { name: GARMENT_COLUMNS.labels, valueSql: "arrow_cast(NULL, 'List(Utf8)')" },
  { name: GARMENT_COLUMNS.colours, valueSql: "arrow_cast(NULL, 'List(Utf8)')" },
];

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
  if (layout.garments) fields.push(...garmentFields());
  if (layout.category) fields.push(utf8(CATEGORY_COLUMN, true));
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
  // Read from the columns themselves: tables from before have none, and adding them later
  // (ADD_GARMENT_COLUMNS) changes the fields, not this metadata.
  const names = new Set(schema.fields.map((f) => f.name));
  const garments = Object.values(GARMENT_COLUMNS).every((name) => names.has(name));
  const category = names.has(CATEGORY_COLUMN);
  return { modelVersion, embeddingDim, codeBits, heads: JSON.parse(headsJson) as Record<string, string>, garments, category };
}
