// vocabularies: the distinct labels each single-label head has predicted in this catalog.
// The query parser matches words against these, so "sofa" only becomes a filter when the
// catalog actually has sofas under some head.

import type { CatalogContext } from './context.ts';
import { headColumn } from './schema.ts';

const cache = new WeakMap<CatalogContext, { key: string; value: Record<string, string[]> }>();

export async function vocabularies(ctx: CatalogContext): Promise<Record<string, string[]>> {
  const active = await ctx.current();
  if (!active) return {};
  // Scanning label columns is cheap but not free: reuse the answer until the table changes.
  const key = `${active.name}@${await active.table.version()}`;
  const cached = cache.get(ctx);
  if (cached?.key === key) return cached.value;

  const entries = Object.entries(active.layout.heads);
  const sets = new Map<string, Set<string>>(entries.map(([, head]) => [head, new Set<string>()]));
  if (entries.length > 0) {
    const columns = entries.map(([column]) => headColumn(column));
    for await (const batch of active.table.query().select(columns)) {
      for (const [column, head] of entries) {
        const vector = batch.getChild(headColumn(column));
        if (!vector) continue;
        for (const value of vector) if (typeof value === 'string') sets.get(head)!.add(value);
      }
    }
  }
  const value = Object.fromEntries([...sets].map(([head, set]) => [head, [...set].sort()]));
  cache.set(ctx, { key, value });
  return value;
}
