// Look-ups that make ingest idempotent: which images and listings are already stored.

import { GroknetError } from '../errors.ts';
import type { Analysis, HeadResult } from '../model/types.ts';
import type { CatalogContext } from './context.ts';
import { garmentsOf, toFloat32 } from './rows.ts';
import { COLUMNS, GARMENT_COLUMNS } from './schema.ts';
import type { ImageGarment } from './types.ts';
import { sqlIn, sqlString } from './sql.ts';

const SHA256 = /^[0-9a-f]{64}$/;
// Keeps IN (...) lists, and so the SQL text, to a sane size.
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export async function hasImageHash(ctx: CatalogContext, contentHash: string): Promise<boolean> {
  if (!SHA256.test(contentHash)) throw new GroknetError('invalid_argument', 'content hash must be sha256 hex');
  const active = await ctx.current();
  if (!active) return false;
  return (await active.table.countRows(`${COLUMNS.contentHash} = ${sqlString(contentHash)}`)) > 0;
}

export async function getProductHashes(ctx: CatalogContext, ids: readonly string[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const active = await ctx.current();
  if (!active || ids.length === 0) return result;
  for (const chunk of chunks([...new Set(ids)])) {
    const rows = await active.table
      .query()
      .where(`${COLUMNS.imageIndex} = 0 AND ${COLUMNS.productId} IN ${sqlIn(chunk)}`)
      .select([COLUMNS.productId, COLUMNS.productHash])
      .toArray();
    for (const row of rows) result.set(String(row[COLUMNS.productId]), String(row[COLUMNS.productHash]));
  }
  return result;
}

export async function analysesByHash(ctx: CatalogContext, hashes: readonly string[]): Promise<Map<string, Analysis>> {
  const result = new Map<string, Analysis>();
  const active = await ctx.current();
  const wanted = [...new Set(hashes)].filter((h) => SHA256.test(h));
  if (!active || wanted.length === 0) return result;
  for (const chunk of chunks(wanted)) {
    const rows = await active.table
      .query()
      .where(`${COLUMNS.contentHash} IN ${sqlIn(chunk)}`)
      .select([COLUMNS.contentHash, COLUMNS.heads, COLUMNS.vector, COLUMNS.code, COLUMNS.modelVersion])
      .toArray();
    for (const row of rows) {
      const hash = String(row[COLUMNS.contentHash]);
      if (result.has(hash)) continue;
      result.set(hash, {
        heads: JSON.parse(String(row[COLUMNS.heads])) as Record<string, HeadResult>,
        embedding: toFloat32(row[COLUMNS.vector]),
        code: String(row[COLUMNS.code]),
        modelVersion: String(row[COLUMNS.modelVersion]),
      });
    }
  }
  return result;
}

export async function garmentsByHash(ctx: CatalogContext, hashes: readonly string[]): Promise<Map<string, ImageGarment[]>> {
  const result = new Map<string, ImageGarment[]>();
  const active = await ctx.current();
  const wanted = [...new Set(hashes)].filter((h) => SHA256.test(h));
  if (!active?.layout.garments || wanted.length === 0) return result;
  for (const chunk of chunks(wanted)) {
    const rows = await active.table
      .query()
      .where(`${COLUMNS.contentHash} IN ${sqlIn(chunk)} AND ${GARMENT_COLUMNS.garments} IS NOT NULL`)
      .select([COLUMNS.contentHash, GARMENT_COLUMNS.garments])
      .toArray();
    for (const row of rows) {
      const garments = garmentsOf(row);
      if (garments) result.set(String(row[COLUMNS.contentHash]), garments);
    }
  }
  return result;
}
