// User filters -> a safe LanceDB predicate. Field names are checked against the catalog's
// own fields and mapped to columns (never taken from the user), values are validated and
// quoted by ../catalog/sql.ts. Anything unexpected is refused with query_invalid.
// The garment fields filter list columns (a photo holds several garments): a value
// matches when any garment of the image has it.

import { z } from 'zod';
import { GroknetError } from '../errors.ts';
import { sqlIdentifier, sqlIn, sqlList, sqlNumber, sqlString } from '../catalog/sql.ts';
import { CATEGORY_COLUMN, COLUMNS, GARMENT_COLUMNS } from '../catalog/schema.ts';
import type { CatalogInfo } from '../catalog/types.ts';
import type { FilterCondition, Filters } from './types.ts';

export const MAX_QUERY_LENGTH = 1000;
const MAX_VALUE_LENGTH = 200;
const MAX_IN_VALUES = 100;
const MAX_FILTERS = 20;

export interface FilterField {
  column: string;
  type: 'string' | 'number';
  /** Head name when the field is a predicted label. */
  head?: string;
  scoreColumn?: string;
  /** A list column (garments): matches when any of its values does. */
  list?: boolean;
  /** The catalog's table has no such column yet (a category on a catalog from before it): no row matches. */
  absent?: boolean;
}

/** The seller's category (ListingFields.category): `category=Sofas`, matched exactly. */
export const CATEGORY_FIELD = 'category';

/** Garment labels stored by `index --garments`: `garment=dress`. */
export const GARMENT_FIELD = 'garment';
/** Garment colours, alone or with their garment: `garment_colour=red`, `garment_colour=dress:red`. */
export const GARMENT_COLOUR_FIELD = 'garment_colour';

/** The fields a filter may name, for this catalog. */
export function filterFields(info: CatalogInfo): Map<string, FilterField> {
  const fields = new Map<string, FilterField>([
    ['price', { column: COLUMNS.price, type: 'number' }],
    ['currency', { column: COLUMNS.currency, type: 'string' }],
    ['id', { column: COLUMNS.productId, type: 'string' }],
    // A listing field, so it keeps its name over a head called `category`, as price does.
    [CATEGORY_FIELD, { column: CATEGORY_COLUMN, type: 'string', ...(info.category ? {} : { absent: true }) }],
  ]);
  for (const [head, columns] of Object.entries(info.heads)) {
    if (fields.has(head)) continue;
    fields.set(head, { column: columns.labelColumn, type: 'string', head, scoreColumn: columns.scoreColumn });
  }
  if (info.garments) {
    // A head of the same name keeps its field, as the fixed fields keep theirs.
    if (!fields.has(GARMENT_FIELD)) fields.set(GARMENT_FIELD, { column: GARMENT_COLUMNS.labels, type: 'string', list: true });
    if (!fields.has(GARMENT_COLOUR_FIELD)) fields.set(GARMENT_COLOUR_FIELD, { column: GARMENT_COLUMNS.colours, type: 'string', list: true });
  }
  return fields;
}

const text = z.string().max(MAX_VALUE_LENGTH);
const num = z.number().finite();
const ConditionSchema = z.union([
  z.object({ eq: z.union([text, num]) }).strict(),
  z.object({ in: z.array(text).min(1).max(MAX_IN_VALUES) }).strict(),
  z
    .object({ gte: num.optional(), lte: num.optional(), gt: num.optional(), lt: num.optional() })
    .strict()
    .refine((r) => Object.keys(r).length > 0, 'empty range'),
]);

export function assertQueryLength(query: string): void {
  if (query.length > MAX_QUERY_LENGTH) {
    throw new GroknetError('query_invalid', `queries are limited to ${MAX_QUERY_LENGTH} characters`);
  }
}

