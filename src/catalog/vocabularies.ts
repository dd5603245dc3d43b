// vocabularies: the distinct labels each single-label head has predicted in this catalog,
// and the distinct garments stored with its photos. The query parser matches words against
// these, so "sofa" only becomes a filter when the catalog actually has sofas under some
// head, and "red dress" only asks for a red dress when some photo has one.

import type { CatalogContext } from './context.ts';
import { listCellValues } from './rows.ts';
import { GARMENT_COLUMNS, headColumn } from './schema.ts';
import type { GarmentVocabulary } from './types.ts';

const cache = new WeakMap<CatalogContext, { key: string; value: Record<string, string[]> }>();
const garmentCache = new WeakMap<CatalogContext, { key: string; value: GarmentVocabulary }>();

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

export async function garmentVocabulary(ctx: CatalogContext): Promise<GarmentVocabulary> {
  const empty: GarmentVocabulary = { labels: [], colours: [], pairs: [] };
  const active = await ctx.current();
  if (!active?.layout.garments) return empty;
  const key = `${active.name}@${await active.table.version()}`;
  const cached = garmentCache.get(ctx);
  if (cached?.key === key) return cached.value;

  const labels = new Set<string>();
  const colours = new Set<string>();
  const pairs = new Set<string>();
  const query = active.table.query().where(`${GARMENT_COLUMNS.labels} IS NOT NULL`).select([GARMENT_COLUMNS.labels, GARMENT_COLUMNS.colours]);
  for await (const batch of query) {
    for (const cell of batch.getChild(GARMENT_COLUMNS.labels) ?? []) for (const label of listCellValues(cell)) labels.add(label);
    // garment_colours holds colours and label:colour pairs side by side (schema.ts).
    for (const cell of batch.getChild(GARMENT_COLUMNS.colours) ?? []) {
      for (const value of listCellValues(cell)) (value.includes(':') ? pairs : colours).add(value);
    }
  }
  const value = { labels: [...labels].sort(), colours: [...colours].sort(), pairs: [...pairs].sort() };
  garmentCache.set(ctx, { key, value });
  return value;
}
