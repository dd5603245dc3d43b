// Seen-together links in the catalog: pairs per photo, counted in distinct photos, ranked,
// replaced when a product's photos are recorded again, removed with the product.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pairsOf } from '../../src/catalog/cooccurrence.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import { productFrom } from '../helpers/catalog.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { tempDir } from '../helpers/tmp.ts';

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;
const photo = (n: number): string => n.toString(16).padStart(64, '0');
const ids = (links: Array<{ id: string; count: number }>) => links.map((l) => [l.id, l.count]);

before(async () => {
  tmp = await tempDir();
  catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: analyzer.embeddingDim });
  const colours = { tee: '#dc1e1e', jeans: '#1e46dc', cap: '#f5dc14', bag: '#28aa3c', shoes: '#f5f5f5' };
  await catalog.insertProducts(await Promise.all(Object.entries(colours).map(([id, background]) => productFrom(analyzer, id, [{ background }]))));
});
after(async () => {
  await catalog.close();
  await tmp.cleanup();
});

test('pairs are unordered and distinct', () => {
  assert.deepEqual(pairsOf(['b', 'a', 'c', 'a']), [['a', 'b'], ['a', 'c'], ['b', 'c']]);
  assert.deepEqual(pairsOf(['a']), []);
});

test('nothing recorded: no links, no table needed', async () => {
  assert.deepEqual(await catalog.seenTogether('tee'), []);
  assert.deepEqual(await catalog.recordSeenTogether('tee', []), { pairs: 0 });
});

test('links are counted in photos and ranked by count, then by recency', async () => {
  // tee's two photos: jeans in both, cap in one.
  assert.deepEqual(await catalog.recordSeenTogether('tee', [
    { photo: photo(1), products: ['tee', 'jeans', 'cap'] },
    { photo: photo(2), products: ['tee', 'jeans'] },
  ]), { pairs: 4 });
  // bag's photo shows the cap and the jeans: they are linked with each other too.
  await new Promise((r) => setTimeout(r, 5));
  await catalog.recordSeenTogether('bag', [{ photo: photo(3), products: ['bag', 'cap', 'jeans'] }]);

  assert.deepEqual(ids(await catalog.seenTogether('tee')), [['jeans', 2], ['cap', 1]]);
  // cap and tee tie on two photos: cap was seen with the jeans more recently.
  assert.deepEqual(ids(await catalog.seenTogether('jeans')), [['cap', 2], ['tee', 2], ['bag', 1]]);
  assert.deepEqual(ids(await catalog.seenTogether('cap')), [['jeans', 2], ['bag', 1], ['tee', 1]]);
  assert.deepEqual(ids(await catalog.seenTogether('jeans', { limit: 1 })), [['cap', 2]]);
  const [link] = await catalog.seenTogether('tee');
  assert.ok(link && link.updated > Date.now() - 60_000 && link.updated <= Date.now());
});

test('the same photo published twice (two listings) counts once; recording a product again replaces its evidence', async () => {
  await catalog.recordSeenTogether('shoes', [{ photo: photo(1), products: ['shoes', 'tee', 'jeans'] }]);
  assert.deepEqual(ids(await catalog.seenTogether('tee')), [['jeans', 2], ['shoes', 1], ['cap', 1]], 'tee-jeans in photo 1 is not counted twice');
  // Re-indexing tee with only photo 1 left (twice, as a retry would): photo 2's evidence goes.
  for (let i = 0; i < 2; i++) await catalog.recordSeenTogether('tee', [{ photo: photo(1), products: ['tee', 'jeans', 'cap'] }]);
  assert.deepEqual(ids(await catalog.seenTogether('tee')), [['cap', 1], ['jeans', 1], ['shoes', 1]]);
  // A product whose photos now show nothing else loses what its photos said.
  await catalog.recordSeenTogether('shoes', [{ photo: photo(1), products: ['shoes'] }]);
  assert.equal((await catalog.seenTogether('tee')).find((l) => l.id === 'shoes'), undefined);
});

test('deleting a product removes its links and what its photos said', async () => {
  assert.ok((await catalog.seenTogether('cap')).some((l) => l.id === 'bag'));
  assert.equal(await catalog.deleteProduct('bag'), true);
  assert.deepEqual(await catalog.seenTogether('bag'), []);
  assert.equal((await catalog.seenTogether('cap')).find((l) => l.id === 'bag'), undefined);
  assert.equal((await catalog.seenTogether('cap')).find((l) => l.id === 'jeans')?.count, 1, 'cap and jeans are still seen together in tee\'s photo, not in bag\'s');
  assert.deepEqual(ids(await catalog.seenTogether('jeans')).map(([id]) => id).sort(), ['cap', 'tee']);
});

test('bad input is refused with invalid_argument', async () => {
  const invalid = (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument';
  await assert.rejects(catalog.recordSeenTogether('tee', [{ photo: 'not-a-hash', products: ['tee', 'jeans'] }]), invalid);
  await assert.rejects(catalog.recordSeenTogether(' tee', []), invalid);
  await assert.rejects(catalog.recordSeenTogether('tee', [{ photo: photo(9), products: ['tee', 'bad\u0000id'] }]), invalid);
  await assert.rejects(catalog.seenTogether('tee', { limit: 0 }), invalid);
  assert.deepEqual(await catalog.seenTogether("x' OR a = 'tee' --"), [], 'ids are quoted, not interpreted');
});
