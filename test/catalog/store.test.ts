import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { productFrom } from '../helpers/catalog.ts';
import { tempDir } from '../helpers/tmp.ts';
import { renderImage } from '../helpers/images.ts';
import { sha256 } from '../../src/catalog/hash.ts';

const analyzer = createColourAnalyzer();
let tmp: Awaited<ReturnType<typeof tempDir>>;
let catalog: CatalogStore;

before(async () => {
  tmp = await tempDir();
  catalog = await openCatalog(join(tmp.path, 'data'), { embeddingDim: analyzer.embeddingDim });
});
after(async () => {
  await catalog.close();
  await tmp.cleanup();
});

describe('catalog store', () => {
  test('an empty catalog answers every read', async () => {
    assert.equal(await catalog.countProducts(), 0);
    assert.deepEqual(await catalog.listProducts(), []);
    assert.equal(await catalog.getProduct('nope'), undefined);
    assert.equal(await catalog.deleteProduct('nope'), false);
    assert.equal(await catalog.hasImageHash('0'.repeat(64)), false);
    assert.deepEqual(await catalog.vocabularies(), {});
    assert.equal((await catalog.info()).modelVersion, undefined);
  });

  test('insert, get, list, count', async () => {
    const yellow = await productFrom(analyzer, 'sofa-1', [{ background: '#f5dc14' }, { background: '#f5dc14', shape: 'circle', foreground: '#e0c800' }], {
      title: 'Yellow sofa',
      description: 'A mid-century loveseat',
      price: 150,
      currency: 'EUR',
      attributes: { seller: 'acme', condition: 'used' },
    });
    const blue = await productFrom(analyzer, 'chair-2', [{ background: '#1e46dc' }], { title: 'Blue chair', price: 40 });
    assert.deepEqual(await catalog.insertProducts([yellow, blue]), { written: 2 });
    assert.equal(await catalog.countProducts(), 2);

    const got = await catalog.getProduct('sofa-1');
    assert.ok(got);
    assert.equal(got.title, 'Yellow sofa');
    assert.equal(got.price, 150);
    assert.equal(got.currency, 'EUR');
    assert.deepEqual(got.attributes, { seller: 'acme', condition: 'used' });
    assert.equal(got.images.length, 2);
    assert.equal(got.images[0]!.labels.colour, 'yellow');
    assert.equal(got.images[0]!.contentHash, yellow.images[0]!.contentHash);
    assert.equal(got.images[0]!.embedding, undefined, 'embeddings only on request');
    const withVectors = await catalog.getProduct('sofa-1', { withEmbeddings: true });
    assert.equal(withVectors?.images[1]!.embedding?.length, analyzer.embeddingDim);

    const listed = await catalog.listProducts();
    assert.deepEqual(listed.map((p) => p.id), ['chair-2', 'sofa-1']);
    assert.deepEqual((await catalog.listProducts({ offset: 1, limit: 1 })).map((p) => p.id), ['sofa-1']);
    assert.equal(await catalog.hasImageHash(blue.images[0]!.contentHash), true);
    assert.deepEqual(await catalog.vocabularies(), { colour: ['blue', 'yellow'] });
    const info = await catalog.info();
    assert.equal(info.modelVersion, analyzer.modelVersion);
    assert.equal(info.codeBits, analyzer.embeddingDim);
    assert.deepEqual(info.heads.colour, { labelColumn: 'head_colour', scoreColumn: 'score_colour' });
  });

  test('writing an existing id replaces the product, dropping images it lost', async () => {
    const fewer = await productFrom(analyzer, 'sofa-1', [{ background: '#1e46dc' }], { title: 'Blue sofa now' });
    await catalog.insertProducts([fewer]);
    const got = await catalog.getProduct('sofa-1');
    assert.equal(got?.title, 'Blue sofa now');
    assert.equal(got?.images.length, 1);
    assert.equal(got?.price, null);
    assert.equal(await catalog.countProducts(), 2);
    const table = await catalog.table();
    assert.equal(await table!.countRows(), 2, 'no stale image rows remain');
  });

  test('the same id twice in one batch keeps the later listing', async () => {
    const a = await productFrom(analyzer, 'twin', [{ background: 'red' }], { title: 'first' });
    const b = await productFrom(analyzer, 'twin', [{ background: 'green' }], { title: 'second' });
    await catalog.insertProducts([a, b]);
    assert.equal((await catalog.getProduct('twin'))?.title, 'second');
  });

  test('product hashes and stored analyses are looked up by id and content hash', async () => {
    const hashes = await catalog.getProductHashes(['twin', 'missing']);
    assert.deepEqual([...hashes.keys()], ['twin']);
    const twin = await catalog.getProduct('twin');
    const analyses = await catalog.analysesByHash([twin!.images[0]!.contentHash, 'f'.repeat(64)]);
    assert.equal(analyses.size, 1);
    assert.equal([...analyses.values()][0]!.embedding.length, analyzer.embeddingDim);
  });

  test('delete removes all images of a product', async () => {
    assert.equal(await catalog.deleteProduct('twin'), true);
    assert.equal(await catalog.getProduct('twin'), undefined);
    assert.equal(await catalog.deleteProduct('twin'), false);
  });

  test('ids with quotes and SQL are stored and found literally', async () => {
    const nasty = `o'brien"; DROP TABLE images_1; --`;
    await catalog.insertProducts([await productFrom(analyzer, nasty, [{ background: 'white' }])]);
    assert.equal((await catalog.getProduct(nasty))?.id, nasty);
    assert.equal(await catalog.getProduct(`x' OR '1'='1`), undefined);
    assert.equal(await catalog.deleteProduct(`x' OR '1'='1`), false);
    assert.equal(await catalog.countProducts(), 3);
    assert.equal(await catalog.deleteProduct(nasty), true);
  });

  test('refuses bad input with clear codes', async () => {
    const good = await productFrom(analyzer, 'ok', [{ background: 'white' }]);
    await assert.rejects(catalog.insertProducts([{ ...good, id: '' }]), { code: 'invalid_argument' });
    await assert.rejects(catalog.insertProducts([{ ...good, id: 'a\u0000b' }]), { code: 'invalid_argument' });
    await assert.rejects(catalog.insertProducts([{ ...good, images: [] }]), { code: 'invalid_argument' });
    await assert.rejects(catalog.insertProducts([{ ...good, price: -1 }]), { code: 'invalid_argument' });
    const image = good.images[0]!;
    const short = { ...image, analysis: { ...image.analysis, embedding: new Float32Array(8) } };
    await assert.rejects(catalog.insertProducts([{ ...good, images: [short] }]), { code: 'invalid_argument' });
    const other = { ...image, analysis: { ...image.analysis, modelVersion: 'other@2' } };
    await assert.rejects(catalog.insertProducts([{ ...good, images: [other] }]), { code: 'model_mismatch' });
    await assert.rejects(catalog.hasImageHash(`' OR 1=1`), { code: 'invalid_argument' });
    await assert.rejects(catalog.listProducts({ limit: 0 }), { code: 'invalid_argument' });
    assert.equal(await catalog.getProduct('ok'), undefined, 'nothing was written by the failed calls');
  });

  test('opening needs a dimension for a new catalog and checks it for an existing one', async () => {
    await assert.rejects(openCatalog(join(tmp.path, 'fresh')), { code: 'invalid_argument' });
    await assert.rejects(openCatalog(join(tmp.path, 'data'), { embeddingDim: 128 }), { code: 'model_mismatch' });
    const again = await openCatalog(join(tmp.path, 'data'));
    assert.equal(await again.countProducts(), 2);
    await again.close();
  });

  test('optimize builds the text index', async () => {
    assert.equal(await catalog.hasTextIndex(), false);
    await catalog.optimize();
    assert.equal(await catalog.hasTextIndex(), true);
    await catalog.optimize(); // idempotent
  });
});

