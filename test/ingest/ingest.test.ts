import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingest } from '../../src/ingest/ingest.ts';
import type { IngestProgress } from '../../src/ingest/progress.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import { MAX_IMAGES_PER_PRODUCT } from '../../src/catalog/rows.ts';
import { readSource } from '../../src/catalog/sources.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { writeImage } from '../helpers/images.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  tmp = await tempDir();
  // A folder source, one level: top-level images are products, a sub-folder of images is one product.
  const folder = join(tmp.path, 'folder');
  await writeImage(join(folder, 'red-mug.png'), { background: 'red' });
  await writeImage(join(folder, 'blue_cap.jpg'), { background: 'blue', format: 'jpeg' });
  await writeImage(join(folder, 'chair', 'front.png'), { background: 'green', shape: 'square', foreground: 'white' });
  await writeImage(join(folder, 'chair', 'left.webp'), { background: 'green', format: 'webp' });
  await writeFile(join(folder, 'notes.txt'), 'not an image');
  await writeFile(join(folder, 'broken.png'), 'garbage bytes that are no png');
  await writeFile(join(folder, 'empty.png'), '');
  await writeImage(join(folder, '.hidden.png'), { background: 'black' });

  // Listing files with their images in a sub-folder, plus one image outside the root.
  const shop = join(tmp.path, 'shop');
  await writeImage(join(shop, 'img', 'sofa.png'), { background: '#f5dc14' });
  await writeImage(join(shop, 'img', 'sofa-back.png'), { background: '#f5dc14', shape: 'stripes', foreground: '#e0c800' });
  await writeImage(join(shop, 'img', 'lamp.png'), { background: 'white', shape: 'triangle', foreground: 'black' });
  await writeImage(join(tmp.path, 'outside.png'), { background: 'purple' });
  await symlink(join(tmp.path, 'outside.png'), join(shop, 'img', 'sneaky.png'));
});
after(() => tmp.cleanup());

async function freshCatalog(name: string) {
  return openCatalog(join(tmp.path, 'data', name), { embeddingDim: 64 });
}

describe('ingest a folder', () => {
  test('one level: one product per image or sub-folder; bad images reported; re-run is unchanged', async () => {
    const analyzer = createColourAnalyzer();
    const catalog = await freshCatalog('folder');
    const progress: IngestProgress[] = [];
    const summary = await ingest(join(tmp.path, 'folder'), { catalog, analyzer, batchSize: 2, onProgress: (p) => progress.push(p) });

    assert.equal(summary.indexed, 3);
    assert.equal(summary.unchanged, 0);
    assert.equal(summary.ignored, 1, 'notes.txt');
    assert.deepEqual(
      summary.failed.map((f) => [f.item, f.code]).sort(),
      [['broken.png', 'not_an_image'], ['empty.png', 'empty_file']],
    );
    assert.deepEqual((await catalog.listProducts()).map((p) => [p.id, p.title, p.images.length]), [
      ['blue_cap', 'blue cap', 1],
      ['chair', 'chair', 2],
      ['red-mug', 'red mug', 1],
    ]);
    const last = progress.at(-1)!;
    assert.equal(last.done, last.total);
    assert.equal(last.total, 5);
    assert.ok(last.rate > 0);
    assert.equal(last.etaSeconds, 0);
    assert.equal(await catalog.hasTextIndex(), true);

    const calls = analyzer.calls;
    const again = await ingest(join(tmp.path, 'folder'), { catalog, analyzer, batchSize: 2 });
    assert.equal(again.indexed, 0);
    assert.equal(again.unchanged, 3);
    assert.equal(again.failed.length, 2, 'bad images are reported again, still skipped');
    // broken.png is analysed again (it never got stored); good images are not.
    assert.ok(analyzer.calls - calls <= 1);
    assert.equal(await catalog.countProducts(), 3);
    await catalog.close();
  });

  test('a different model is refused before anything is written', async () => {
    const catalog = await freshCatalog('folder');
    const other = createColourAnalyzer({ modelVersion: 'colour-histogram@2' });
    await assert.rejects(ingest(join(tmp.path, 'folder'), { catalog, analyzer: other }), { code: 'model_mismatch' });
    await catalog.close();
  });

  test('a missing source or unknown file type is refused', async () => {
    const catalog = await freshCatalog('missing');
    const analyzer = createColourAnalyzer();
    await assert.rejects(ingest(join(tmp.path, 'nope'), { catalog, analyzer }), { code: 'file_not_found' });
    await assert.rejects(ingest(join(tmp.path, 'outside.png'), { catalog, analyzer }), { code: 'invalid_argument' });
    await assert.rejects(ingest(join(tmp.path, 'folder'), { catalog, analyzer, batchSize: 0 }), { code: 'invalid_argument' });
    await catalog.close();
  });

  test('an aborted ingest stops between batches', async () => {
    const catalog = await freshCatalog('aborted');
    const controller = new AbortController();
    controller.abort();
    const summary = await ingest(join(tmp.path, 'folder'), { catalog, analyzer: createColourAnalyzer(), signal: controller.signal });
    assert.equal(summary.aborted, true);
    assert.equal(summary.indexed, 0);
    await catalog.close();
  });
});

