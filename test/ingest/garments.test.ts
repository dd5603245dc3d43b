// Garments stored at indexing time (ingest with a segmenter): each photo's garments with the
// image row, segmented once per photo, kept when a listing is rewritten without a
// segmenter, added to listings indexed without them; a photo the segmenter fails on is
// indexed without garments and reported; and a catalog from before the garment columns
// still opens, searches and ingests, and gets the columns with its first garments.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import { GARMENT_COLUMNS } from '../../src/catalog/schema.ts';
import type { CatalogStore, ImageGarment } from '../../src/catalog/types.ts';
import { searchText } from '../../src/search/search-text.ts';
import { productFrom } from '../helpers/catalog.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { outfitSegmenter, OUTFITS, SCARF, writeOutfits } from '../helpers/outfits.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let source: string;

before(async () => {
  tmp = await tempDir();
  source = await writeOutfits(tmp.path);
});
after(() => tmp.cleanup());

const analyzer = createColourAnalyzer();
const fresh = (name: string) => openCatalog(join(tmp.path, 'data', name), { embeddingDim: analyzer.embeddingDim });

async function garmentsOf(catalog: CatalogStore, id: string) {
  return (await catalog.getProduct(id))?.images[0]?.garments?.map(({ label, colour }) => `${label}:${colour}`);
}

