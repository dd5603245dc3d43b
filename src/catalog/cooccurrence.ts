// "Seen together": catalog products found in the same photo. Kept in a LanceDB table
// `cooccurrence` in the catalog directory, beside the image tables, as evidence rows: one
// row per pair of products per photo per publishing product. A link's count is the number
// of distinct photos the pair was seen in, computed when read. Evidence rather than a
// stored counter because
//  - re-indexing a listing replaces what its photos said (one merge keyed per row), so a
//    rerun or a queue retry never counts a photo twice;
//  - several writers (serve, index, workers) only ever upsert their own rows, so there is
//    no read-increment-write race to lose counts in;
//  - deleting a product removes its pairs and the pairs its photos gave, in one delete.
// The table does not depend on the model, so reindex leaves it alone.

import { createHash } from 'node:crypto';
import { Index, type Table } from '@lancedb/lancedb';
import { Field, Int64, Schema, Utf8 } from 'apache-arrow';
import { GroknetError, isGroknetError } from '../errors.ts';
import type { CatalogContext } from './context.ts';
import { SCALAR_INDEX_THRESHOLD } from './indexes.ts';
import { validateProductId } from './rows.ts';
import { sqlString } from './sql.ts';
import type { PhotoSighting, SeenTogetherLink } from './types.ts';

export const COOCCURRENCE_TABLE = 'cooccurrence';

const C = {
  key: 'key',
  /** The pair, ordered so that a < b: (x, y) and (y, x) are one link. */
  a: 'a',
  b: 'b',
  /** sha256 of the photo the pair was seen in. */
  photo: 'photo',
  /** The product whose publication contributed the photo. */
  source: 'source',
  updated: 'updated',
} as const;

type EvidenceRow = Record<(typeof C)[keyof typeof C], string | bigint>;

const SCHEMA = new Schema([
  new Field(C.key, new Utf8(), false),
  new Field(C.a, new Utf8(), false),
  new Field(C.b, new Utf8(), false),
  new Field(C.photo, new Utf8(), false),
  new Field(C.source, new Utf8(), false),
  new Field(C.updated, new Int64(), false),
]);

/** Every unordered pair of distinct products, each ordered (a < b). */
export function pairsOf(products: readonly string[]): Array<[string, string]> {
  const distinct = [...new Set(products)].sort();
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < distinct.length; i++) {
    for (let j = i + 1; j < distinct.length; j++) pairs.push([distinct[i]!, distinct[j]!]);
  }
  return pairs;
}

function evidenceKey(source: string, photo: string, a: string, b: string): string {
  // Ids may hold any printable character, so they are hashed rather than joined with a separator.
  return createHash('sha256').update(JSON.stringify([source, photo, a, b])).digest('hex');
}

export class CooccurrenceStore {
  private table: Table | undefined;

  constructor(private readonly ctx: CatalogContext) {}

  /**
   * Replaces the evidence contributed by product `source` with what `sightings` say (one
   * commit). Each sighting lists the catalog products found in one photo of `source`,
   * usually `source` itself among them; every pair in a photo is one piece of evidence.
   */
  async record(source: string, sightings: readonly PhotoSighting[]): Promise<{ pairs: number }> {
    validateProductId(source);
    const now = BigInt(Date.now());
    const rows = new Map<string, EvidenceRow>();
    for (const { photo, products } of sightings) {
      if (!/^[0-9a-f]{64}$/.test(photo)) throw new GroknetError('invalid_argument', 'a sighting photo must be a sha256 hex hash');
      for (const id of products) validateProductId(id);
      for (const [a, b] of pairsOf(products)) {
        const key = evidenceKey(source, photo, a, b);
        rows.set(key, { key, a, b, photo, source, updated: now });
      }
    }
    await this.ctx.withWriteLock(async () => {
      const table = await this.open(rows.size > 0);
      if (!table) return; // nothing recorded before and nothing to record now
      try {
        if (rows.size === 0) {
          await table.delete(`${C.source} = ${sqlString(source)}`);
          return;
        }
        // Matched rows are refreshed, new ones added, and this source's rows that are not
        // in `rows` (photos it no longer has, products no longer found) are deleted.
        await table
          .mergeInsert(C.key)
          .whenMatchedUpdateAll()
          .whenNotMatchedInsertAll()
          .whenNotMatchedBySourceDelete({ where: `${C.source} = ${sqlString(source)}` })
          .execute([...rows.values()]);
      } catch (error) {
        if (isGroknetError(error)) throw error;
        throw new GroknetError('store_error', `recording what was seen with ${source} failed`, { cause: error });
      }
    });
    return { pairs: rows.size };
  }

