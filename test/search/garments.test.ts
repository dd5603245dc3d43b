// Search by the garments stored at indexing time: the `garment` and `garment_colour`
// filters (text, photo and filter-only searches), their explanations and facets, and
// "red dress" in words asking for a red dress rather than a red photo.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { searchText } from '../../src/search/search-text.ts';
import { searchByImage } from '../../src/search/search.ts';
import type { Filters } from '../../src/search/types.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { outfitPhoto, outfitSegmenter, OUTFITS, writeOutfits } from '../helpers/outfits.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;
/** The same listings indexed without their garments. */
let plain: CatalogStore;
const analyzer = createColourAnalyzer();

before(async () => {
  tmp = await tempDir();
  const source = await writeOutfits(tmp.path);
  catalog = await openCatalog(join(tmp.path, 'garments'), { embeddingDim: analyzer.embeddingDim });
  plain = await openCatalog(join(tmp.path, 'plain'), { embeddingDim: analyzer.embeddingDim });
  assert.equal((await ingest(source, { catalog, analyzer, segmenter: outfitSegmenter() })).indexed, OUTFITS.length);
  assert.equal((await ingest(source, { catalog: plain, analyzer })).indexed, OUTFITS.length);
});
after(async () => {
  await catalog?.close();
  await plain?.close();
  await tmp.cleanup();
});

const ids = async (filters: Filters, store = catalog) => (await searchText(store, '', { filters, limit: 50 })).results.map((r) => r.id).sort();

describe('garment filters', () => {
  test('garment_colour=red finds photos with a red garment, not the blue dress on a red wall; =blue the reverse', async () => {
    assert.deepEqual(await ids({ garment_colour: { eq: 'red' } }), ['dress-red', 'tee-and-jeans']);
    assert.deepEqual(await ids({ garment_colour: { eq: 'blue' } }), ['dress-blue', 'tee-and-jeans']);
    // The whole photo's colour says otherwise: that is what garment colours are for.
    assert.deepEqual(await ids({ colour: { eq: 'red' } }), ['dress-blue']);
  });

  test('a garment in a colour, garments by label, lists of values', async () => {
    assert.deepEqual(await ids({ garment_colour: { eq: 'dress:red' } }), ['dress-red']);
    assert.deepEqual(await ids({ garment_colour: { eq: 'jeans:red' } }), [], 'the jeans are blue, the tee is red');
    assert.deepEqual(await ids({ garment: { eq: 'jeans' } }), ['tee-and-jeans']);
    assert.deepEqual(await ids({ garment: { in: ['dress', 'hat'] } }), ['dress-blue', 'dress-red']);
    assert.deepEqual(await ids({ garment_colour: { in: ['dress:red', 'jeans:blue'] } }), ['dress-red', 'tee-and-jeans']);
    assert.deepEqual(await ids({ garment: { eq: 'dress' }, price: { lte: 50 } }), ['dress-red']);
  });

  test('explained in `why`, counted in facets, and applied to searches by photo', async () => {
    const response = await searchText(catalog, '', { filters: { garment_colour: { eq: 'red' } } });
    const dress = response.results.find((r) => r.id === 'dress-red')!;
    assert.ok(dress.why.includes('garment_colour=red (garment in the photo)'), dress.why.join('; '));
    assert.deepEqual(response.facets.garment, { 'dress': 1, 'jeans': 1, 't-shirt': 1 });
    assert.equal(response.facets.garment_colour!.red, 2);
    assert.equal(response.facets.garment_colour!['dress:red'], 1);

    const byPhoto = await searchByImage(catalog, analyzer, await outfitPhoto(OUTFITS[1]!), { limit: 5, filters: { garment_colour: { eq: 'red' } } });
    assert.ok(!byPhoto.results.some((r) => r.id === 'dress-blue'), 'its own photo is left out by the filter');
    assert.deepEqual(byPhoto.results.map((r) => r.id).sort(), ['dress-red', 'tee-and-jeans']);
  });

  test('ranges, numbers and unknown shapes are refused; hostile values are only values', async () => {
    await assert.rejects(searchText(catalog, 'dress', { filters: { garment_colour: { gte: 1 } } }), { code: 'query_invalid', message: /takes text values/ });
    await assert.rejects(searchText(catalog, 'dress', { filters: { garment: { eq: 3 } } }), { code: 'query_invalid' });
    await assert.rejects(searchText(catalog, 'dress', { filters: { garment: { in: [] } } }), { code: 'query_invalid' });
    assert.deepEqual(await ids({ garment_colour: { eq: "red') OR true OR array_has(garment_colours, 'x" } }), []);
  });

  test('a catalog indexed without garments knows the fields but has nothing under them', async () => {
    assert.equal((await plain.info()).garments, true, 'new tables have the columns');
    assert.deepEqual(await ids({ garment_colour: { eq: 'red' } }, plain), []);
  });
});