describe('ingest with a segmenter', () => {
  test("stores each photo's garments (label, colour of its own pixels); a re-run segments nothing", async () => {
    const catalog = await fresh('stored');
    const segmenter = outfitSegmenter();
    const summary = await ingest(source, { catalog, analyzer, segmenter });
    assert.equal(summary.indexed, OUTFITS.length);
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.segmented, OUTFITS.length);
    assert.deepEqual(await garmentsOf(catalog, 'dress-red'), ['dress:red']);
    assert.deepEqual(await garmentsOf(catalog, 'dress-blue'), ['dress:blue'], "the dress's colour, not the red wall's");
    assert.deepEqual(await garmentsOf(catalog, 'tee-and-jeans'), ['t-shirt:red', 'jeans:blue']);
    assert.deepEqual(await garmentsOf(catalog, 'lamp'), [], 'segmented, no garment found');
    const dress = (await catalog.getProduct('dress-red'))!.images[0]!.garments![0]!;
    assert.ok(dress.areaShare > 0.25 && dress.areaShare < 0.35, `area share ${dress.areaShare}`);
    assert.equal((await catalog.getProduct('dress-blue'))!.images[0]!.labels.colour, 'red', 'the whole photo still reads red');

    assert.deepEqual(await catalog.garmentVocabulary(), {
      labels: ['dress', 'jeans', 't-shirt'],
      colours: ['blue', 'red'],
      pairs: ['dress:blue', 'dress:red', 'jeans:blue', 't-shirt:red'],
    });
    const info = await catalog.info();
    assert.equal(info.garments, true);
    assert.ok(info.filterColumns.includes(GARMENT_COLUMNS.colours));

    const calls = segmenter.calls;
    const again = await ingest(source, { catalog, analyzer, segmenter });
    assert.deepEqual([again.indexed, again.unchanged, again.segmented], [0, OUTFITS.length, 0]);
    assert.equal(segmenter.calls, calls, 'photos with garments are not segmented again');
    await catalog.close();
  });

  test('a listing rewritten without a segmenter keeps its garments; one indexed without them gets them later', async () => {
    const catalog = await fresh('later');
    const plain = await ingest(source, { catalog, analyzer });
    assert.equal(plain.indexed, OUTFITS.length);
    assert.equal(plain.segmented, 0);
    assert.equal(await garmentsOf(catalog, 'dress-red'), undefined, 'not segmented');
    assert.deepEqual(await catalog.garmentVocabulary(), { labels: [], colours: [], pairs: [] });

    // Indexed already, but without garments: a run with a segmenter writes them, analysing nothing again.
    const segmenter = outfitSegmenter();
    const calls = analyzer.calls;
    const withGarments = await ingest(source, { catalog, analyzer, segmenter });
    assert.deepEqual([withGarments.indexed, withGarments.unchanged, withGarments.segmented], [OUTFITS.length, 0, OUTFITS.length]);
    assert.equal(analyzer.calls, calls, 'stored analyses are reused');
    assert.deepEqual(await garmentsOf(catalog, 'dress-red'), ['dress:red']);

    // A changed title, ingested without a segmenter: the same photo keeps its garments.
    const edited = join(tmp.path, 'edited.jsonl');
    await writeFile(edited, JSON.stringify({ id: 'dress-red', title: 'Summer dress, linen', price: 45, currency: 'EUR', image: 'dress-red.png' }));
    const rewritten = await ingest(edited, { catalog, analyzer });
    assert.equal(rewritten.indexed, 1);
    assert.equal((await catalog.getProduct('dress-red'))!.title, 'Summer dress, linen');
    assert.deepEqual(await garmentsOf(catalog, 'dress-red'), ['dress:red']);

    // A write that does not segment (as POST /v1/products publishes) keeps them as well.
    const { path, contentHash } = (await catalog.getProduct('dress-blue'))!.images[0]!;
    const analysis = (await catalog.analysesByHash([contentHash])).get(contentHash)!;
    await catalog.insertProducts([{ id: 'dress-blue', title: 'Evening dress, on sale', price: 60, images: [{ path, contentHash, analysis }] }]);
    assert.equal((await catalog.getProduct('dress-blue'))!.price, 60);
    assert.deepEqual(await garmentsOf(catalog, 'dress-blue'), ['dress:blue']);
    await catalog.close();
  });

  test('a photo the segmenter fails on is indexed without garments and reported; the others keep theirs', async () => {
    const catalog = await fresh('failing');
    const photos = join(tmp.path, 'with-scarf');
    await mkdir(photos);
    const file = await writeOutfits(photos, [OUTFITS[0]!, SCARF, OUTFITS[2]!]);
    // One batch, one segmenter run for all three photos: the scarf fails it, so each is tried alone.
    const segmenter = outfitSegmenter(undefined, { failWidths: [SCARF.width] });
    const summary = await ingest(file, { catalog, analyzer, segmenter });
    assert.equal(summary.indexed, 3, 'the scarf is indexed too');
    assert.equal(summary.segmented, 2);
    assert.equal(summary.failed.length, 1);
    const [failure] = summary.failed;
    assert.equal(failure!.item, 'outfits.jsonl line 2: scarf.png');
    assert.equal(failure!.code, 'internal');
    assert.match(failure!.message, /^garments not stored: /);
    assert.equal(await garmentsOf(catalog, 'scarf'), undefined);
    assert.deepEqual(await garmentsOf(catalog, 'dress-red'), ['dress:red']);
    assert.deepEqual(await garmentsOf(catalog, 'tee-and-jeans'), ['t-shirt:red', 'jeans:blue']);

    // Tried again on the next run, reported again; nothing new to write, so not rewritten.
    const again = await ingest(file, { catalog, analyzer, segmenter });
    assert.deepEqual([again.indexed, again.unchanged, again.failed.length], [0, 3, 1]);
    // A segmenter that fails whole runs (a broken model) does not stop the ingest either.
    const broken = outfitSegmenter(undefined, { failWidths: OUTFITS.map((o) => o.width) });
    const other = await fresh('broken');
    const whole = await ingest(source, { catalog: other, analyzer, segmenter: broken });
    assert.equal(whole.indexed, OUTFITS.length);
    assert.equal(whole.segmented, 0);
    assert.deepEqual(whole.failed.map((f) => f.code), OUTFITS.map(() => 'internal'));
    await other.close();
    await catalog.close();
  });
});