  /** Products seen in a photo with `id`: most photos first, then most recently seen, then id. */
  async linksOf(id: string, limit: number): Promise<SeenTogetherLink[]> {
    validateProductId(id);
    if (!Number.isInteger(limit) || limit < 1) throw new GroknetError('invalid_argument', `limit must be a positive integer, got ${limit}`);
    const table = await this.open(false);
    if (!table) return [];
    const quoted = sqlString(id);
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await table
        .query()
        .where(`${C.a} = ${quoted} OR ${C.b} = ${quoted}`)
        .select([C.a, C.b, C.photo, C.updated])
        .toArray();
    } catch (error) {
      throw new GroknetError('store_error', `reading what was seen with ${id} failed`, { cause: error });
    }
    const byOther = new Map<string, { photos: Set<string>; updated: number }>();
    for (const row of rows) {
      const other = String(row[C.a]) === id ? String(row[C.b]) : String(row[C.a]);
      const link = byOther.get(other) ?? { photos: new Set<string>(), updated: 0 };
      link.photos.add(String(row[C.photo]));
      link.updated = Math.max(link.updated, Number(row[C.updated]));
      byOther.set(other, link);
    }
    return [...byOther.entries()]
      .map(([other, link]) => ({ id: other, count: link.photos.size, updated: link.updated }))
      .sort((x, y) => y.count - x.count || y.updated - x.updated || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
      .slice(0, limit);
  }

  /** Forgets a product: its pairs, and the pairs its own photos gave. */
  async remove(id: string): Promise<void> {
    validateProductId(id);
    await this.ctx.withWriteLock(async () => {
      const table = await this.open(false);
      if (!table) return;
      const quoted = sqlString(id);
      try {
        await table.delete(`${C.a} = ${quoted} OR ${C.b} = ${quoted} OR ${C.source} = ${quoted}`);
      } catch (error) {
        throw new GroknetError('store_error', `removing the links of ${id} failed`, { cause: error });
      }
    });
  }

  /** B-tree indexes on the look-up columns once they pay off, and compaction of small writes. */
  async optimize(): Promise<void> {
    await this.ctx.withWriteLock(async () => {
      const table = await this.open(false);
      if (!table) return;
      try {
        if ((await table.countRows()) >= SCALAR_INDEX_THRESHOLD) {
          const indexed = new Set((await table.listIndices()).flatMap((index) => index.columns));
          for (const column of [C.key, C.a, C.b, C.source]) {
            if (!indexed.has(column)) await table.createIndex(column, { config: Index.btree() });
          }
        }
        await table.optimize();
      } catch (error) {
        throw new GroknetError('store_error', 'optimizing the seen-together links failed', { cause: error });
      }
    });
  }

  close(): void {
    this.table?.close();
    this.table = undefined;
  }

  /** The table, created on first write; undefined when it does not exist and `create` is false. */
  private async open(create: boolean): Promise<Table | undefined> {
    if (this.table) return this.table;
    try {
      this.table = create
        ? await this.ctx.createTable(COOCCURRENCE_TABLE, SCHEMA)
        : await this.ctx.openIfExists(COOCCURRENCE_TABLE);
    } catch (error) {
      throw new GroknetError('store_error', `cannot open the ${COOCCURRENCE_TABLE} table`, { cause: error });
    }
    return this.table;
  }
}