describe('ingest a folder of folders', () => {
  // As ../shared/datasets/grocery/iconic-images-and-descriptions is laid out: categories of
  // folders, a folder per product holding its photos (and a description beside them).
  async function nestedTree(): Promise<string> {
    const root = join(tmp.path, 'nested');
    await writeImage(join(root, 'Fruit', 'Apple', 'Golden-Delicious', 'Golden-Delicious_Iconic.jpg'), { background: '#f0e040', format: 'jpeg' });
    await writeImage(join(root, 'Fruit', 'Apple', 'Golden-Delicious', 'side.png'), { background: '#f0e040', shape: 'circle', foreground: 'white' });
    await writeFile(join(root, 'Fruit', 'Apple', 'Golden-Delicious', 'Golden-Delicious_Description.txt'), '  A sweet yellow apple.\n');
    await writeFile(join(root, 'Fruit', 'Apple', 'Golden-Delicious', 'Golden-Delicious_Information.txt'), 'Title: Golden Delicious\n');
    await writeImage(join(root, 'Fruit', 'Apple', 'Granny_Smith', 'a.png'), { background: '#40c040' });
    // Two folders named Red: each is named by its path from the root.
    await writeImage(join(root, 'Fruit', 'Red', 'r.png'), { background: '#c00000' });
    await writeImage(join(root, 'Vegetables', 'Pepper', 'Red', 'r.png'), { background: '#e02020', shape: 'triangle' });
    // A folder with photos of its own and a sub-folder of another product's photos.
    await writeImage(join(root, 'Chairs', 'overview.png'), { background: '#804000', shape: 'stripes' });
    await writeImage(join(root, 'Chairs', 'Oak-Chair', 'front.png'), { background: '#a06020', shape: 'square' });
    await writeImage(join(root, 'Chairs', 'Oak-Chair', 'back.png'), { background: '#a06020', shape: 'square', offset: 3 });
    // Empty folders, and one with no photo, give no product and no failure.
    await mkdir(join(root, 'Empty'), { recursive: true });
    await mkdir(join(root, 'Vegetables', 'Nothing', 'Deeper'), { recursive: true });
    await writeFile(join(root, 'Vegetables', 'Nothing', 'notes.txt'), 'no photo here');
    // A top-level image stays one product.
    await writeImage(join(root, 'lone-cup.png'), { background: '#2040c0', shape: 'circle' });
    return root;
  }

  test('one product per folder that holds images, at any depth; repeated names become paths; empty folders ignored; re-run unchanged', async () => {
    const root = await nestedTree();
    const analyzer = createColourAnalyzer();
    const catalog = await freshCatalog('nested');
    const summary = await ingest(root, { catalog, analyzer });
    assert.deepEqual(summary.failed, []);
    assert.equal(summary.total, 7);
    assert.equal(summary.indexed, 7);
    assert.equal(summary.ignored, 2, 'Golden-Delicious_Information.txt and notes.txt; the description is used');
    const products = await catalog.listProducts();
    assert.deepEqual(products.map((p) => [p.id, p.title, p.images.map((i) => i.path.slice(root.length + 1)).sort()]).sort(), [
      ['Chairs', 'Chairs', ['Chairs/overview.png']],
      ['Fruit/Red', 'Red', ['Fruit/Red/r.png']],
      ['Golden-Delicious', 'Golden Delicious', ['Fruit/Apple/Golden-Delicious/Golden-Delicious_Iconic.jpg', 'Fruit/Apple/Golden-Delicious/side.png']],
      ['Granny_Smith', 'Granny Smith', ['Fruit/Apple/Granny_Smith/a.png']],
      ['Oak-Chair', 'Oak Chair', ['Chairs/Oak-Chair/back.png', 'Chairs/Oak-Chair/front.png']],
      ['Vegetables/Pepper/Red', 'Red', ['Vegetables/Pepper/Red/r.png']],
      ['lone-cup', 'lone cup', ['lone-cup.png']],
    ]);
    assert.equal((await catalog.getProduct('Golden-Delicious'))?.description, 'A sweet yellow apple.');
    assert.equal((await catalog.getProduct('Oak-Chair'))?.description, '');

    const again = await ingest(root, { catalog, analyzer });
    assert.deepEqual([again.total, again.indexed, again.unchanged, again.failed], [7, 0, 7, []]);
    await catalog.close();
  });

  test('a folder name shared with a top-level image takes its path; a loop is walked once; a folder past the image limit keeps its first photos and says so', async () => {
    const root = join(tmp.path, 'edges');
    const png = await readFile(join(tmp.path, 'folder', 'red-mug.png'));
    await mkdir(join(root, 'Mugs', 'red-mug'), { recursive: true });
    await writeFile(join(root, 'red-mug.png'), png);
    await writeFile(join(root, 'Mugs', 'red-mug', 'a.png'), png);
    await symlink('..', join(root, 'Mugs', 'red-mug', 'up')); // back to Mugs: a loop
    await mkdir(join(root, 'Bulk'), { recursive: true });
    for (let i = 0; i < MAX_IMAGES_PER_PRODUCT + 2; i++) await writeFile(join(root, 'Bulk', `${String(i).padStart(3, '0')}.png`), png);
    const source = await readSource(root);
    const listings = source.entries.flatMap((e) => ('listing' in e ? [e.listing] : []));
    assert.deepEqual(listings.map((l) => [l.id, l.item, l.images.length]), [
      ['Bulk', 'Bulk', MAX_IMAGES_PER_PRODUCT],
      ['Mugs/red-mug', join('Mugs', 'red-mug'), 1],
      ['red-mug', 'red-mug.png', 1],
    ]);
    assert.equal(listings[0]!.images.at(-1), join(root, 'Bulk', `${String(MAX_IMAGES_PER_PRODUCT - 1).padStart(3, '0')}.png`));
    const failures = source.entries.flatMap((e) => ('failure' in e ? [e.failure] : []));
    assert.deepEqual(failures.map((f) => [f.item, f.code]), [['Bulk', 'invalid_argument']]);
    assert.match(failures[0]!.message, /102 images in one folder: a product holds at most 100, so "Bulk" has the first 100 by name and 2 are not indexed/);
  });
});

