// Pseudo-labels from the catalog: crops matching a catalog product (scripted detector,
// colour analyzer) get its id or its head label, are written as PNGs beside a JSONL the
// trainer's jsonl adapter loads; photos with nothing above the threshold are skipped;
// a bad output path is refused before any work.
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256 } from '../../src/catalog/hash.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { pseudolabelCommand } from '../../src/cli/commands/pseudolabel.ts';
import { GroknetError } from '../../src/errors.ts';
import type { HeadResult } from '../../src/model/types.ts';
import { buildPseudolabelDataset, PseudolabelDataset } from '../../src/pipelines/pseudolabel-dataset.ts';
import { pseudolabelPhotos, type PhotoLabels } from '../../src/pipelines/pseudolabel.ts';
import { loadListingDataset } from '../../src/train/datasets/generic.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { BASIC_COLOURS, createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { boxesInside, scenePhoto, scriptedDetector, type Block } from '../helpers/scripted-detector.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;
const categoryOf = new Map<string, string>();
// The catalog's `category` head stands in for a product-type classifier, looked up by image.
const analyzer = createColourAnalyzer({
  extraHeads: (bytes): Record<string, HeadResult> => ({ category: { kind: 'single', top: [{ label: categoryOf.get(sha256(bytes)) ?? 'other', score: 0.9 }] } }),
});

// Photos by width: a shelf with the jeans and the cap (300), a red scarf nobody sells (240),
// an empty table where nothing is detected (200).
const SHELF: Block[] = [
  { rgb: BASIC_COLOURS.blue!, at: [0.05, 0.1, 0.3, 0.8] },
  { rgb: BASIC_COLOURS.yellow!, at: [0.5, 0.2, 0.3, 0.4] },
];
const SCARF: Block[] = [{ rgb: BASIC_COLOURS.red!, at: [0.2, 0.2, 0.5, 0.5] }];
const detector = scriptedDetector((image) => (image.width === 300 ? boxesInside(SHELF) : image.width === 240 ? boxesInside(SCARF) : []));
let photos: Buffer[];

before(async () => {
  tmp = await tempDir();
  catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: analyzer.embeddingDim });
  const products = [
    { id: 'jeans-1', rgb: BASIC_COLOURS.blue!, category: 'jeans' },
    { id: 'cap-1', rgb: BASIC_COLOURS.yellow!, category: 'hat' },
  ];
  const inputs = [];
  for (const p of products) {
    const bytes = await scenePhoto(64, 64, [{ rgb: p.rgb, at: [0, 0, 1, 1] }]);
    categoryOf.set(sha256(bytes), p.category);
    const [analysis] = await analyzer.analyzeBuffers([bytes]);
    if (!analysis || analysis instanceof GroknetError) throw new Error('analysis failed');
    inputs.push({ id: p.id, title: p.category, images: [{ path: `/virtual/${p.id}.png`, contentHash: sha256(bytes), analysis }] });
  }
  await catalog.insertProducts(inputs);
  photos = [await scenePhoto(300, 200, SHELF), await scenePhoto(240, 200, SCARF), await scenePhoto(200, 200, []), TEXT_FILE];
});
after(async () => {
  await catalog.close();
  await tmp.cleanup();
});