describe('reindex', () => {
  test('re-analyses into a new table and swaps; readers keep working; same model is a no-op', async () => {
    const dir = join(tmp.path, 'reindex');
    const v1 = createColourAnalyzer({ embeddingDim: 32, modelVersion: 'colour@1' });
    const store = await openCatalog(dir, { embeddingDim: 32 });
    const paths: string[] = [];
    const products = [];
    for (const [i, colour] of ['red', 'green', 'blue'].entries()) {
      const bytes = await renderImage({ background: colour });
      const path = join(tmp.path, `re-${i}.png`);
      await writeFile(path, bytes);
      paths.push(path);
      const [analysis] = await v1.analyzeBuffers([bytes]);
      if (!analysis || analysis instanceof Error) throw new Error('analysis failed');
      products.push({ id: `p${i}`, title: colour, images: [{ path, contentHash: sha256(bytes), analysis }] });
    }
    await store.insertProducts(products);
    const reader = await openCatalog(dir); // another reader, as a server would have

    assert.deepEqual(await store.reindex(v1), { reindexed: 0, failed: [], swapped: false, modelVersion: 'colour@1' });

    const v2 = createColourAnalyzer({ embeddingDim: 64, modelVersion: 'colour@2', delayMs: 20 });
    const running = store.reindex(v2, { batchSize: 1 });
    let settled = false;
    void running.finally(() => (settled = true));
    // While the new table is being written, readers see the complete old catalog.
    let reads = 0;
    while (!settled) {
      assert.equal(await reader.countProducts(), 3);
      const product = await reader.getProduct('p1');
      assert.ok(product?.modelVersion === 'colour@1' || product?.modelVersion === 'colour@2');
      reads++;
    }
    assert.ok(reads > 1);
    const summary = await running;
    assert.equal(summary.swapped, true);
    assert.equal(summary.reindexed, 3);
    assert.equal((await store.info()).modelVersion, 'colour@2');
    assert.equal((await reader.info()).embeddingDim, 64, 'other readers follow the swap');
    assert.equal(await reader.countProducts(), 3);
    const p0 = await reader.getProduct('p0', { withEmbeddings: true });
    assert.equal(p0?.modelVersion, 'colour@2');
    assert.equal(p0?.images[0]!.embedding?.length, 64);
    await reader.close();
    await store.close();
    await assert.rejects(openCatalog(dir, { embeddingDim: 32 }), { code: 'model_mismatch' });
  });

  test('a missing image blocks the swap unless forced', async () => {
    const dir = join(tmp.path, 'reindex-fail');
    const v1 = createColourAnalyzer({ modelVersion: 'colour@1' });
    const store = await openCatalog(dir, { embeddingDim: 64 });
    const ok = await productFrom(v1, 'gone', [{ background: 'red' }]); // /virtual/... paths do not exist
    await store.insertProducts([ok]);
    const v2 = createColourAnalyzer({ modelVersion: 'colour@2' });
    const blocked = await store.reindex(v2);
    assert.equal(blocked.swapped, false);
    assert.equal(blocked.failed[0]?.code, 'file_not_found');
    assert.equal((await store.info()).modelVersion, 'colour@1');
    assert.equal(await store.countProducts(), 1);
    const forced = await store.reindex(v2, { force: true });
    assert.equal(forced.swapped, true);
    assert.equal(await store.countProducts(), 0);
    await store.close();
  });
});