describe('a catalog from before the garment columns', () => {
  let dir: string;
  before(async () => {
    // Such a table: the same rows and metadata without the garment columns.
    dir = join(tmp.path, 'data', 'old');
    const catalog = await openCatalog(dir, { embeddingDim: analyzer.embeddingDim });
    await ingest(source, { catalog, analyzer });
    await (await catalog.table())!.dropColumns(Object.values(GARMENT_COLUMNS));
    await catalog.close();
  });

  test('opens, lists, searches and ingests as before; garment filters are unknown there', async () => {
    const catalog = await openCatalog(dir);
    const info = await catalog.info();
    assert.equal(info.garments, false);
    assert.ok(!info.filterColumns.includes(GARMENT_COLUMNS.colours));
    assert.equal((await catalog.listProducts()).length, OUTFITS.length);
    assert.deepEqual(await catalog.garmentVocabulary(), { labels: [], colours: [], pairs: [] });
    assert.deepEqual(await catalog.garmentsByHash(['0'.repeat(64)]), new Map());

    // Without garments, "red" is the photo's colour as evidence: the blue dress on a red wall is red
    // overall, so it ranks first among the two dresses; nothing is filtered out.
    const words = await searchText(catalog, 'red dress');
    assert.deepEqual(words.query.filters, {});
    assert.deepEqual(words.query.recognised?.map((r) => `${r.field}=${r.value}`), ['colour=red']);
    assert.deepEqual(words.results.map((r) => r.id), ['dress-blue', 'dress-red']);
    await assert.rejects(searchText(catalog, 'dress', { filters: { garment_colour: { eq: 'red' } } }), { code: 'query_invalid', message: /unknown filter field "garment_colour"/ });

    // Ingest without a segmenter writes rows without the columns.
    const more = join(tmp.path, 'more');
    await mkdir(more);
    const file = await writeOutfits(more, [SCARF], 'more.jsonl');
    assert.equal((await ingest(file, { catalog, analyzer })).indexed, 1);
    assert.equal((await catalog.info()).garments, false);
    await catalog.close();
  });

  test('gets the garment columns with its first garments, and then filters by them', async () => {
    const catalog = await openCatalog(dir);
    const summary = await ingest(source, { catalog, analyzer, segmenter: outfitSegmenter() });
    assert.equal(summary.indexed, OUTFITS.length, 'rewritten with their garments');
    assert.equal((await catalog.info()).garments, true);
    assert.deepEqual(await garmentsOf(catalog, 'dress-blue'), ['dress:blue']);
    assert.equal(await garmentsOf(catalog, 'scarf'), undefined, 'a row written before the columns: not segmented');
    // The red dress by its words ("Summer dress") inside the picked garment filter; the red tee has the
    // garment but not the word, the blue dress neither the garment colour nor the word.
    const red = await searchText(catalog, 'summer', { filters: { garment_colour: { eq: 'red' } } });
    assert.deepEqual(red.results.map((r) => [r.id, r.match]), [['dress-red', 'text']]);
    const redOnly = await searchText(catalog, '', { filters: { garment_colour: { eq: 'red' } } });
    assert.deepEqual(redOnly.results.map((r) => r.id).sort(), ['dress-red', 'tee-and-jeans']);
    await catalog.close();

    // Another process opening it now sees the columns too.
    const reopened = await openCatalog(dir);
    assert.equal((await reopened.info()).garments, true);
    assert.deepEqual((await searchText(reopened, 'red dress')).query.recognised?.map((r) => `${r.field}=${r.value}`), ['garment_colour=dress:red', 'garment=dress']);
    await reopened.close();
  });
});

test('garments that cannot be filter values are refused by the catalog', async () => {
  const catalog = await fresh('refused');
  const product = await productFrom(analyzer, 'x', [{ background: 'red' }]);
  const withGarments = (garments: ImageGarment[]) => ({ ...product, images: product.images.map((image) => ({ ...image, garments })) });
  for (const garments of [[{ label: 'dress:red', colour: 'red', areaShare: 0.5 }], [{ label: 'dress', colour: 'red', areaShare: 2 }], Array.from({ length: 33 }, () => ({ label: 'dress', colour: null, areaShare: 0.01 }))]) {
    await assert.rejects(catalog.insertProducts([withGarments(garments)]), { code: 'invalid_argument' });
  }
  await catalog.insertProducts([withGarments([{ label: 'dress', colour: null, areaShare: 0.5 }])]);
  assert.deepEqual((await catalog.getProduct('x'))!.images[0]!.garments, [{ label: 'dress', colour: null, areaShare: 0.5 }]);
  await catalog.close();
});

test("reindex carries each photo's garments over to the new model's table", async () => {
  const catalog = await fresh('reindexed');
  await ingest(source, { catalog, analyzer, segmenter: outfitSegmenter() });
  const next = createColourAnalyzer({ modelVersion: 'colour-histogram@2' });
  const summary = await catalog.reindex(next);
  assert.deepEqual([summary.swapped, summary.reindexed, summary.failed], [true, OUTFITS.length, []]);
  assert.equal((await catalog.info()).modelVersion, 'colour-histogram@2');
  assert.deepEqual(await garmentsOf(catalog, 'tee-and-jeans'), ['t-shirt:red', 'jeans:blue']);
  assert.deepEqual((await catalog.garmentVocabulary()).pairs, ['dress:blue', 'dress:red', 'jeans:blue', 't-shirt:red']);
  await catalog.close();
});
