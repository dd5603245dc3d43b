// Turning image rows into per-product results: grouping (a product matches through its best
// image), filter explanations and the columns every search reads.

import type { Table as ArrowTable } from 'apache-arrow';
import { GroknetError } from '../errors.ts';
import { listCellValues } from '../catalog/rows.ts';
import { CATEGORY_COLUMN, COLUMNS } from '../catalog/schema.ts';
import type { CatalogInfo } from '../catalog/types.ts';
import { describeCondition, filterFields, type FilterField } from './filters.ts';
import type { Filters, MatchKind, SearchResult } from './types.ts';

export type Row = Record<string, unknown>;

/**
 * A query's rows as plain objects, read column by column: what `toArray()` gives, without its
 * per-cell proxies (a third less time over the 1,000-row reads of text search).
 */
export async function readRows(query: { toArrow(): Promise<ArrowTable> }): Promise<Row[]> {
  const table = await query.toArrow();
  const names = table.schema.fields.map((field) => field.name);
  const columns = names.map((name) => table.getChild(name));
  const rows: Row[] = new Array<Row>(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const row: Row = {};
    for (let j = 0; j < names.length; j++) row[names[j]!] = columns[j]?.get(i) ?? null;
    rows[i] = row;
  }
  return rows;
}

export interface Candidate {
  id: string;
  title: string;
  description: string;
  image: string;
  price: number | null;
  currency: string | null;
  /** The seller's category (null: none, or a catalog from before the column). */
  category: string | null;
  /** head -> predicted top label and its score, from the best-matching image. */
  labels: Record<string, { label: string; score: number }>;
  /** head (or list field: garment, garment_colour) -> every value any matched image of the product has (for facets). */
  allLabels: Record<string, Set<string>>;
  /** list field -> the values of the best-matching image (garments found in it). */
  lists: Record<string, string[]>;
  /** Search-specific raw score of the best row (similarity, BM25, ...). */
  raw: number;
  row: Row;
}

export function resultColumns(info: CatalogInfo, extra: string[] = []): string[] {
  const columns: string[] = [
    COLUMNS.productId,
    COLUMNS.title,
    COLUMNS.description,
    COLUMNS.imagePath,
    COLUMNS.imageIndex,
    COLUMNS.price,
    COLUMNS.currency,
  ];
  for (const head of Object.values(info.heads)) columns.push(head.labelColumn, head.scoreColumn);
  for (const [, field] of listFields(info)) columns.push(field.column);
  if (info.category) columns.push(CATEGORY_COLUMN);
  return [...columns, ...extra];
}

function listFields(info: CatalogInfo): Array<[string, FilterField]> {
  return [...filterFields(info)].filter(([, field]) => field.list);
}

function listsOf(row: Row, fields: ReadonlyArray<[string, FilterField]>): Record<string, string[]> {
  return Object.fromEntries(fields.map(([name, field]) => [name, listCellValues(row[field.column])]));
}

function labelsOf(row: Row, info: CatalogInfo): Candidate['labels'] {
  const labels: Candidate['labels'] = {};
  for (const [head, columns] of Object.entries(info.heads)) {
    const label = row[columns.labelColumn];
    const score = row[columns.scoreColumn];
    if (typeof label === 'string') labels[head] = { label, score: typeof score === 'number' ? score : 0 };
  }
  return labels;
}

/** Best row per product by `score` (higher is better), keeping first-seen order for ties. */
export function groupByProduct(rows: readonly Row[], info: CatalogInfo, score: (row: Row) => number): Candidate[] {
  const byId = new Map<string, Candidate>();
  const fields = listFields(info);
  for (const row of rows) {
    const id = String(row[COLUMNS.productId]);
    const raw = score(row);
    const labels = labelsOf(row, info);
    const lists = listsOf(row, fields);
    const existing = byId.get(id);
    // Every matched image counts for facets; only the best one describes the product.
    const allLabels = existing?.allLabels ?? {};
    for (const [head, { label }] of Object.entries(labels)) (allLabels[head] ??= new Set()).add(label);
    for (const [field, values] of Object.entries(lists)) for (const value of values) (allLabels[field] ??= new Set()).add(value);
    if (existing && raw <= existing.raw) continue;
    const price = row[COLUMNS.price];
    const currency = row[COLUMNS.currency];
    const category = row[CATEGORY_COLUMN];
    byId.set(id, {
      id,
      title: String(row[COLUMNS.title] ?? ''),
      description: String(row[COLUMNS.description] ?? ''),
      image: String(row[COLUMNS.imagePath] ?? ''),
      price: typeof price === 'number' ? price : null,
      currency: typeof currency === 'string' ? currency : null,
      category: typeof category === 'string' ? category : null,
      labels,
      allLabels,
      lists,
      raw,
      row,
    });
  }
  return [...byId.values()];
}

/** `colour=yellow (predicted 0.91)`, `price 150 <= 200`: why each filter let this product through. */
export function explainFilters(candidate: Candidate, filters: Filters, info: CatalogInfo): string[] {
  const fields = filterFields(info);
  const why: string[] = [];
  for (const [key, condition] of Object.entries(filters)) {
    const field = fields.get(key);
    if (!field) continue;
    if (field.head) {
      const predicted = candidate.labels[field.head];
      if (predicted) why.push(`${key}=${predicted.label} (predicted ${predicted.score.toFixed(2)})`);
      continue;
    }
    if (field.list) {
      const wanted = 'eq' in condition ? [String(condition.eq)] : 'in' in condition ? condition.in : [];
      const found = (candidate.lists[key] ?? []).filter((value) => wanted.includes(value));
      if (found.length > 0) why.push(`${key}=${found.join(', ')} (garment in the photo)`);
      continue;
    }
    const value = key === 'price' ? candidate.price : key === 'currency' ? candidate.currency : key === 'category' ? candidate.category : candidate.id;
    const text = describeCondition(key, value, condition);
    if (text) why.push(text);
  }
  return why;
}

export function toResult(candidate: Candidate, score: number, match: MatchKind, why: string[]): SearchResult {
  const imageIndex = candidate.row[COLUMNS.imageIndex];
  return {
    id: candidate.id,
    score: Math.round(score * 10_000) / 10_000,
    match,
    why,
    title: candidate.title,
    image: candidate.image,
    ...(typeof imageIndex === 'number' ? { imageIndex } : {}),
    price: candidate.price,
    currency: candidate.currency,
  };
}

export const MAX_LIMIT = 1000;

export function checkLimit(limit: number | undefined, fallback: number): number {
  const value = limit ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new GroknetError('query_invalid', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  return value;
}