describe('"red dress" in words', () => {
  test('ranks the red dress first: not the blue dress on a red wall, which follows as a dress', async () => {
    const response = await searchText(catalog, 'red dress');
    // The words are evidence, not filters (hybrid ranking): nothing is removed, the red dress leads.
    assert.deepEqual(response.query.filters, {});
    assert.deepEqual(response.query.recognised, [
      { phrase: 'red dress', field: 'garment_colour', value: 'dress:red' },
      { phrase: 'dress', field: 'garment', value: 'dress' },
    ]);
    assert.deepEqual(response.query.terms, []);
    assert.deepEqual(response.results.map((r) => r.id), ['dress-red', 'dress-blue']);
    assert.ok(response.results[0]!.why.includes('garment_colour=dress:red (garment in the photo)'), response.results[0]!.why.join('; '));
    assert.ok(!response.results[1]!.why.some((w) => w.startsWith('garment_colour=')), 'the blue dress is not called red');
    assert.ok(response.results[0]!.score > response.results[1]!.score);
    assert.equal((await searchText(catalog, 'blue dresses')).results[0]?.id, 'dress-blue');
    assert.deepEqual(
      (await searchText(catalog, 'red tee')).query.recognised?.map((r) => `${r.field}=${r.value}`),
      ['garment_colour=t-shirt:red', 'garment=t-shirt'],
      'tee: a synonym of t-shirt',
    );
  });

  test('a garment word alone finds photos with that garment, where garments are stored', async () => {
    const dresses = await searchText(catalog, 'dresses');
    assert.deepEqual(dresses.query.recognised?.map((r) => `${r.field}=${r.value}`), ['garment=dress']);
    assert.deepEqual(dresses.results.map((r) => r.id).sort(), ['dress-blue', 'dress-red']);
    // The jeans are in the photo of the "Weekend look": its title does not say so, its garments do.
    const jeans = await searchText(catalog, 'jeans');
    assert.deepEqual(jeans.results.map((r) => r.id), ['tee-and-jeans']);
    assert.equal(jeans.results[0]!.match, 'filter');
    // A catalog without garments matches the word in titles and descriptions.
    const plainDresses = await searchText(plain, 'dress');
    assert.deepEqual(plainDresses.query.filters, {});
    assert.deepEqual(plainDresses.query.terms, ['dress']);
    assert.deepEqual(plainDresses.results.map((r) => r.id).sort(), ['dress-blue', 'dress-red']);
  });

  test('where no photo has that garment in that colour, or no garments are stored, the colour is the photo colour as evidence', async () => {
    assert.deepEqual((await searchText(catalog, 'grey dress')).query.recognised?.map((r) => `${r.field}=${r.value}`), ['colour=grey', 'garment=dress']);
    assert.deepEqual((await searchText(catalog, 'red lamp')).query.recognised?.map((r) => `${r.field}=${r.value}`), ['colour=red']);
    const plainRed = await searchText(plain, 'red dress');
    assert.deepEqual(plainRed.query.filters, {});
    assert.deepEqual(plainRed.query.recognised?.map((r) => `${r.field}=${r.value}`), ['colour=red']);
    // Both dresses say dress; the one whose photo is red (the blue dress on a red wall) gets the colour's evidence.
    assert.deepEqual(plainRed.results.map((r) => r.id).sort(), ['dress-blue', 'dress-red']);
    assert.ok(plainRed.results.find((r) => r.id === 'dress-blue')!.why.some((w) => w.startsWith('colour=red')));
  });
});
