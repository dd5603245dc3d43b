// Which columns a read needs. Vectors are large, so they are only read when asked for.

import { CATEGORY_COLUMN, COLUMNS, GARMENT_COLUMNS, headColumn, scoreColumn, type TableLayout } from './schema.ts';

export function productColumns(layout: TableLayout, withVector: boolean): string[] {
  const columns: string[] = Object.values(COLUMNS).filter((c) => c !== COLUMNS.vector && c !== COLUMNS.codeBits);
  if (withVector) columns.push(COLUMNS.vector);
  for (const column of Object.keys(layout.heads)) columns.push(headColumn(column), scoreColumn(column));
  if (layout.garments) columns.push(GARMENT_COLUMNS.garments);
  if (layout.category) columns.push(CATEGORY_COLUMN);
  return columns;
}

/** Every column a filter may name: the fixed scalar ones, the flat head columns, the garment lists and the category. */
export function filterableColumns(layout: TableLayout): Set<string> {
  const columns = new Set<string>([
    COLUMNS.productId,
    COLUMNS.title,
    COLUMNS.description,
    COLUMNS.price,
    COLUMNS.currency,
    COLUMNS.contentHash,
    COLUMNS.modelVersion,
    COLUMNS.imageIndex,
  ]);
  for (const column of Object.keys(layout.heads)) columns.add(headColumn(column)).add(scoreColumn(column));
  if (layout.garments) columns.add(GARMENT_COLUMNS.labels).add(GARMENT_COLUMNS.colours);
  if (layout.category) columns.add(CATEGORY_COLUMN);
  return columns;
}
