// The ingest micro-batcher without Redis, over the publish pipeline with the queue policy
// (as the worker runs it): listings submitted together are analysed in one analyzer call and
// written in one catalog commit, and each submission still gets its own outcome (indexed,
// unchanged, its image failures, or its own rejection).

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Listing } from '../../src/catalog/sources.ts';
import { openCatalog } from '../../src/catalog/open.ts';
import type { CatalogStore } from '../../src/catalog/types.ts';
import { GroknetError } from '../../src/errors.ts';
import { garmentsBy } from '../../src/ingest/garments.ts';
import { SeenTogetherLinker } from '../../src/ingest/link.ts';
import { queuePolicy } from '../../src/ingest/policy.ts';
import { publish, type PublishSummary } from '../../src/ingest/publish.ts';
import type { Analyzer } from '../../src/model/types.ts';
import type { PhotoSegmenter } from '../../src/pipelines/shop-the-look.ts';
import { IngestBatcher, ListingFailure } from '../../src/queue/ingest-batcher.ts';
import { processIngestJob } from '../../src/queue/worker.ts';
import { TEXT_FILE } from '../helpers/bad-images.ts';
import { createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { writeImage } from '../helpers/images.ts';
import { outfitSegmenter, OUTFITS, SCARF, writeOutfits } from '../helpers/outfits.ts';
import { scriptedDetector } from '../helpers/scripted-detector.ts';
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
  return { item, id, title: `Product ${id}`, description: '', price: null, currency: null, category: null, attributes: {}, images: images.map((f) => join(tmp.path, f)) };
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

interface Parts {
  segmenter?: PhotoSegmenter;
  seenTogether?: SeenTogetherLinker;
  /** Told of every publish call's summary. */
  published?: PublishSummary[];
}

/** A batcher over the publish pipeline as the worker wires it (src/queue/worker.ts publishJobs). */
function batcherOver(catalog: CatalogStore, analyzer: Analyzer, batching: { maxBatch?: number; maxWaitMs?: number }, parts: Parts = {}): IngestBatcher {
  return new IngestBatcher({
    ...batching,
    publish: async (listings) => {
      const summary = await publish(listings, {
        catalog,
        analyzer,
        policy: queuePolicy(listings.length),
        ...(parts.segmenter ? { garments: garmentsBy(parts.segmenter) } : {}),
        ...(parts.seenTogether ? { seenTogether: parts.seenTogether } : {}),
      });
      parts.published?.push(summary);
      return summary;
    },
  });
}

async function fresh(name: string) {
  const analyzer = createColourAnalyzer();
  const store = await openCatalog(join(tmp.path, name), { embeddingDim: analyzer.embeddingDim });
  return { analyzer, store, catalog: counting(store) };
}

test('listings submitted together: one analyzer call, one catalog commit, one outcome each', async () => {
  const { analyzer, store, catalog } = await fresh('together');
  const published: PublishSummary[] = [];
  const batcher = batcherOver(catalog, analyzer, { maxBatch: 16, maxWaitMs: 20 }, { published });
  try {
    const results = await Promise.all(COLOURS.map((c) => batcher.submit(listing(c, [`${c}.png`]))));
    assert.deepEqual(results.map((r) => [r.id, r.status]), COLOURS.map((c) => [c, 'indexed']));
    assert.equal(analyzer.calls, 1, 'one analyzer call for the batch');
    assert.equal(catalog.inserts, 1, 'one catalog commit for the batch');
    assert.deepEqual(batcher.stats, { batches: 1, listings: COLOURS.length, segmented: 0 });
    assert.deepEqual(published.map((p) => p.outcomes.map((o) => o.id).sort()), [[...COLOURS].sort()], 'one publish call for the batch');
    assert.equal(await store.countProducts(), COLOURS.length);

    // The same listings again: unchanged, nothing analysed or written.
    const again = await Promise.all(COLOURS.slice(0, 3).map((c) => batcher.submit(listing(c, [`${c}.png`]))));
    assert.deepEqual(again.map((r) => r.status), ['unchanged', 'unchanged', 'unchanged']);
    assert.equal(analyzer.calls, 1);
    assert.equal(catalog.inserts, 1);
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
  const batcher = batcherOver(store, analyzer, { maxBatch: 3, maxWaitMs: 10 });
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
  const batcher = batcherOver(catalog, analyzer, { maxWaitMs: 10 });
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
  const batcher = batcherOver(catalog, analyzer, { maxWaitMs: 10 });
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
  const broken = batcherOver(counting(store, { hashes: true }), analyzer, { maxWaitMs: 10 });
  const refusing = counting(store, { inserts: true });
  const full = batcherOver(refusing, analyzer, { maxWaitMs: 10 });
  try {
    // The whole publish call throws: every job gets that error (BullMQ retries them).
    const outcomes = await Promise.allSettled(COLOURS.slice(0, 3).map((c) => broken.submit(listing(c, [`${c}.png`]))));
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected']);
    const reasons = outcomes.map((o) => (o.status === 'rejected' ? o.reason : undefined));
    assert.ok(reasons.every((r) => r === reasons[0] && r instanceof GroknetError && r.code === 'store_error' && !(r instanceof ListingFailure)));

    // Commits refused: publish isolates them listing by listing, each fails with store_error.
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

test('a detector that fails does not fail the listings, whose failures are on their outcomes; close runs what waits, then refuses', async () => {
  const { analyzer, store, catalog } = await fresh('close');
  const detector = scriptedDetector(() => {
    throw new Error('detector fell over');
  });
  const published: PublishSummary[] = [];
  const seenTogether = new SeenTogetherLinker({ catalog, analyzer, detector });
  const batcher = batcherOver(catalog, analyzer, { maxWaitMs: 60_000 }, { seenTogether, published });
  try {
    const started = Date.now();
    const pending = batcher.submit(listing('red', ['red.png']));
    assert.equal(batcher.waiting, 1);
    await batcher.close();
    assert.ok(Date.now() - started < 30_000, 'close did not wait for maxWaitMs');
    assert.equal((await pending).status, 'indexed');
    assert.equal(published[0]!.links?.products, 1, 'its photo was searched');
    assert.deepEqual(published[0]!.links?.failed.map((f) => f.code), ['internal'], 'the detector failure, reported with the photo');
    assert.equal(await store.countProducts(), 1);
    await assert.rejects(batcher.submit(listing('green', ['green.png'])), { code: 'unavailable' });
  } finally {
    await store.close();
  }
});

test('options out of range are refused', () => {
  const never = () => Promise.reject(new Error('not called'));
  assert.throws(() => new IngestBatcher({ publish: never, maxBatch: 0 }), { code: 'invalid_argument' });
  assert.throws(() => new IngestBatcher({ publish: never, maxWaitMs: -1 }), { code: 'invalid_argument' });
});

test("with a segmenter, each listing's garments are stored; a photo it fails on is reported on its job, the product indexed", async () => {
  const { analyzer, store, catalog } = await fresh('garments');
  await writeOutfits(tmp.path, [...OUTFITS, SCARF]);
  const segmenter = outfitSegmenter(undefined, { failWidths: [SCARF.width] });
  const batcher = batcherOver(catalog, analyzer, { maxWaitMs: 20 }, { segmenter });
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

test("the queue's retry rule: a listing failure that is not the listing's (store_error) is retried, bad data fails for good, a batch failure is retried", async () => {
  const outcomeFor = (code: 'store_error' | 'not_an_image'): PublishSummary => ({
    outcomes: [{ status: 'failed', id: 'x', failure: { item: 'shop.csv line 2', code, message: `${code} here` }, error: new GroknetError(code) }],
    indexed: 0,
    unchanged: 0,
    failed: [],
    segmented: 0,
    links: undefined,
    aborted: false,
    elapsedMs: 0,
  });
  const job = (id: string) => ({ id, data: { version: 1, productHash: '0'.repeat(64), listing: listing(id, ['red.png']) } }) as unknown as Job;
  for (const [code, retried] of [['store_error', true], ['not_an_image', false]] as const) {
    const batcher = new IngestBatcher({ publish: async () => outcomeFor(code), maxWaitMs: 0 });
    const failure = await processIngestJob(job(code), batcher).then(() => undefined, (error: unknown) => error);
    assert.ok(failure instanceof Error);
    assert.equal(failure instanceof UnrecoverableError, !retried, code);
    assert.match(failure.message, new RegExp(`^${code}: ${code} here$`));
    await batcher.close();
  }
  const down = new IngestBatcher({ publish: () => Promise.reject(new GroknetError('store_error', 'table is gone')), maxWaitMs: 0 });
  await assert.rejects(processIngestJob(job('down'), down), (error: unknown) => error instanceof GroknetError && !(error instanceof UnrecoverableError));
  await down.close();
  const invalid = new IngestBatcher({ publish: () => Promise.reject(new Error('not called')), maxWaitMs: 0 });
  await assert.rejects(processIngestJob({ id: 'bad', data: { version: 2 } } as unknown as Job, invalid), UnrecoverableError);
  await invalid.close();
});
