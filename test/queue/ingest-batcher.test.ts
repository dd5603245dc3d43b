// The ingest micro-batcher without Redis: listings submitted together are analysed in one
// analyzer call and written in one catalog commit, and each submission still gets its own
// outcome (indexed, unchanged, its image failures, or its own rejection).

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Listing } from '../../src/catalog/ingest.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import type { Analyzer } from '../../src/model/types.ts';
import { IngestBatcher, ListingFailure } from '../../src/queue/ingest-batcher.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { writeImage } from '../helpers/images.ts';
import { outfitSegmenter, OUTFITS, SCARF, writeOutfits } from '../helpers/outfits.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'pink', 'brown'];

before(async () => {
  tmp = await tempDir();
  for (const [i, colour] of COLOURS.entries()) {
    await writeImage(join(tmp.path, `${colour}.png`), { background: colour, shape: 'circle', foreground: 'white', offset: i });
  }
  await writeFile(join(tmp.path, 'text.png'), TEXT_FILE);
});
after(async () => {
  await tmp?.cleanup();
});

function listing(id: string, images: string[], item = `shop.csv line ${id}`): Listing {
  return { item, id, title: `Product ${id}`, description: '', price: null, currency: null, attributes: {}, images: images.map((f) => join(tmp.path, f)) };
}

