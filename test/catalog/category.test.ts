// The seller's category (ListingFields.category): stored as a column, read back, filtered
// (`category`) and counted in facets; and a catalog written before the column existed opens,
// reads null, searches, and gets the column with its first category.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openCatalog } from '../../src/catalog/open.ts';
import { CATEGORY_COLUMN } from '../../src/catalog/schema.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { searchCatalog } from '../../src/search/search.ts';
import { searchVector } from '../../src/search/search-vector.ts';
import { productFrom } from '../helpers/catalog.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { tempDir } from '../helpers/tmp.ts';

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir();
});
after(() => tmp.cleanup());

const open = (name: string) => openCatalog(join(tmp.path, name), { embeddingDim: analyzer.embeddingDim });
const byWords = (catalog: CatalogStore, text: string, filters = {}) => searchCatalog({ catalog }, { text, filters, limit: 20 });

async function shop() {
  return [
    await productFrom(analyzer, 'sofa-green', [{ background: 'green' }], { title: 'Green sofa', category: 'Sofas' }),
    await productFrom(analyzer, 'sofa-red', [{ background: 'red' }], { title: 'Red sofa', category: 'Sofas' }),
    await productFrom(analyzer, 'chair-red', [{ background: 'red', shape: 'circle', foreground: 'white' }], { title: 'Red chair', category: 'Chairs' }),
    await productFrom(analyzer, 'lamp', [{ background: 'blue' }], { title: 'Blue lamp' }),
  ];
}

describe('a listing category in the catalog', () => {
  test('round trips (null when none), and is part of the product hash only when given', async () => {
    const catalog = await open('round-trip');
    const products = await shop();
    await catalog.insertProducts(products);
    assert.equal((await catalog.info()).category, true);
    assert.equal((await catalog.getProduct('sofa-green'))?.category, 'Sofas');
    assert.equal((await catalog.getProduct('lamp'))?.category, null);
    const listed = await catalog.listProducts();
    assert.deepEqual(listed.map((p) => [p.id, p.category]), [['chair-red', 'Chairs'], ['lamp', null], ['sofa-green', 'Sofas'], ['sofa-red', 'Sofas']]);

    // Changing only the category changes the stored hash (re-index sees the listing changed).
    const before = (await catalog.getProductHashes(['sofa-red'])).get('sofa-red');
    await catalog.insertProducts([{ ...products[1]!, category: 'Couches' }]);
    assert.notEqual((await catalog.getProductHashes(['sofa-red'])).get('sofa-red'), before);
    assert.equal((await catalog.getProduct('sofa-red'))?.category, 'Couches');
    await catalog.close();
  });

  test('a bad category from a library caller is refused before anything is written', async () => {
    const catalog = await open('refused');
    const [sofa] = await shop();
    for (const category of ['x'.repeat(201), ' Sofas', 'a\u0007b']) {
      await assert.rejects(catalog.insertProducts([{ ...sofa!, category }]), { code: 'invalid_argument', message: /category must be 1-200 printable characters/ });
    }
    assert.equal(await catalog.countProducts(), 0);
    await catalog.close();
  });

  test('filters by exact category, counts a category facet, and explains the match', async () => {
    const catalog = await open('search');
    await catalog.insertProducts(await shop());

    const sofas = await byWords(catalog, '', { category: { eq: 'Sofas' } });
    assert.deepEqual(sofas.results.map((r) => r.id).sort(), ['sofa-green', 'sofa-red']);
    assert.ok(sofas.results.every((r) => r.why.includes('category=Sofas')), JSON.stringify(sofas.results.map((r) => r.why)));
    assert.deepEqual(sofas.facets.category, { Sofas: 2 });

    // Words and a category together; `in` takes several.
    const red = await byWords(catalog, 'red', { category: { in: ['Sofas', 'Chairs'] } });
    assert.deepEqual(red.results.map((r) => r.id).sort(), ['chair-red', 'sofa-red']);
    assert.deepEqual(red.facets.category, { Chairs: 1, Sofas: 1 });

    // Exact: another case or a part of the name is another category.
    assert.deepEqual((await byWords(catalog, '', { category: { eq: 'sofas' } })).results, []);

    // Facets over everything count each product's category once; a product without one is not counted.
    const everything = await byWords(catalog, 'sofa chair lamp');
    assert.equal(everything.results.length, 4);
    assert.deepEqual(everything.facets.category, { Sofas: 2, Chairs: 1 });

    // Photo searches filter and count it too.
    const green = (await catalog.getProduct('sofa-green', { withEmbeddings: true }))!.images[0]!.embedding!;
    const photo = await searchVector(catalog, green, { limit: 10, filters: { category: { eq: 'Chairs' } }, exactMatchThreshold: 0.99 });
    assert.deepEqual(photo.results.map((r) => r.id), ['chair-red']);
    assert.deepEqual(photo.facets.category, { Chairs: 1 });

    // A category filter takes text.
    await assert.rejects(byWords(catalog, '', { category: { gte: 1 } }), { code: 'query_invalid', message: /filter "category" takes text values/ });
    await catalog.close();
  });
});

