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
