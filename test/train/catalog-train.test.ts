// Training a head from a catalog's labels: a tiny model, a tiny catalog whose `colour`
// attribute is learnable from solid images, and the checks on bad labels.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256 } from '../../src/catalog/hash.ts';
import { listingFieldsOf } from '../../src/catalog/listing.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { Product, ProductInput } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { fieldAccessor, labelsFromProducts, productSplits, catalogLabels, writeLabelsJsonl } from '../../src/train/catalog-labels.ts';
import { trainCatalogHead } from '../../src/train/catalog-train.ts';
import { loadListingDataset } from '../../src/train/datasets/generic.ts';
import { createTinyModel, solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let modelDir: string;
let catalogDir: string;
const COLOURS = ['red', 'green', 'blue'] as const;
const PRODUCTS_PER_COLOUR = 10;

/** A solid image of `colour`, shaded a little per product and sized per image, so no two photos are the same bytes. */
async function photo(colour: (typeof COLOURS)[number], product: number, image: number): Promise<Buffer> {
  const base = TINY_COLOURS[colour]!;
  const shade = product % 15;
  return solidImage([Math.max(0, base[0] - shade), Math.max(0, base[1] - shade), Math.max(0, base[2] - shade)], 40 + product * 2 + image);
}

async function buildCatalog(dir: string, products: Array<{ id: string; attributes: Record<string, unknown>; photos: Buffer[] }>): Promise<void> {
  const analyzer = await ModelAnalyzer.open(modelDir);
  const catalog = await openCatalog(dir, { embeddingDim: analyzer.embeddingDim });
  try {
    const inputs: ProductInput[] = [];
    for (const product of products) {
      const images = [];
      for (const [i, bytes] of product.photos.entries()) {
        const file = path.join(tmp.path, 'images', `${product.id}-${i}.png`);
        await writeFile(file, bytes);
        const [analysis] = await analyzer.analyzeBuffers([bytes]);
        if (!analysis || analysis instanceof Error) throw analysis ?? new Error('no analysis');
        images.push({ path: file, contentHash: sha256(bytes), analysis });
      }
      inputs.push({ id: product.id, title: `Product ${product.id}`, attributes: product.attributes, images });
    }
    await catalog.insertProducts(inputs);
  } finally {
    await catalog.close();
    await analyzer.close();
  }
}

before(async () => {
  tmp = await tempDir('groknet-catalog-train-');
  // The feature cache of this file's runs only: the cache-hit test counts what it computes.
  process.env.GROKNET_CACHE = path.join(tmp.path, 'cache');
  await mkdir(path.join(tmp.path, 'images'));
  modelDir = (await createTinyModel(path.join(tmp.path, 'model'))).dir;
  catalogDir = path.join(tmp.path, 'catalog');
  const products = [];
  for (const [c, colour] of COLOURS.entries()) {
    for (let p = 0; p < PRODUCTS_PER_COLOUR; p++) {
      const n = c * PRODUCTS_PER_COLOUR + p;
      // `shade` is on three listings only; `kind` is one class everywhere.
      const attributes: Record<string, unknown> = { colour, kind: 'tee', ...(n < 3 ? { shade: 'dark' } : {}) };
      products.push({ id: `p${String(n).padStart(2, '0')}`, attributes, photos: [await photo(colour, n, 0), await photo(colour, n, 1)] });
    }
  }
  await buildCatalog(catalogDir, products);
});
after(async () => {
  await tmp.cleanup();
});

const expectCode = (code: string, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof GroknetError, String(error));
  assert.equal(error.code, code);
  assert.match(error.message, pattern);
  return true;
};

