// deleteProduct: removes every image row of a product in one commit.

import { GroknetError } from '../errors.ts';
import type { CatalogContext } from './context.ts';
import { validateProductId } from './rows.ts';
import { COLUMNS } from './schema.ts';
import { sqlString } from './sql.ts';

export async function deleteProduct(ctx: CatalogContext, id: string): Promise<boolean> {
  validateProductId(id);
  return ctx.withWriteLock(async () => {
    const active = await ctx.current();
    if (!active) return false;
    try {
      const result = await active.table.delete(`${COLUMNS.productId} = ${sqlString(id)}`);
      return result.numDeletedRows > 0;
    } catch (error) {
      throw new GroknetError('store_error', `deleting ${id} failed`, { cause: error });
    }
  });
}
