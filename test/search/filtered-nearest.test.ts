// Filtered k-NN on a real LanceDB table with an IVF_HNSW_SQ index: each plan returns only rows
// that pass the filter, the exact scan returns the true nearest, post-filtering falls back to
// prefiltering when too few rows survive, the in-memory subsets return the true nearest once
// read and are dropped when the table changes, and the cached counts follow the table's changes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Schema, Utf8 } from 'apache-arrow';
import { filteredNearest, settleFilterCaches } from '../../src/search/filtered-nearest.ts';
import { rng } from '../../src/util/random.ts';
import { tempDir } from '../helpers/tmp.ts';

const DIM = 16;
// Small thresholds so a table of a few hundred rows exercises every plan; in-memory subsets
// off except in their own tests.
const TUNING = { flatScanMaxRows: 50, postfilterMargin: 3, postfilterMaxFetch: 400, allowSetMaxRows: 520, subsetMaxRows: 0 };
const WITH_SUBSETS = { ...TUNING, subsetMaxRows: 600 };
const random = rng(7);

type Item = { id: string; kind: string; vector: number[] };
type Hit = { id: string; kind: string; _distance: number };

function unit(v: number[]): number[] {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}
/** Near +e0 for 'common' and 'rare' rows; 'far' rows point the other way. */
function item(i: number, kind: string): Item {
  const v = Array.from({ length: DIM }, () => (random() - 0.5) * 0.8);
  v[0] = kind === 'far' ? -2 : 2;
  return { id: `${kind}${i}`, kind, vector: unit(v) };
}
const cosine = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, j) => s + x * b[j]!, 0);

let tmp: Awaited<ReturnType<typeof tempDir>>;
let table: lancedb.Table;
const items: Item[] = [];
const query = unit([1, ...Array.from({ length: DIM - 1 }, () => 0.05)]);

before(async () => {
  tmp = await tempDir();
  const db = await lancedb.connect(tmp.path);
  for (let i = 0; i < 500; i++) items.push(item(i, 'common'));
  for (let i = 0; i < 20; i++) items.push(item(i, 'rare'));
  for (let i = 0; i < 80; i++) items.push(item(i, 'far'));
  const schema = new Schema([
    new Field('id', new Utf8()),
    new Field('kind', new Utf8()),
    new Field('vector', new FixedSizeList(DIM, new Field('item', new Float32(), true))),
  ]);
  table = await db.createTable('items', items, { schema });
  await table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine' }) });
  await table.createIndex('kind', { config: lancedb.Index.bitmap() });
});
after(async () => {
  table.close();
  await tmp.cleanup();
});

const search = (where: string | undefined, limit = 10, tuning = TUNING) =>
  filteredNearest<Hit>(table, { vector: query, column: 'vector', where, limit, select: ['id', 'kind', '_distance'] }, tuning);

function exactTop(kind: string, k: number): string[] {
  return items.filter((i) => i.kind === kind).sort((a, b) => cosine(query, b.vector) - cosine(query, a.vector)).slice(0, k).map((i) => i.id);
}

test('no filter: a plain ANN search', async () => {
  const found = await search(undefined);
  assert.equal(found.plan.kind, 'ann');
  assert.equal(found.rows.length, 10);
});

test('a selective filter scans its rows exactly and returns the true nearest', async () => {
  const found = await search("kind = 'rare'", 5);
  assert.equal(found.plan.kind, 'flat');
  assert.deepEqual(found.rows.map((r) => r.id), exactTop('rare', 5));
});

test('a filter keeping most rows post-filters: in LanceDB first, from its cached row ids once they are read', async () => {
  const first = await search("kind = 'common'");
  assert.equal(first.plan.kind === 'postfilter' && first.plan.via, 'lancedb', 'the row-id set is read in the background');
  assert.equal(first.fallback, false);
  assert.equal(first.rows.length, 10);
  assert.ok(first.rows.every((r) => r.kind === 'common'));

  await settleFilterCaches(table);
  const found = await search("kind = 'common'");
  assert.equal(found.plan.kind === 'postfilter' && found.plan.via, 'rowIds');
  for (const [n, row] of found.rows.entries()) if (n > 0) assert.ok(row._distance >= found.rows[n - 1]!._distance, 'nearest first');
  // Same rows, each with the distance LanceDB gives it.
  assert.deepEqual(found.rows.map((r) => [r.id, r._distance]), first.rows.map((r) => [r.id, r._distance]));

  // Filters keeping too many rows to cache their ids always post-filter in LanceDB.
  const wide = await filteredNearest<Hit>(table, { vector: query, column: 'vector', where: "kind <> 'rare'", limit: 10, select: ['id', 'kind', '_distance'] }, { ...TUNING, allowSetMaxRows: 100 });
  await settleFilterCaches(table);
  const again = await filteredNearest<Hit>(table, { vector: query, column: 'vector', where: "kind <> 'rare'", limit: 10, select: ['id', 'kind', '_distance'] }, { ...TUNING, allowSetMaxRows: 100 });
  assert.equal(wide.plan.kind === 'postfilter' && wide.plan.via, 'lancedb');
  assert.equal(again.plan.kind === 'postfilter' && again.plan.via, 'lancedb');
});