/** Checks shape, field names and value types; returns the filters unchanged when valid. */
export function validateFilters(filters: unknown, info: CatalogInfo): Filters {
  if (filters === undefined || filters === null) return {};
  if (typeof filters !== 'object' || Array.isArray(filters)) throw new GroknetError('query_invalid', 'filters must be an object');
  const entries = Object.entries(filters as Record<string, unknown>);
  if (entries.length > MAX_FILTERS) throw new GroknetError('query_invalid', `at most ${MAX_FILTERS} filters`);
  const fields = filterFields(info);
  const valid: Filters = {};
  for (const [key, raw] of entries) {
    const field = fields.get(key);
    if (!field) throw new GroknetError('query_invalid', `unknown filter field "${key.slice(0, 40)}"`);
    const parsed = ConditionSchema.safeParse(raw);
    if (!parsed.success) throw new GroknetError('query_invalid', `filter "${key}": ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const condition = parsed.data as FilterCondition;
    const isRange = !('eq' in condition) && !('in' in condition);
    if (field.type === 'string' && (isRange || ('eq' in condition && typeof condition.eq !== 'string'))) {
      throw new GroknetError('query_invalid', `filter "${key}" takes text values`);
    }
    if (field.type === 'number' && ('in' in condition || ('eq' in condition && typeof condition.eq !== 'number'))) {
      throw new GroknetError('query_invalid', `filter "${key}" takes numbers`);
    }
    valid[key] = condition;
  }
  return valid;
}

function predicate(column: string, condition: FilterCondition, list: boolean): string {
  if (list) {
    // Only text conditions reach a list field (validateFilters).
    const values = 'eq' in condition ? [String(condition.eq)] : 'in' in condition ? condition.in : [];
    return `array_has_any(${column}, ${sqlList(values)})`;
  }
  if ('eq' in condition) {
    return `${column} = ${typeof condition.eq === 'number' ? sqlNumber(condition.eq) : sqlString(condition.eq)}`;
  }
  if ('in' in condition) return `${column} IN ${sqlIn(condition.in)}`;
  const parts: string[] = [];
  if (condition.gte !== undefined) parts.push(`${column} >= ${sqlNumber(condition.gte)}`);
  if (condition.gt !== undefined) parts.push(`${column} > ${sqlNumber(condition.gt)}`);
  if (condition.lte !== undefined) parts.push(`${column} <= ${sqlNumber(condition.lte)}`);
  if (condition.lt !== undefined) parts.push(`${column} < ${sqlNumber(condition.lt)}`);
  return parts.join(' AND ');
}

/** SQL predicate for validated filters, or undefined when there are none. */
export function buildWhere(filters: Filters, info: CatalogInfo): string | undefined {
  const fields = filterFields(info);
  const known = new Set(info.filterColumns);
  const parts = Object.entries(filters).map(([key, condition]) => {
    const field = fields.get(key);
    if (!field) throw new GroknetError('query_invalid', `unknown filter field "${key.slice(0, 40)}"`);
    // No listing of a catalog without the column has a category, so none can match one.
    if (field.absent) return '(FALSE)';
    return `(${predicate(sqlIdentifier(field.column, known), condition, field.list === true)})`;
  });
  return parts.length > 0 ? parts.join(' AND ') : undefined;
}

/** Does a stored value satisfy a condition? Used to explain results in `why`. */
export function describeCondition(field: string, value: unknown, condition: FilterCondition): string | undefined {
  if (value === null || value === undefined) return undefined;
  if ('eq' in condition) return `${field}=${String(value)}`;
  if ('in' in condition) return `${field}=${String(value)} (one of ${condition.in.join(', ')})`;
  const bounds: string[] = [];
  if (condition.gte !== undefined) bounds.push(`>= ${condition.gte}`);
  if (condition.gt !== undefined) bounds.push(`> ${condition.gt}`);
  if (condition.lte !== undefined) bounds.push(`<= ${condition.lte}`);
  if (condition.lt !== undefined) bounds.push(`< ${condition.lt}`);
  return `${field} ${String(value)} ${bounds.join(' and ')}`;
}