describe('train --catalog', () => {
  let first: Awaited<ReturnType<typeof trainCatalogHead>>;
  let out: string;

  before(async () => {
    out = path.join(tmp.path, 'models', 'with-colour-name');
    first = await trainCatalogHead({ catalog: catalogDir, head: 'colour_name', field: 'attributes.colour', out, baseModel: modelDir, log: () => undefined });
  });

  test('learns the label from the images: high held-out accuracy, a calibrated threshold, EVAL.md and the source recorded', async () => {
    assert.ok(first.report.heldOutImages > 0);
    assert.ok(first.report.accuracy >= 0.9, `accuracy ${first.report.accuracy}`);
    assert.deepEqual(first.labels.labels, ['blue', 'green', 'red']);
    const manifest = JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8'));
    const head = manifest.heads.find((h: { name: string }) => h.name === 'colour_name');
    assert.deepEqual(head.labels, ['blue', 'green', 'red']);
    assert.ok(head.abstainBelow >= 0 && head.abstainBelow <= 1);
    assert.notEqual(manifest.version, '0.0.1');
    assert.equal(manifest.training.catalogHeads.colour_name.field, 'attributes.colour');
    assert.equal(manifest.training.catalogHeads.colour_name.listings, 30);
    const evalMd = await readFile(path.join(out, 'EVAL.md'), 'utf8');
    assert.match(evalMd, /held-out accuracy \| \d/);
    assert.match(evalMd, /\| red \| 10 \|/);
    // No temp folder left beside the model.
    assert.deepEqual((await readdir(path.dirname(out))).filter((n) => n.includes('.tmp-')), []);
  });

  test('the new model labels a new photo, and every other output is bit for bit the base model\'s', async () => {
    const baseAnalyzer = await ModelAnalyzer.open(modelDir);
    const newAnalyzer = await ModelAnalyzer.open(out);
    try {
      for (const colour of COLOURS) {
        const bytes = await solidImage(TINY_COLOURS[colour]!);
        const [a, b] = [(await baseAnalyzer.analyzeBuffers([bytes]))[0]!, (await newAnalyzer.analyzeBuffers([bytes]))[0]!];
        assert.ok(!(a instanceof Error) && !(b instanceof Error));
        assert.equal(b.heads.colour_name?.kind === 'single' && b.heads.colour_name.top[0]!.label, colour);
        assert.deepEqual(b.heads.colour, a.heads.colour);
        assert.deepEqual(Array.from(b.embedding), Array.from(a.embedding));
        assert.equal(b.code, a.code);
      }
    } finally {
      await baseAnalyzer.close();
      await newAnalyzer.close();
    }
  });

  test('the features are cached by image: the second run, and a run on the derived model, compute none', async () => {
    assert.equal(first.featuresComputed, 60);
    const again = await trainCatalogHead({ catalog: catalogDir, head: 'colour_name', field: 'attributes.colour', out: path.join(tmp.path, 'models', 'again'), baseModel: modelDir, log: () => undefined });
    assert.equal(again.featuresComputed, 0);
    assert.deepEqual(again.report, first.report);
    const derived = await trainCatalogHead({ catalog: catalogDir, head: 'colour_name', field: 'attributes.colour', out: path.join(tmp.path, 'models', 'retrained'), baseModel: out, replace: true, log: () => undefined });
    assert.equal(derived.featuresComputed, 0);
    assert.equal(derived.manifest.heads.filter((h) => h.name === 'colour_name').length, 1);
  });

  test('a head named like one of the model\'s is refused without --replace, and replaces it with', async () => {
    const target = path.join(tmp.path, 'models', 'replaced');
    await assert.rejects(trainCatalogHead({ catalog: catalogDir, head: 'colour', field: 'attributes.colour', out: target, baseModel: modelDir, log: () => undefined }), expectCode('invalid_argument', /collides with a head.*--replace/));
    await assert.rejects(stat(target));
    const replaced = await trainCatalogHead({ catalog: catalogDir, head: 'colour', field: 'attributes.colour', out: target, baseModel: modelDir, replace: true, log: () => undefined });
    assert.deepEqual(replaced.manifest.heads.map((h) => h.name), ['colour']);
    assert.deepEqual(replaced.manifest.heads[0]!.labels, ['blue', 'green', 'red']);
    const analyzer = await ModelAnalyzer.open(target);
    try {
      const [result] = await analyzer.analyzeBuffers([await solidImage(TINY_COLOURS.green!)]);
      assert.ok(result && !(result instanceof Error));
      assert.equal(result.heads.colour?.kind === 'single' && result.heads.colour.top[0]!.label, 'green');
    } finally {
      await analyzer.close();
    }
  });

  test('a stop before the end writes no model', async () => {
    const target = path.join(tmp.path, 'models', 'stopped');
    const controller = new AbortController();
    controller.abort();
    process.env.GROKNET_CACHE = path.join(tmp.path, 'cache-stopped');
    try {
      await assert.rejects(trainCatalogHead({ catalog: catalogDir, head: 'colour_name', field: 'attributes.colour', out: target, baseModel: modelDir, signal: controller.signal, log: () => undefined }), expectCode('interrupted', /0 of 60 images/));
    } finally {
      process.env.GROKNET_CACHE = path.join(tmp.path, 'cache');
    }
    await assert.rejects(stat(target));
  });

  test('bad labels in the catalog: the field on too few listings, a single class, an unknown field', async () => {
    const out2 = path.join(tmp.path, 'models', 'bad');
    const run = (field: string) => trainCatalogHead({ catalog: catalogDir, head: 'bad', field, out: out2, baseModel: modelDir, log: () => undefined });
    await assert.rejects(run('attributes.shade'), expectCode('invalid_labels', /empty for most listings: 3 of 30 have it/));
    await assert.rejects(run('attributes.kind'), expectCode('invalid_labels', /single class \('tee', 30 listings\)/));
    await assert.rejects(run('title'), expectCode('invalid_argument', /unknown label field 'title'/));
    await assert.rejects(run('colour'), expectCode('invalid_argument', /unknown label field/));
    await assert.rejects(stat(out2));
  });
});