describe('ingest listings', () => {
  const csvHeader = 'id,title,description,price,currency,images,seller\n';
  const csvRows = [
    'sofa-1,"Yellow sofa, mid-century","A comfy ""loveseat""\nwith two cushions",150,eur,img/sofa.png|img/sofa-back.png,acme',
    'lamp-2,Desk lamp,,19.5,USD,img/lamp.png,',
    'bad-price,Thing,,cheap,EUR,img/lamp.png,',
    'missing-img,Ghost,,1,EUR,img/ghost.png,',
    'escape,Escape,,1,EUR,../outside.png,',
    'absolute,Abs,,1,EUR,/etc/hostname,',
    'link,Link,,1,EUR,img/sneaky.png,',
    'remote,Remote,,1,EUR,https://example.com/a.png,',
    ',No id,,1,EUR,img/lamp.png,',
    'short,row',
    'partial,Half good,,5,EUR,img/lamp.png|img/ghost.png,',
  ];

  test('CSV: good rows indexed, every bad row reported with its reason, traversal refused', async () => {
    const file = join(tmp.path, 'shop', 'listings.csv');
    await writeFile(file, csvHeader + csvRows.join('\r\n') + '\r\n');
    const catalog = await freshCatalog('csv');
    const analyzer = createColourAnalyzer();
    const summary = await ingest(file, { catalog, analyzer, batchSize: 3 });

    assert.equal(summary.total, csvRows.length);
    assert.equal(summary.indexed, 3);
    const failures = Object.fromEntries(summary.failed.map((f) => [f.item, f.code]));
    // Line numbers are where each record starts; the sofa's description spans lines 2-3.
    assert.deepEqual(failures, {
      'listings.csv line 5': 'invalid_argument', // price "cheap"
      'listings.csv line 6': 'file_not_found',
      'listings.csv line 7': 'path_outside_root',
      'listings.csv line 8': 'path_outside_root',
      'listings.csv line 9': 'path_outside_root', // symlink out of the folder
      'listings.csv line 10': 'invalid_argument', // remote URL
      'listings.csv line 11': 'invalid_argument', // no id
      'listings.csv line 12': 'invalid_argument', // wrong field count
      'listings.csv line 13: img/ghost.png': 'file_not_found', // one bad image of a good listing
    });

    const sofa = await catalog.getProduct('sofa-1');
    assert.equal(sofa?.title, 'Yellow sofa, mid-century');
    assert.equal(sofa?.description, 'A comfy "loveseat"\nwith two cushions');
    assert.equal(sofa?.price, 150);
    assert.equal(sofa?.currency, 'EUR');
    assert.deepEqual(sofa?.attributes, { seller: 'acme' });
    assert.equal(sofa?.images.length, 2);
    assert.ok(sofa?.images[0]!.path.endsWith(join('shop', 'img', 'sofa.png')));
    assert.equal((await catalog.getProduct('partial'))?.images.length, 1);

    // Changing one listing's text re-indexes only it, and re-uses the stored analyses.
    await writeFile(file, csvHeader + csvRows.join('\n').replace('Desk lamp', 'Reading lamp'));
    const calls = analyzer.calls;
    const again = await ingest(file, { catalog, analyzer });
    assert.equal(again.indexed, 1);
    assert.equal(again.unchanged, 2);
    assert.equal(analyzer.calls, calls, 'no image was analysed again');
    assert.equal((await catalog.getProduct('lamp-2'))?.title, 'Reading lamp');
    assert.equal(await catalog.countProducts(), 3);
    await catalog.close();
  });

  test('CSV without the required columns is refused', async () => {
    const file = join(tmp.path, 'shop', 'bad-header.csv');
    await writeFile(file, 'name,price\nx,1\n');
    const catalog = await freshCatalog('bad-header');
    await assert.rejects(ingest(file, { catalog, analyzer: createColourAnalyzer() }), { code: 'invalid_argument' });
    await catalog.close();
  });

  test('JSONL: image or images, attributes kept, bad lines reported', async () => {
    const file = join(tmp.path, 'shop', 'listings.jsonl');
    const lines = [
      JSON.stringify({ id: 'sofa-1', title: 'Yellow sofa', price: 150, currency: 'EUR', images: ['img/sofa.png'], attributes: { colour: 'yellow' }, brand: 'Acme' }),
      JSON.stringify({ id: 42, title: 'Lamp', price: '12.5', image: 'img/lamp.png' }),
      '{not json',
      '[1,2,3]',
      JSON.stringify({ id: 'up', title: 'Up', image: '../../etc/passwd' }),
      JSON.stringify({ id: 'neg', title: 'Negative', price: -3, image: 'img/lamp.png' }),
      JSON.stringify({ id: 'cur', title: 'Currency', currency: 'EURO', image: 'img/lamp.png' }),
      JSON.stringify({ id: 'noimg', title: 'No image' }),
      JSON.stringify({ id: 'sofa-1', title: 'Same id again', image: 'img/lamp.png' }),
      JSON.stringify({ id: 'half', title: 'One good, one undecodable image', images: ['img/lamp.png', 'img/bad.png'] }),
      '',
    ];
    await writeFile(join(tmp.path, 'shop', 'img', 'bad.png'), 'not really a png');
    await writeFile(file, lines.join('\n'));
    const catalog = await freshCatalog('jsonl');
    const analyzer = createColourAnalyzer();
    const summary = await ingest(file, { catalog, analyzer });
    assert.equal(summary.indexed, 3);
    assert.deepEqual(
      summary.failed.map((f) => [f.item, f.code]),
      [
        ['listings.jsonl line 3', 'invalid_argument'],
        ['listings.jsonl line 4', 'invalid_argument'],
        ['listings.jsonl line 5', 'path_outside_root'],
        ['listings.jsonl line 6', 'invalid_argument'],
        ['listings.jsonl line 7', 'invalid_argument'],
        ['listings.jsonl line 8', 'invalid_argument'],
        ['listings.jsonl line 9', 'invalid_argument'], // duplicate id
        ['listings.jsonl line 10: img/bad.png', 'not_an_image'],
      ],
    );
    assert.match(summary.failed[6]!.message, /duplicate id "sofa-1" \(first in listings.jsonl line 1\)/);
    assert.equal((await catalog.getProduct('half'))?.images.length, 1);
    // The undecodable image is reported again, but the listing is unchanged, not rewritten.
    const again = await ingest(file, { catalog, analyzer });
    assert.equal(again.indexed, 0);
    assert.equal(again.unchanged, 3);
    const sofa = await catalog.getProduct('sofa-1');
    assert.deepEqual(sofa?.attributes, { colour: 'yellow', brand: 'Acme' });
    assert.equal((await catalog.getProduct('42'))?.price, 12.5);
    await catalog.close();
  });

  test('a folder that symlinks out of the root is refused', async () => {
    const root = join(tmp.path, 'linked');
    await mkdir(root, { recursive: true });
    await writeImage(join(root, 'ok.png'), { background: 'red' });
    await symlink(join(tmp.path, 'shop', 'img'), join(root, 'elsewhere'));
    const catalog = await freshCatalog('linked');
    const summary = await ingest(root, { catalog, analyzer: createColourAnalyzer() });
    assert.equal(summary.indexed, 1);
    assert.deepEqual(summary.failed.map((f) => [f.item, f.code]), [['elsewhere', 'path_outside_root']]);
    await catalog.close();
  });
});