test('post-filtering that keeps too few rows falls back to prefiltering', async () => {
  // 'far' is 80 of 600 rows (above the flat limit), so the plan post-filters the 225 nearest:
  // all 'common' or 'rare', none 'far'.
  const found = await search("kind = 'far'");
  assert.equal(found.plan.kind, 'postfilter');
  assert.equal(found.fallback, true);
  assert.equal(found.rows.length, 10);
  assert.ok(found.rows.every((r) => r.kind === 'far'));
});

test('the rows of a filter searched in memory once read: the true nearest, with cosine distances', async () => {
  const first = await search("kind = 'far'", 5, WITH_SUBSETS);
  // Not in memory yet: the plan without subsets (here post-filtering, then prefiltering).
  assert.notEqual(first.plan.kind, 'subset');
  assert.ok(first.rows.every((r) => r.kind === 'far'));
  await settleFilterCaches(table);
  const found = await search("kind = 'far'", 5, WITH_SUBSETS);
  assert.equal(found.plan.kind, 'subset');
  assert.equal(found.fallback, false);
  // The same rows; near-ties may swap (the scores are 8-bit), so the order is checked on the distances.
  assert.deepEqual(found.rows.map((r) => r.id).sort(), exactTop('far', 5).sort());
  for (const [n, row] of found.rows.entries()) if (n > 0) assert.ok(row._distance >= found.rows[n - 1]!._distance, 'nearest first');
  for (const row of found.rows) {
    const exact = 1 - cosine(query, items.find((i) => i.id === row.id)!.vector);
    assert.ok(Math.abs(row._distance - exact) < 0.01, `${row._distance} vs ${exact}`);
    assert.deepEqual(Object.keys(row).sort(), ['_distance', 'id', 'kind'], 'only the selected columns');
  }
  // A filter keeping every row is one subset too (600 rows, at the limit).
  await search("kind <> 'none'", 10, WITH_SUBSETS);
  await settleFilterCaches(table);
  const all = await search("kind <> 'none'", 10, WITH_SUBSETS);
  assert.equal(all.plan.kind, 'subset');
  assert.deepEqual(all.rows.map((r) => r.id).sort(), [...items].sort((a, b) => cosine(query, b.vector) - cosine(query, a.vector)).slice(0, 10).map((i) => i.id).sort());
});

test('a write drops the subsets read before it: the next query plans without them and reads them again', async () => {
  await search("kind = 'rare'", 5, WITH_SUBSETS);
  await settleFilterCaches(table);
  assert.equal((await search("kind = 'rare'", 5, WITH_SUBSETS)).plan.kind, 'subset');
  const added = item(900, 'rare');
  added.vector = query; // the new nearest
  items.push(added);
  await table.add([added]);
  const after = await search("kind = 'rare'", 5, WITH_SUBSETS);
  assert.notEqual(after.plan.kind, 'subset');
  assert.equal(after.rows[0]!.id, 'rare900');
  await settleFilterCaches(table);
  const again = await search("kind = 'rare'", 5, WITH_SUBSETS);
  assert.equal(again.plan.kind, 'subset');
  assert.deepEqual(again.rows.map((r) => r.id).sort(), exactTop('rare', 5).sort());
});

test('a filter nothing matches answers empty', async () => {
  const found = await search("kind = 'none'");
  assert.deepEqual(found.rows, []);
});

test('counts are re-read after the table changes, so the plan follows the data', async () => {
  assert.equal((await search("kind = 'rare'")).plan.kind, 'flat');
  await table.add(Array.from({ length: 60 }, (_, i) => item(100 + i, 'rare')));
  // 80 rare rows now: too many to scan under these thresholds.
  assert.notEqual((await search("kind = 'rare'")).plan.kind, 'flat');
});
