// Converting between products and table rows (one row per image), with the validation that
// keeps bad data out of the table: a wrong dimension or a foreign model version would make
// every later similarity meaningless.

import { GroknetError } from '../errors.ts';
import type { HeadResult } from '../model/types.ts';
import { CATEGORY_COLUMN, COLUMNS, GARMENT_COLUMNS, garmentPair, headColumn, isGarmentName, scoreColumn, type TableLayout } from './schema.ts';
import { productHash } from './hash.ts';
import { MAX_CATEGORY_LENGTH, MAX_ID_LENGTH } from './listing.ts';
import type { ImageGarment, Product, ProductInput, StoredImage } from './types.ts';

export { MAX_ID_LENGTH };

export type Row = Record<string, unknown>;

export const MAX_IMAGES_PER_PRODUCT = 100;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function rowKey(productId: string, index: number): string {
  return `${productId}#${index}`;
}

export function validateProductId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH || CONTROL.test(id) || id.trim() !== id) {
    throw new GroknetError('invalid_argument', `product id must be 1-${MAX_ID_LENGTH} printable characters without surrounding spaces`);
  }
}

export function hexToBytes(hex: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

/** More garments than a segmentation label list has kinds of clothing is not a photo of clothes. */
export const MAX_GARMENTS_PER_IMAGE = 32;

function checkGarments(garments: readonly ImageGarment[], productId: string): void {
  if (garments.length > MAX_GARMENTS_PER_IMAGE) {
    throw new GroknetError('invalid_argument', `product ${productId} has an image with more than ${MAX_GARMENTS_PER_IMAGE} garments`);
  }
  for (const { label, colour, areaShare } of garments) {
    if (!isGarmentName(label) || (colour !== null && !isGarmentName(colour)) || !(areaShare >= 0 && areaShare <= 1)) {
      throw new GroknetError('invalid_argument', `product ${productId} has an invalid garment (${String(label).slice(0, 48)})`);
    }
  }
}

/** The garment columns of one image row; all null when it was not segmented. */
function garmentCells(garments: readonly ImageGarment[] | null | undefined): Row {
  if (!garments) return { [GARMENT_COLUMNS.garments]: null, [GARMENT_COLUMNS.labels]: null, [GARMENT_COLUMNS.colours]: null };
  const labels = new Set<string>();
  const colours = new Set<string>();
  for (const { label, colour } of garments) {
    labels.add(label);
    if (colour !== null) colours.add(colour).add(garmentPair(label, colour));
  }
  const stored = garments.map(({ label, colour, areaShare }) => ({ label, colour, areaShare: Math.round(areaShare * 1e4) / 1e4 }));
  return { [GARMENT_COLUMNS.garments]: JSON.stringify(stored), [GARMENT_COLUMNS.labels]: [...labels], [GARMENT_COLUMNS.colours]: [...colours] };
}

export function productToRows(product: ProductInput, layout: TableLayout, writtenAt: number): Row[] {
  validateProductId(product.id);
  if (product.images.length === 0) throw new GroknetError('invalid_argument', `product ${product.id} has no images`);
  if (product.images.length > MAX_IMAGES_PER_PRODUCT) {
    throw new GroknetError('invalid_argument', `product ${product.id} has more than ${MAX_IMAGES_PER_PRODUCT} images`);
  }
  const price = product.price ?? null;
  if (price !== null && (!Number.isFinite(price) || price < 0)) {
    throw new GroknetError('invalid_argument', `product ${product.id} has an invalid price`);
  }
  const category = product.category ?? null;
  // Writers that bypass ListingFieldsSchema (library callers) get its rule here.
  if (category !== null && (typeof category !== 'string' || category.length === 0 || category.length > MAX_CATEGORY_LENGTH || CONTROL.test(category) || category.trim() !== category)) {
    throw new GroknetError('invalid_argument', `product ${product.id} category must be 1-${MAX_CATEGORY_LENGTH} printable characters without surrounding spaces`);
  }
  const hash = productHash(product);
  const codeHexLength = layout.codeBits / 4;

  return product.images.map((image, index) => {
    const { analysis } = image;
    if (analysis.modelVersion !== layout.modelVersion) {
      throw new GroknetError('model_mismatch', `catalog holds ${layout.modelVersion}, got ${analysis.modelVersion}`);
    }
    if (analysis.embedding.length !== layout.embeddingDim) {
      throw new GroknetError('invalid_argument', `embedding has ${analysis.embedding.length} dimensions, catalog expects ${layout.embeddingDim}`);
    }
    if (analysis.code.length !== codeHexLength || !/^[0-9a-f]*$/i.test(analysis.code)) {
      throw new GroknetError('invalid_argument', `binary code must be ${codeHexLength} hex characters`);
    }
    if (!/^[0-9a-f]{64}$/.test(image.contentHash)) throw new GroknetError('invalid_argument', 'content hash must be sha256 hex');
    if (image.garments) checkGarments(image.garments, product.id);

    const row: Row = {
      [COLUMNS.rowKey]: rowKey(product.id, index),
      [COLUMNS.productId]: product.id,
      [COLUMNS.productHash]: hash,
      [COLUMNS.title]: product.title,
      [COLUMNS.description]: product.description ?? '',
      [COLUMNS.price]: price,
      [COLUMNS.currency]: product.currency ?? null,
      [COLUMNS.attributes]: JSON.stringify(product.attributes ?? {}),
      [COLUMNS.imageIndex]: index,
      [COLUMNS.imageCount]: product.images.length,
      [COLUMNS.imagePath]: image.path,
      [COLUMNS.contentHash]: image.contentHash,
      [COLUMNS.heads]: JSON.stringify(analysis.heads),
      [COLUMNS.vector]: Array.from(analysis.embedding),
      [COLUMNS.code]: analysis.code.toLowerCase(),
      [COLUMNS.codeBits]: hexToBytes(analysis.code),
      [COLUMNS.modelVersion]: analysis.modelVersion,
      [COLUMNS.writtenAt]: BigInt(writtenAt),
    };
    for (const [column, headName] of Object.entries(layout.heads)) {
      const head = analysis.heads[headName];
      const top = head?.kind === 'single' && !head.abstain ? head.top[0] : undefined;
      row[headColumn(column)] = top?.label ?? null;
      row[scoreColumn(column)] = top?.score ?? null;
    }
    // A table without the columns cannot hold garments or a category: insertProducts adds
    // the columns before writing any, so only a write without them gets here with such a table.
    if (layout.category) row[CATEGORY_COLUMN] = category;
    return layout.garments ? { ...row, ...garmentCells(image.garments) } : row;
  });
}

/** Arrow hands vectors back as Vector objects or typed arrays depending on the path. */
export function toFloat32(value: unknown): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value && typeof (value as { toArray?: unknown }).toArray === 'function') {
    return Float32Array.from((value as { toArray(): ArrayLike<number> }).toArray());
  }
  if (Array.isArray(value)) return Float32Array.from(value as number[]);
  throw new GroknetError('store_error', 'unexpected vector value in catalog row');
}