describe('ingest several inputs', () => {
  test('folders, listing files and image files at once; an id given by two inputs fails at the later one; a missing image is its own failure', async () => {
    const extra = join(tmp.path, 'extra');
    await writeImage(join(extra, 'red-mug.png'), { background: 'orange' });
    await writeImage(join(extra, 'desk_lamp.png'), { background: 'white', shape: 'circle' });
    const catalog = await freshCatalog('several');
    const inputs = [join(tmp.path, 'folder'), join(extra, 'desk_lamp.png'), join(tmp.path, 'shop', 'img', 'lamp.png'), join(extra, 'red-mug.png'), join(extra, 'gone.png')];
    const summary = await ingest(inputs, { catalog, analyzer: createColourAnalyzer() });
    assert.equal(summary.total, 9, '5 from the folder, 4 files');
    assert.equal(summary.indexed, 5, 'red-mug, blue_cap, chair from the folder; desk_lamp, lamp');
    assert.deepEqual(
      summary.failed.map((f) => [f.item, f.code]).sort(),
      [
        [join(tmp.path, 'folder', 'broken.png'), 'not_an_image'],
        [join(tmp.path, 'folder', 'empty.png'), 'empty_file'],
        [join(extra, 'red-mug.png'), 'invalid_argument'],
        [join(extra, 'gone.png'), 'file_not_found'],
      ].sort(),
    );
    assert.match(summary.failed.find((f) => f.item.endsWith('extra/red-mug.png'))!.message, /duplicate id "red-mug" \(first in .*folder\/red-mug\.png\)/);
    const lamp = await catalog.getProduct('desk_lamp');
    assert.equal(lamp?.title, 'desk lamp');
    // The folder's red mug, not the later file's orange one.
    assert.equal((await catalog.getProduct('red-mug'))?.images[0]?.path, join(tmp.path, 'folder', 'red-mug.png'));
    await catalog.close();
  });

  test('one image file is a source of its own; a symlink out of its folder and an input of another kind are refused', async () => {
    const catalog = await freshCatalog('one-image');
    const analyzer = createColourAnalyzer();
    const one = await ingest([join(tmp.path, 'outside.png')], { catalog, analyzer });
    assert.deepEqual([one.total, one.indexed, one.failed], [1, 1, []]);
    const sneaky = await ingest([join(tmp.path, 'shop', 'img', 'sneaky.png')], { catalog, analyzer });
    assert.deepEqual(sneaky.failed.map((f) => f.code), ['path_outside_root']);
    await assert.rejects(ingest([join(tmp.path, 'folder'), join(tmp.path, 'folder', 'notes.txt')], { catalog, analyzer }), { code: 'invalid_argument' });
    await catalog.close();
  });
});
