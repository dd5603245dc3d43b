// listProducts: a page of products in id order.

import { GroknetError } from '../errors.ts';
import type { CatalogContext } from './context.ts';
import { productColumns } from './columns.ts';
import { rowsToProducts } from './rows.ts';
import { COLUMNS } from './schema.ts';
import { sqlIn } from './sql.ts';
import type { ListOptions, Product } from './types.ts';

export const MAX_PAGE = 1000;

export async function listProducts(ctx: CatalogContext, options: ListOptions = {}): Promise<Product[]> {
  const offset = options.offset ?? 0;
  const limit = options.limit ?? 50;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new GroknetError('invalid_argument', `offset must be >= 0 and limit 1-${MAX_PAGE}`);
  }
  const active = await ctx.current();
  if (!active) return [];
  // Page over products (their first image row), then fetch all images of that page.
  const heads = await active.table
    .query()
    .where(`${COLUMNS.imageIndex} = 0`)
    .select([COLUMNS.productId])
    .orderBy({ columnName: COLUMNS.productId, ascending: true })
    .offset(offset)
    .limit(limit)
    .toArray();
  const ids = heads.map((row) => String(row[COLUMNS.productId]));
  if (ids.length === 0) return [];
  const withEmbeddings = options.withEmbeddings ?? false;
  const rows = await active.table
    .query()
    .where(`${COLUMNS.productId} IN ${sqlIn(ids)}`)
    .select(productColumns(active.layout, withEmbeddings))
    .toArray();
  const products = rowsToProducts(rows, active.layout, withEmbeddings);
  const order = new Map(ids.map((id, i) => [id, i]));
  return products.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
}
