// Seen together from photos: products detected in a listing's photos (scripted detector)
// are matched to the catalog (colour analyzer: a crop of a plain block is the same picture
// as a plain photo of it); a listing's own product and unknown products are not. How
// publishing records the links: test/ingest/link.test.ts.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256 } from '../../src/catalog/hash.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { findSeenTogether } from '../../src/pipelines/seen-together.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { BASIC_COLOURS, createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { boxesInside, scenePhoto, scriptedDetector, type Block } from '../helpers/scripted-detector.ts';
import { tempDir } from '../helpers/tmp.ts';

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;

// The outfit photo (300x200) shows the jeans and the cap, and a red scarf nobody sells.
const OUTFIT: Block[] = [
  { rgb: BASIC_COLOURS.blue!, at: [0.05, 0.1, 0.25, 0.8] },
  { rgb: BASIC_COLOURS.yellow!, at: [0.4, 0.1, 0.2, 0.3] },
  { rgb: BASIC_COLOURS.red!, at: [0.7, 0.5, 0.25, 0.4] },
];
// Plain product photos (64x64) are detected as one product filling the frame.
const detector = scriptedDetector((image) =>
  image.width === 300 ? [...boxesInside(OUTFIT), { at: [0, 0, 0.1, 0.1], cls: 'bird' }] : [{ at: [0.1, 0.1, 0.8, 0.8], cls: 'handbag' }],
);

async function plain(rgb: readonly [number, number, number]): Promise<Buffer> {
  return scenePhoto(64, 64, [{ rgb, at: [0, 0, 1, 1] }]);
}

before(async () => {
  tmp = await tempDir();
  catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: analyzer.embeddingDim });
  const files: Record<string, Buffer> = {
    'outfit.png': await scenePhoto(300, 200, OUTFIT),
    'jeans.png': await plain(BASIC_COLOURS.blue!),
    'cap.png': await plain(BASIC_COLOURS.yellow!),
    'bag.png': await plain(BASIC_COLOURS.green!),
  };
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(tmp.path, name), bytes);
  // The outfit comes first: its companions are indexed after it and must still be found.
  const lines = ['outfit', 'jeans', 'cap', 'bag'].map((id) => JSON.stringify({ id, title: id, image: `${id}.png` }));
  await writeFile(join(tmp.path, 'shop.jsonl'), lines.join('\n'));
  assert.equal((await ingest(join(tmp.path, 'shop.jsonl'), { catalog, analyzer })).indexed, 4);
});
after(async () => {
  await catalog.close();
  await tmp.cleanup();
});

test('what was found: the crop, its product and the similarity; the scarf and the bird are not linked', async () => {
  const bytes = await scenePhoto(300, 200, OUTFIT);
  const result = await findSeenTogether('outfit', [{ bytes, contentHash: sha256(bytes) }, { bytes: TEXT_FILE, contentHash: sha256(TEXT_FILE) }], { catalog, detector, analyzer });
  assert.deepEqual(result.found.map((f) => [f.productId, f.detected.class]), [['jeans', 'handbag'], ['cap', 'handbag']]);
  for (const f of result.found) assert.ok(f.similarity >= analyzer.exactMatchThreshold, `${f.productId} ${f.similarity}`);
  assert.deepEqual(result.sightings, [{ photo: sha256(bytes), products: ['outfit', 'jeans', 'cap'] }]);
  assert.deepEqual(result.failed.map((f) => f.error.code), ['not_an_image']);

  // With a threshold nothing clears, nothing is found.
  const strict = await findSeenTogether('outfit', [{ bytes, contentHash: sha256(bytes) }], { catalog, detector, analyzer, threshold: 1.01 });
  assert.deepEqual(strict.found, []);
  assert.deepEqual(strict.sightings[0]!.products, ['outfit']);
});

test('a duplicate listing of the same item is not linked through its own photo', async () => {
  const photo = await plain(BASIC_COLOURS.blue!);
  const [analysis] = await analyzer.analyzeBuffers([photo]);
  assert.ok(analysis && !(analysis instanceof Error));
  // jeans-copy shows exactly what jeans shows; its photo's main subject is itself, though jeans may be as near.
  await catalog.insertProducts([{ id: 'jeans-copy', title: 'jeans again', images: [{ path: join(tmp.path, 'jeans.png'), contentHash: sha256(photo), analysis }] }]);
  const result = await findSeenTogether('jeans-copy', [{ bytes: photo, contentHash: sha256(photo) }], { catalog, detector, analyzer });
  assert.deepEqual(result.found, []);
  assert.deepEqual(result.sightings[0]!.products, ['jeans-copy']);
});
