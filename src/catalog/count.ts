// countProducts: one row per product has image_index 0.

import type { CatalogContext } from './context.ts';
import { COLUMNS } from './schema.ts';

export async function countProducts(ctx: CatalogContext): Promise<number> {
  const active = await ctx.current();
  if (!active) return 0;
  return active.table.countRows(`${COLUMNS.imageIndex} = 0`);
}