test('crops near a catalog product get its labels; others keep their nearest for inspection', async () => {
  const results = await pseudolabelPhotos(photos, { catalog, detector, analyzer });
  assert.equal(results.length, 4);
  const [shelf, scarf, empty, text] = results as [PhotoLabels, PhotoLabels, PhotoLabels, GroknetError];
  assert.deepEqual(shelf.crops.map((c) => [c.nearest?.id, c.labelled, c.nearest?.labels.category]), [['jeans-1', true, 'jeans'], ['cap-1', true, 'hat']]);
  for (const crop of shelf.crops) {
    assert.ok(crop.nearest!.similarity >= analyzer.exactMatchThreshold);
    assert.deepEqual([...crop.crop.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
  }
  assert.equal(scarf.crops.length, 1);
  assert.equal(scarf.crops[0]!.labelled, false, 'the scarf is like nothing in the catalog');
  assert.ok(scarf.crops[0]!.nearest!.similarity < analyzer.exactMatchThreshold);
  assert.deepEqual(empty.crops, []);
  assert.ok(text instanceof GroknetError && text.code === 'not_an_image');

  await assert.rejects(pseudolabelPhotos(photos, { catalog, detector, analyzer, threshold: 2 }), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_argument');
});

test('the dataset is a JSONL the trainer loads, crops beside it; labels by product or by head', async () => {
  const results = (await pseudolabelPhotos(photos.slice(0, 2), { catalog, detector, analyzer })) as PhotoLabels[];
  for (const [label, expected] of [[{ kind: 'product' }, ['cap-1', 'jeans-1']], [{ kind: 'head', head: 'category' }, ['hat', 'jeans']]] as const) {
    const out = join(tmp.path, `${label.kind}.jsonl`);
    const dataset = await PseudolabelDataset.create(out, label);
    for (const [i, result] of results.entries()) {
      for (const crop of result.crops) if (crop.labelled) assert.equal(await dataset.add(`photo-${i}.png`, crop), true);
    }
    await dataset.finish();
    assert.equal(dataset.size, 2);
    assert.equal(dataset.classes, 2);

    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { image: string; label: string; product: string; heads: Record<string, string>; photo: string; box: number[] });
    assert.match(rows[0]!.image, new RegExp(`^${label.kind}\\.crops/[0-9a-f]{32}\\.png$`));
    assert.deepEqual(rows.map((r) => r.product), ['jeans-1', 'cap-1']);
    assert.deepEqual(rows[0]!.heads, { colour: 'blue', category: 'jeans' });
    assert.equal(rows[0]!.photo, 'photo-0.png');
    assert.equal(rows[0]!.box.length, 4);

    const loaded = await loadListingDataset(out, 'jsonl', { name: 'pseudo', head: 'product', valFraction: 0.5 });
    assert.equal(loaded.multiLabel, false);
    assert.deepEqual(loaded.tasks.product, expected);
    assert.equal(loaded.samples.length, 2);
    for (const sample of loaded.samples) await access(sample.path);
  }
});

test('a run over photo files: photos with nothing above the threshold are skipped, unreadable ones reported', async () => {
  const names = ['shelf.png', 'scarf.png', 'empty.png', 'notes.png'];
  const files = names.map((name) => join(tmp.path, name));
  for (const [i, file] of files.entries()) await writeFile(file, photos[i]!);
  const dataset = await PseudolabelDataset.create(join(tmp.path, 'run.jsonl'));
  const progress: number[] = [];
  const summary = await buildPseudolabelDataset([...files, join(tmp.path, 'missing.png')], dataset, { catalog, detector, analyzer, onProgress: (done) => progress.push(done) });
  assert.deepEqual(
    { photos: summary.photos, crops: summary.crops, labelled: summary.labelled, skipped: summary.skipped, classes: summary.classes, threshold: summary.threshold },
    { photos: 5, crops: 3, labelled: 2, skipped: 2, classes: 2, threshold: analyzer.exactMatchThreshold },
  );
  assert.deepEqual(summary.failed.map((f) => [f.file.split('/').pop(), f.code]), [['notes.png', 'not_an_image'], ['missing.png', 'file_not_found']]);
  assert.deepEqual(progress, [5]);
  const rows = (await readFile(join(tmp.path, 'run.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { photo: string });
  assert.deepEqual(rows.map((r) => r.photo), [files[0], files[0]]);

  // Nothing labelled at all still leaves a (empty) JSONL behind: the run's answer.
  const none = await PseudolabelDataset.create(join(tmp.path, 'none.jsonl'));
  const nothing = await buildPseudolabelDataset(files.slice(1, 3), none, { catalog, detector, analyzer });
  assert.deepEqual([nothing.labelled, nothing.skipped], [0, 2]);
  assert.equal(await readFile(join(tmp.path, 'none.jsonl'), 'utf8'), '');
});

test('a missing output folder and other bad arguments are refused before any model is loaded', async () => {
  const data = join(tmp.path, 'data');
  const photo = join(tmp.path, 'shelf.png');
  await writeFile(photo, photos[0]!);
  const refused = (code: string) => (e: unknown) => e instanceof GroknetError && e.code === code;
  await assert.rejects(PseudolabelDataset.create(join(tmp.path, 'missing', 'out.jsonl')), refused('file_not_found'));
  await assert.rejects(pseudolabelCommand([photo, '--data', data, '--out', join(tmp.path, 'missing', 'out.jsonl')]), refused('file_not_found'));
  await assert.rejects(pseudolabelCommand([photo, '--data', data, '--out', join(tmp.path, 'out.csv')]), refused('invalid_argument'));
  await assert.rejects(pseudolabelCommand([photo, '--data', join(tmp.path, 'no-catalog'), '--out', join(tmp.path, 'out.jsonl')]), refused('file_not_found'));
  await assert.rejects(pseudolabelCommand([photo, '--data', data, '--out', join(tmp.path, 'out.jsonl'), '--threshold', '3']), refused('invalid_argument'));
  await assert.rejects(pseudolabelCommand([photo, '--data', data, '--out', join(tmp.path, 'out.jsonl'), '--detector', 'yolo']), refused('invalid_argument'));
  await assert.rejects(access(join(tmp.path, 'missing')), 'nothing was created for the refused path');
});
