// Above the size threshold the catalog builds its vector index (IVF_HNSW_SQ); search must still
// find an exact match first.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore, ProductInput } from '../../src/catalog/types.ts';
import { searchVector } from '../../src/search/search-vector.ts';
import { codeFromEmbedding } from '../helpers/colour-analyzer.ts';
import { tempDir } from '../helpers/tmp.ts';
import { sha256 } from '../../src/catalog/hash.ts';

const DIM = 32;
const ROWS = 300;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;

function randomUnit(seed: number): Float32Array {
  let s = seed;
  const v = new Float32Array(DIM).map(() => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

function product(i: number): ProductInput {
  const embedding = randomUnit(i + 1);
  return {
    id: `r${i}`,
    title: `Random ${i}`,
    images: [{
      path: `/virtual/${i}.png`,
      contentHash: sha256(`image ${i}`),
      analysis: { heads: {}, embedding, code: codeFromEmbedding(embedding), modelVersion: 'synthetic@1' },
    }],
  };
}

before(async () => {
  tmp = await tempDir();
  catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: DIM, vectorIndexThreshold: 256 });
});
after(async () => {
  await catalog.close();
  await tmp.cleanup();
});

test('the vector index is built above the threshold and search still ranks the exact vector first', async () => {
  await catalog.insertProducts(Array.from({ length: ROWS }, (_, i) => product(i)));
  await catalog.optimize();
  const indices = await (await catalog.table())!.listIndices();
  const vectorIndex = indices.find((i) => i.columns.includes('vector'));
  assert.ok(vectorIndex, 'vector index exists');
  assert.match(vectorIndex.indexType, /HNSW/i, `the catalog builds IVF_HNSW_SQ, got ${vectorIndex.indexType}`);
  for (const i of [0, 137, 299]) {
    const response = await searchVector(catalog, randomUnit(i + 1), { exactMatchThreshold: 0.99, limit: 3 });
    assert.equal(response.results[0]?.id, `r${i}`);
    assert.equal(response.results[0]?.match, 'exact');
  }
  // New rows after the index was built are still found (LanceDB searches unindexed rows too).
  await catalog.insertProducts([product(1000)]);
  const fresh = await searchVector(catalog, randomUnit(1001), { exactMatchThreshold: 0.99, limit: 1 });
  assert.equal(fresh.results[0]?.id, 'r1000');
});

test('optimize indexes the filter columns, and a filtered search on the indexed catalog keeps to the filter', async () => {
  const dir = await tempDir();
  const filtered = await openCatalog(join(dir.path, 'data'), { embeddingDim: DIM, vectorIndexThreshold: 256, scalarIndexThreshold: 100 });
  try {
    // Colours with very different shares: red 4 rows in 5, blue 1 in 5, green 1 in 50.
    const colourOf = (i: number) => (i % 50 === 0 ? 'green' : i % 5 === 0 ? 'blue' : 'red');
    const products = Array.from({ length: ROWS }, (_, i) => {
      const p = product(i);
      const image = p.images[0]!;
      return { ...p, price: i, images: [{ ...image, analysis: { ...image.analysis, heads: { colour: { kind: 'single' as const, top: [{ label: colourOf(i), score: 0.9 }] } } } }] };
    });
    await filtered.insertProducts(products);
    await filtered.optimize();
    const indices = await (await filtered.table())!.listIndices();
    const typeOf = (column: string) => indices.find((i) => i.columns.includes(column))?.indexType;
    assert.match(String(typeOf('head_colour')), /bitmap/i);
    assert.match(String(typeOf('price')), /btree/i);
    for (const colour of ['red', 'blue', 'green']) {
      const target = products.findIndex((_, i) => colourOf(i) === colour && i > 100);
      const response = await searchVector(filtered, randomUnit(target + 1), { exactMatchThreshold: 0.99, limit: 5, filters: { colour: { eq: colour } } });
      assert.equal(response.results[0]?.id, `r${target}`, `${colour}: the exact product first`);
      const expected = products.filter((_, i) => colourOf(i) === colour).length;
      assert.equal(response.results.length, Math.min(5, expected));
      for (const result of response.results) assert.equal(colourOf(Number(result.id.slice(1))), colour);
    }
  } finally {
    await filtered.close();
    await dir.cleanup();
  }
});