/** A stored product for the label checks, which need no images on disk. */
function product(id: string, attributes: Record<string, unknown>, hashes: string[] = [`${id}-hash`]): Product {
  return {
    ...listingFieldsOf({ id, title: id, attributes }),
    productHash: id,
    modelVersion: 'test',
    images: hashes.map((contentHash, index) => ({ index, path: `/images/${contentHash}.png`, contentHash, heads: {}, code: '', labels: {} })),
  };
}

const many = (label: string, count: number, from = 0) => Array.from({ length: count }, (_, i) => product(`${label}-${from + i}`, { type: label }));

describe('catalog labels', () => {
  const read = fieldAccessor('attributes.type');

  test('classes below the minimum are dropped with a warning while two remain, refused otherwise', () => {
    const kept = labelsFromProducts('/c', 'attributes.type', [...many('a', 6), ...many('b', 5), ...many('c', 2)], read);
    assert.deepEqual(kept.labels, ['a', 'b']);
    assert.deepEqual(kept.droppedClasses, { c: 2 });
    assert.match(kept.warnings[0]!, /fewer than 5 listings dropped: 'c' \(2\)/);
    assert.equal(kept.rows.length, 11);
    assert.throws(() => labelsFromProducts('/c', 'attributes.type', [...many('a', 6), ...many('b', 4), ...many('c', 2)], read), expectCode('invalid_labels', /1 class with at least 5 listings \('a' 6, 'b' 4, 'c' 2\)/));
  });

  test('one image labelled two ways: refused when many are, naming both listings; a few are left out with a warning', () => {
    const products = [...many('a', 5), ...many('b', 5), product('x', { type: 'a' }, ['shared']), product('y', { type: 'b' }, ['shared'])];
    assert.throws(() => labelsFromProducts('/c', 'attributes.type', products, read), expectCode('invalid_labels', /conflicting labels for 1 of 11 images.*'a' on listing 'x', 'b' on listing 'y'/));
    const large = [...many('a', 60), ...many('b', 60), product('x', { type: 'a' }, ['shared']), product('y', { type: 'b' }, ['shared'])];
    const set = labelsFromProducts('/c', 'attributes.type', large, read);
    assert.ok(!set.rows.some((row) => row.contentHash === 'shared'), 'the conflicting photo is not trained on');
    assert.equal(set.rows.length, 120);
    assert.ok(set.warnings.some((w) => /1 image labelled two ways left out.*'x'.*'y'/.test(w)), set.warnings.join('; '));
  });

  test('the split is by product: a product, and products sharing a photo, fall on one side', () => {
    const products = [...many('a', 40), ...many('b', 40), product('s1', { type: 'a' }, ['h1', 'shared']), product('s2', { type: 'a' }, ['shared', 'h2'])];
    const splits = productSplits(products, 0.5);
    assert.equal(splits.get('s1'), splits.get('s2'));
    const set = labelsFromProducts('/c', 'attributes.type', products, read, { heldOutFraction: 0.5 });
    const sides = new Map<string, Set<string>>();
    for (const row of set.rows) sides.set(row.productId, (sides.get(row.productId) ?? new Set()).add(row.split));
    assert.ok([...sides.values()].every((s) => s.size === 1));
    assert.ok(set.rows.some((r) => r.split === 'val') && set.rows.some((r) => r.split === 'train'));
    // The shared photo appears once.
    assert.equal(set.rows.filter((r) => r.contentHash === 'shared').length, 1);
  });

  test('category, a listing field, is read through the same accessor', () => {
    const products = [...many('a', 5), ...many('b', 5)].map((p) => ({ ...p, category: p.attributes.type as string }));
    const set = labelsFromProducts('/c', 'category', products, fieldAccessor('category'));
    assert.deepEqual(set.labels, ['a', 'b']);
  });

  test('labels export: the jsonl adapter reads the file back with the same labels and split', async () => {
    const set = await catalogLabels(catalogDir, 'attributes.colour');
    const out = path.join(tmp.path, 'colour.jsonl');
    const { lines } = await writeLabelsJsonl(set, out);
    assert.equal(lines, 60);
    const dataset = await loadListingDataset(out, 'jsonl', { name: 'catalog', head: 'colour', valFraction: 0.2 });
    assert.deepEqual(dataset.tasks.colour, ['blue', 'green', 'red']);
    assert.equal(dataset.samples.length, 60);
    dataset.samples.forEach((sample, i) => {
      const row = set.rows[i]!;
      assert.equal(sample.path, row.path);
      assert.equal(dataset.tasks.colour![sample.single.colour!], row.label);
      assert.equal(sample.split, row.split);
    });
    const first = JSON.parse((await readFile(out, 'utf8')).split('\n')[0]!);
    assert.match(first.source, /^catalog:.*#p\d\d$/);
    // Beside the images is fine; below them the paths would leave the file's folder.
    await assert.rejects(writeLabelsJsonl(set, path.join(tmp.path, 'images', 'sub', 'x.jsonl')), expectCode('path_outside_root', /not below/));
  });
});