function parseJson<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** The strings of a list cell as Arrow hands it back (a Vector, or null when the image has no values). */
export function listCellValues(cell: unknown): string[] {
  if (!cell || typeof (cell as { toArray?: unknown }).toArray !== 'function') return [];
  return Array.from((cell as { toArray(): ArrayLike<unknown> }).toArray()).filter((v): v is string => typeof v === 'string');
}

/** The stored garments JSON of a row; undefined when the image was not segmented (or the value is unreadable). */
export function garmentsOf(row: Row): ImageGarment[] | undefined {
  const garments = parseJson<unknown>(row[GARMENT_COLUMNS.garments], undefined);
  return Array.isArray(garments) ? (garments as ImageGarment[]) : undefined;
}

export function rowToImage(row: Row, layout: TableLayout, withEmbedding: boolean): StoredImage {
  const labels: Record<string, string> = {};
  for (const [column, headName] of Object.entries(layout.heads)) {
    const label = row[headColumn(column)];
    if (typeof label === 'string') labels[headName] = label;
  }
  const image: StoredImage = {
    index: Number(row[COLUMNS.imageIndex]),
    path: String(row[COLUMNS.imagePath]),
    contentHash: String(row[COLUMNS.contentHash]),
    heads: parseJson<Record<string, HeadResult>>(row[COLUMNS.heads], {}),
    code: String(row[COLUMNS.code]),
    labels,
  };
  const garments = layout.garments ? garmentsOf(row) : undefined;
  if (garments) image.garments = garments;
  if (withEmbedding) image.embedding = toFloat32(row[COLUMNS.vector]);
  return image;
}

/**
 * Groups image rows into products, in first-seen order. A product whose rows are not all
 * present (image_count disagrees) is skipped: it cannot happen with single-commit writes,
 * but a reader should never hand out a partial product if it somehow did.
 */
export function rowsToProducts(rows: readonly Row[], layout: TableLayout, withEmbeddings = false): Product[] {
  const byId = new Map<string, Row[]>();
  for (const row of rows) {
    const id = String(row[COLUMNS.productId]);
    const group = byId.get(id);
    if (group) group.push(row);
    else byId.set(id, [row]);
  }
  const products: Product[] = [];
  for (const [id, group] of byId) {
    group.sort((a, b) => Number(a[COLUMNS.imageIndex]) - Number(b[COLUMNS.imageIndex]));
    const first = group[0]!;
    if (Number(first[COLUMNS.imageCount]) !== group.length) continue;
    const price = first[COLUMNS.price];
    const currency = first[COLUMNS.currency];
    const category = first[CATEGORY_COLUMN];
    products.push({
      id,
      title: String(first[COLUMNS.title]),
      description: String(first[COLUMNS.description] ?? ''),
      price: typeof price === 'number' ? price : null,
      currency: typeof currency === 'string' ? currency : null,
      category: typeof category === 'string' ? category : null,
      attributes: parseJson<Record<string, unknown>>(first[COLUMNS.attributes], {}),
      productHash: String(first[COLUMNS.productHash]),
      modelVersion: String(first[COLUMNS.modelVersion]),
      images: group.map((row) => rowToImage(row, layout, withEmbeddings)),
    });
  }
  return products;
}
