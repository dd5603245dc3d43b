// getProduct: one product with all its images.

import type { CatalogContext } from './context.ts';
import { productColumns } from './columns.ts';
import { rowsToProducts, validateProductId } from './rows.ts';
import { COLUMNS } from './schema.ts';
import { sqlString } from './sql.ts';
import type { Product } from './types.ts';

export async function getProduct(
  ctx: CatalogContext,
  id: string,
  options: { withEmbeddings?: boolean } = {},
): Promise<Product | undefined> {
  validateProductId(id);
  const active = await ctx.current();
  if (!active) return undefined;
  const withEmbeddings = options.withEmbeddings ?? false;
  const rows = await active.table
    .query()
    .where(`${COLUMNS.productId} = ${sqlString(id)}`)
    .select(productColumns(active.layout, withEmbeddings))
    .toArray();
  return rowsToProducts(rows, active.layout, withEmbeddings)[0];
}