describe('a catalog from before the category column', () => {
  let dir: string;
  before(async () => {
    // Such a table: the rows and metadata of today's layout without the category column.
    dir = join(tmp.path, 'old');
    const catalog = await openCatalog(dir, { embeddingDim: analyzer.embeddingDim });
    const withoutCategories = (await shop()).map(({ category: _category, ...product }) => product);
    await catalog.insertProducts(withoutCategories);
    await (await catalog.table())!.dropColumns([CATEGORY_COLUMN]);
    await catalog.close();
  });

  test('opens, reads null, searches (a category filter matches nothing) and writes listings without one as before', async () => {
    const catalog = await openCatalog(dir);
    const names = (await (await catalog.table())!.schema()).fields.map((f) => f.name);
    assert.ok(!names.includes(CATEGORY_COLUMN), 'the test built an old table');
    assert.equal((await catalog.info()).category, false);
    assert.equal((await catalog.getProduct('sofa-green'))?.category, null);
    assert.equal((await catalog.listProducts()).length, 4);
    const words = await byWords(catalog, 'sofa');
    assert.deepEqual(words.results.map((r) => r.id).sort(), ['sofa-green', 'sofa-red']);
    assert.equal(words.facets.category, undefined);
    assert.deepEqual((await byWords(catalog, 'sofa', { category: { eq: 'Sofas' } })).results, []);

    // A listing without a category is written without adding the column.
    const [, , , lamp] = await shop();
    await catalog.insertProducts([{ ...lamp!, title: 'Blue lamp, dimmable', category: null }]);
    assert.equal((await catalog.info()).category, false);
    await catalog.close();
  });

  test('gets the column with its first category, then stores, filters and counts categories', async () => {
    const catalog = await openCatalog(dir);
    const hashBefore = (await catalog.getProductHashes(['sofa-red'])).get('sofa-red');
    const [green, red] = await shop();
    await catalog.insertProducts([green!]);
    assert.equal((await catalog.info()).category, true);
    assert.equal((await catalog.getProduct('sofa-green'))?.category, 'Sofas');
    // The other rows read null, keep their hash (nothing to re-index) and are still found.
    assert.equal((await catalog.getProduct('sofa-red'))?.category, null);
    assert.equal((await catalog.getProductHashes(['sofa-red'])).get('sofa-red'), hashBefore);
    await catalog.insertProducts([red!]);
    const sofas = await byWords(catalog, '', { category: { eq: 'Sofas' } });
    assert.deepEqual(sofas.results.map((r) => r.id).sort(), ['sofa-green', 'sofa-red']);
    assert.deepEqual(sofas.facets.category, { Sofas: 2 });
    await catalog.close();

    // Another process opening it afterwards sees the column.
    const reopened = await openCatalog(dir);
    assert.equal((await reopened.getProduct('sofa-green'))?.category, 'Sofas');
    await reopened.close();
  });
});