/** The catalog, counting its commits and able to fail on demand. */
function counting(catalog: CatalogStore, fail: { hashes?: boolean; inserts?: boolean } = {}): CatalogStore & { inserts: number } {
  let inserts = 0;
  return new Proxy(catalog, {
    get(target, key) {
      if (key === 'inserts') return inserts;
      if (key === 'insertProducts') {
        return (...args: Parameters<CatalogStore['insertProducts']>) => {
          inserts++;
          if (fail.inserts) return Promise.reject(new GroknetError('store_error', 'disk full'));
          return target.insertProducts(...args);
        };
      }
      if (key === 'getProductHashes' && fail.hashes) return () => Promise.reject(new GroknetError('store_error', 'table is gone'));
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as CatalogStore & { inserts: number };
}

async function fresh(name: string) {
  const analyzer = createColourAnalyzer();
  const store = await openCatalog(join(tmp.path, name), { embeddingDim: analyzer.embeddingDim });
  return { analyzer, store, catalog: counting(store) };
}

test('listings submitted together: one analyzer call, one catalog commit, one outcome each', async () => {
  const { analyzer, store, catalog } = await fresh('together');
  const written: string[][] = [];
  const batcher = new IngestBatcher({ catalog, analyzer, maxBatch: 16, maxWaitMs: 20, afterWrite: async (ids) => void written.push([...ids]) });
  try {
    const results = await Promise.all(COLOURS.map((c) => batcher.submit(listing(c, [`${c}.png`]))));
    assert.deepEqual(results.map((r) => [r.id, r.status]), COLOURS.map((c) => [c, 'indexed']));
    assert.equal(analyzer.calls, 1, 'one analyzer call for the batch');
    assert.equal(catalog.inserts, 1, 'one catalog commit for the batch');
    assert.deepEqual(batcher.stats, { batches: 1, listings: COLOURS.length, segmented: 0 });
    assert.deepEqual(written.map((ids) => [...ids].sort()), [[...COLOURS].sort()], 'afterWrite gets the written ids once');
    assert.equal(await store.countProducts(), COLOURS.length);

    // The same listings again: unchanged, nothing analysed or written, afterWrite not called.
    const again = await Promise.all(COLOURS.slice(0, 3).map((c) => batcher.submit(listing(c, [`${c}.png`]))));
    assert.deepEqual(again.map((r) => r.status), ['unchanged', 'unchanged', 'unchanged']);
    assert.equal(analyzer.calls, 1);
    assert.equal(catalog.inserts, 1);
    assert.equal(written.length, 1);
  } finally {
    await batcher.close();
    await store.close();
  }
});

test('batches hold at most maxBatch listings, and only one runs at a time', async () => {
  const colour = createColourAnalyzer({ delayMs: 30 });
  let inFlight = 0;
  let most = 0;
  const analyzer: Analyzer = {
    ...colour,
    analyzeBuffers: async (images) => {
      most = Math.max(most, ++inFlight);
      try {
        return await colour.analyzeBuffers(images);
      } finally {
        inFlight--;
      }
    },
  };
  const store = await openCatalog(join(tmp.path, 'sizes'), { embeddingDim: colour.embeddingDim });
  const batcher = new IngestBatcher({ catalog: store, analyzer, maxBatch: 3, maxWaitMs: 10 });
  try {
    const results = await Promise.all(COLOURS.map((c) => batcher.submit(listing(c, [`${c}.png`]))));
    assert.ok(results.every((r) => r.status === 'indexed'));
    assert.deepEqual(batcher.stats, { batches: 3, listings: 8, segmented: 0 }, '3 + 3 + 2');
    assert.equal(most, 1, 'batches never overlap');
  } finally {
    await batcher.close();
    await store.close();
  }
});

test('the same product id twice is split over two batches, the later version last', async () => {
  const { analyzer, store, catalog } = await fresh('same-id');
  const batcher = new IngestBatcher({ catalog, analyzer, maxWaitMs: 10 });
  try {
    const [first, other, second] = await Promise.all([
      batcher.submit(listing('hat', ['red.png'])),
      batcher.submit(listing('scarf', ['green.png'])),
      batcher.submit(listing('hat', ['blue.png'])),
    ]);
    assert.deepEqual([first.status, other.status, second.status], ['indexed', 'indexed', 'indexed']);
    assert.equal(batcher.stats.batches, 2);
    assert.equal(catalog.inserts, 2);
    const hat = await store.getProduct('hat');
    assert.deepEqual(hat!.images.map((i) => i.path), [join(tmp.path, 'blue.png')], 'submission order kept: the later listing wins');
    const table = await store.table();
    assert.equal(await table!.countRows(), 2, 'one row per product, no duplicate');
  } finally {
    await batcher.close();
    await store.close();
  }
});

test('a listing without a usable image fails alone; a bad image of a good listing is reported on its job', async () => {
  const { analyzer, store, catalog } = await fresh('bad-images');
  const batcher = new IngestBatcher({ catalog, analyzer, maxWaitMs: 10 });
  try {
    // Two listings share an item label (two sources can both have "shop.csv line 4"): failures stay with theirs.
    const outcomes = await Promise.allSettled([
      batcher.submit(listing('good', ['red.png'], 'shop.csv line 4')),
      batcher.submit(listing('broken', ['text.png'], 'shop.csv line 4')),
      batcher.submit(listing('mixed', ['green.png', 'text.png'], 'mixed')),
      batcher.submit(listing('missing', ['nowhere.png'], 'missing')),
    ]);
    assert.equal(analyzer.calls, 1);
    assert.equal(batcher.stats.batches, 1);
    const [good, broken, mixed, missing] = outcomes;
    assert.equal(good!.status, 'fulfilled');
    assert.deepEqual(good.status === 'fulfilled' && good.value, { status: 'indexed', id: 'good', failed: [] });
    assert.equal(broken!.status, 'rejected');
    const reason = broken.status === 'rejected' ? broken.reason : undefined;
    assert.ok(reason instanceof ListingFailure);
    assert.equal(reason.code, 'not_an_image');
    assert.equal(reason.item, 'shop.csv line 4');
    assert.equal(mixed!.status, 'fulfilled');
    if (mixed.status === 'fulfilled') {
      assert.equal(mixed.value.status, 'indexed');
      assert.deepEqual(mixed.value.failed.map((f) => [f.item, f.code]), [[`mixed: ${join(tmp.path, 'text.png')}`, 'not_an_image']]);
    }
    assert.equal(missing!.status, 'rejected');
    assert.equal(missing.status === 'rejected' && missing.reason.code, 'file_not_found');
    assert.deepEqual((await store.listProducts({ limit: 10 })).map((p) => p.id).sort(), ['good', 'mixed']);
  } finally {
    await batcher.close();
    await store.close();
  }
});

test('a store error rejects every listing of the batch with it', async () => {
  const analyzer = createColourAnalyzer();
  const store = await openCatalog(join(tmp.path, 'store-error'), { embeddingDim: analyzer.embeddingDim });
  const broken = new IngestBatcher({ catalog: counting(store, { hashes: true }), analyzer, maxWaitMs: 10 });
  const refusing = counting(store, { inserts: true });
  const full = new IngestBatcher({ catalog: refusing, analyzer, maxWaitMs: 10 });
  try {
    // The whole ingestListings call throws: every job gets that error (BullMQ retries them).
    const outcomes = await Promise.allSettled(COLOURS.slice(0, 3).map((c) => broken.submit(listing(c, [`${c}.png`]))));
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected']);
    const reasons = outcomes.map((o) => (o.status === 'rejected' ? o.reason : undefined));
    assert.ok(reasons.every((r) => r === reasons[0] && r instanceof GroknetError && r.code === 'store_error' && !(r instanceof ListingFailure)));

    // Commits refused: ingest isolates them listing by listing, each fails with store_error.
    const refused = await Promise.allSettled(COLOURS.slice(0, 2).map((c) => full.submit(listing(c, [`${c}.png`]))));
    for (const o of refused) {
      assert.equal(o.status, 'rejected');
      assert.ok(o.status === 'rejected' && o.reason instanceof ListingFailure && o.reason.code === 'store_error');
    }
    assert.equal(await store.countProducts(), 0);
  } finally {
    await broken.close();
    await full.close();
    await store.close();
  }
});

test('afterWrite failing does not fail the listings; close runs what waits, then refuses', async () => {
  const { analyzer, store, catalog } = await fresh('close');
  const errors: string[] = [];
  const batcher = new IngestBatcher({
    catalog,
    analyzer,
    maxWaitMs: 60_000,
    afterWrite: async () => {
      throw new Error('detector fell over');
    },
    onError: (error) => errors.push(error.message),
  });
  try {
    const started = Date.now();
    const pending = batcher.submit(listing('red', ['red.png']));
    assert.equal(batcher.waiting, 1);
    await batcher.close();
    assert.ok(Date.now() - started < 30_000, 'close did not wait for maxWaitMs');
    assert.equal((await pending).status, 'indexed');
    assert.deepEqual(errors, ['detector fell over']);
    await assert.rejects(batcher.submit(listing('green', ['green.png'])), { code: 'unavailable' });
  } finally {
    await store.close();
  }
});

test('options out of range are refused', () => {
  const analyzer = createColourAnalyzer();
  const catalog = {} as CatalogStore;
  assert.throws(() => new IngestBatcher({ catalog, analyzer, maxBatch: 0 }), { code: 'invalid_argument' });
  assert.throws(() => new IngestBatcher({ catalog, analyzer, maxWaitMs: -1 }), { code: 'invalid_argument' });
});

test("with a segmenter, each listing's garments are stored; a photo it fails on is reported on its job, the product indexed", async () => {
  const { analyzer, store, catalog } = await fresh('garments');
  await writeOutfits(tmp.path, [...OUTFITS, SCARF]);
  const segmenter = outfitSegmenter(undefined, { failWidths: [SCARF.width] });
  const batcher = new IngestBatcher({ catalog, analyzer, segmenter, maxWaitMs: 20 });
  try {
    const results = await Promise.all([...OUTFITS, SCARF].map((o) => batcher.submit(listing(o.id, [`${o.id}.png`], `jobs line ${o.id}`))));
    assert.deepEqual(results.map((r) => r.status), [...OUTFITS, SCARF].map(() => 'indexed'));
    assert.equal(batcher.stats.batches, 1);
    assert.equal(batcher.stats.segmented, OUTFITS.length, 'every photo but the one the segmenter failed on');
    const scarf = results.at(-1)!;
    assert.deepEqual(scarf.failed.map((f) => [f.item, f.code]), [[`jobs line scarf: ${join(tmp.path, 'scarf.png')}`, 'internal']]);
    assert.match(scarf.failed[0]!.message, /^garments not stored/);
    assert.ok(results.slice(0, -1).every((r) => r.failed.length === 0));
    assert.deepEqual((await store.getProduct('dress-blue'))!.images[0]!.garments!.map((g) => `${g.label}:${g.colour}`), ['dress:blue']);
    assert.equal((await store.getProduct('scarf'))!.images[0]!.garments, undefined);
  } finally {
    await batcher.close();
    await store.close();
  }
});
