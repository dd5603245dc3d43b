// Shop the look over a catalog whose photos were indexed with their garments: matching
// colours filters each garment's search by the catalog's garment colours (garment_colour),
// so a red tee finds products with a red garment, not a blue dress photographed on a red
// wall; a catalog without garment colours keeps the whole photo's `colour`.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import { GARMENT_COLUMNS } from '../../src/catalog/schema.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/image/limits.ts';
import { catalogColourField, shopTheLookInCatalog, type LookSources } from '../../src/pipelines/shop-the-look-catalog.ts';
import { findGarments } from '../../src/pipelines/shop-the-look.ts';
import { searchVector } from '../../src/search/search-vector.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { outfitPhoto, outfitSegmenter, OUTFITS, SCARF, writeOutfits, type Outfit } from '../helpers/outfits.ts';
import { tempDir } from '../helpers/tmp.ts';
import { TINY_COLOURS } from '../helpers/tiny-model.ts';

// The shopper's photo: a red tee over blue jeans.
const LOOK: Outfit = {
  id: 'look',
  title: 'look',
  price: 0,
  width: 170,
  blocks: [{ rgb: TINY_COLOURS.red!, at: [0.25, 0.05, 0.5, 0.4] }, { rgb: TINY_COLOURS.blue!, at: [0.3, 0.5, 0.4, 0.45] }],
  garments: [{ label: 't-shirt', block: 0 }, { label: 'jeans', block: 1 }],
};

const analyzer = createColourAnalyzer();
const segmenter = outfitSegmenter([...OUTFITS, SCARF, LOOK]);
let tmp: Awaited<ReturnType<typeof tempDir>>;
let withGarments: CatalogStore;
let plain: CatalogStore;

before(async () => {
  tmp = await tempDir();
  const source = await writeOutfits(tmp.path);
  withGarments = await openCatalog(join(tmp.path, 'garments'), { embeddingDim: analyzer.embeddingDim });
  plain = await openCatalog(join(tmp.path, 'plain'), { embeddingDim: analyzer.embeddingDim });
  await ingest(source, { catalog: withGarments, analyzer, segmenter });
  await ingest(source, { catalog: plain, analyzer });
});
after(async () => {
  await withGarments?.close();
  await plain?.close();
  await tmp.cleanup();
});

function sources(catalog: CatalogStore): LookSources {
  return {
    garments: (photo, { maxGarments }) => findGarments(photo, { segmenter, maxGarments }),
    embed: async (image) => {
      const [analysis] = await analyzer.analyzeBuffers([image]);
      if (!analysis || analysis instanceof Error) throw analysis ?? new Error('no analysis');
      return analysis.embedding;
    },
    search: async (embedding, filters, limit) => (await searchVector(catalog, embedding, { filters, limit, exactMatchThreshold: analyzer.exactMatchThreshold })).results,
    colourField: () => catalogColourField(catalog, 'matchColour'),
    limits: DEFAULT_IMAGE_LIMITS,
  };
}

describe('catalogColourField', () => {
  test("garment_colour where the catalog stores garment colours, else the photo's colour; nothing for an empty catalog", async () => {
    assert.equal(await catalogColourField(withGarments, 'matchColour'), 'garment_colour');
    assert.equal(await catalogColourField(plain, 'matchColour'), 'colour', 'garment columns, but no garment in them');
    const empty = await openCatalog(join(tmp.path, 'empty'), { embeddingDim: analyzer.embeddingDim });
    assert.equal(await catalogColourField(empty, 'matchColour'), undefined);
    await empty.close();
  });

  test('a catalog from before the garment columns keeps colour', async () => {
    const dir = join(tmp.path, 'old');
    const old = await openCatalog(dir, { embeddingDim: analyzer.embeddingDim });
    await ingest(join(tmp.path, 'outfits.jsonl'), { catalog: old, analyzer });
    await (await old.table())!.dropColumns(Object.values(GARMENT_COLUMNS));
    await old.close();
    const reopened = await openCatalog(dir);
    assert.equal(await catalogColourField(reopened, 'matchColour'), 'colour');
    await reopened.close();
  });
});

describe('shop the look, matching colours', () => {
  test("each garment's search is filtered by the catalog's garment colours", async () => {
    const look = await shopTheLookInCatalog(await outfitPhoto(LOOK), sources(withGarments), { matchColour: true, k: 5 });
    assert.deepEqual(look.garments.map((g) => [g.label, g.colour, g.filters]), [
      ['t-shirt', 'red', { garment_colour: 'red' }],
      ['jeans', 'blue', { garment_colour: 'blue' }],
    ]);
    const [tee, jeans] = look.garments as [(typeof look.garments)[0], (typeof look.garments)[0]];
    assert.deepEqual(tee.results.map((r) => r.id).sort(), ['dress-red', 'tee-and-jeans'], 'products with a red garment; not the blue dress on a red wall');
    assert.deepEqual(jeans.results.map((r) => r.id).sort(), ['dress-blue', 'tee-and-jeans']);
  });

  test("without garment colours in the catalog, by the whole photo's colour as before", async () => {
    const look = await shopTheLookInCatalog(await outfitPhoto(LOOK), sources(plain), { matchColour: true, k: 5 });
    const tee = look.garments[0]!;
    assert.deepEqual(tee.filters, { colour: 'red' });
    assert.deepEqual(tee.results.map((r) => r.id), ['dress-blue'], 'the only photo that is red overall');
  });
});
