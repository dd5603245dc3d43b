// Queue workers batch against a real redis-server: jobs in hand are ingested together (fewer
// analyzer calls than jobs), a worker with a (scripted) detector records what is seen
// together in the photos it wrote, and close() finishes the jobs in hand without waiting
// for their batch to fill.

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { openCatalog } from '../../src/catalog/open.ts';
import { ingest } from '../../src/ingest/ingest.ts';
import { redisOptions } from '../../src/queue/connection.ts';
import { enqueueIngest } from '../../src/queue/enqueue.ts';
import { startWorker } from '../../src/queue/worker.ts';
import { BASIC_COLOURS, createColourAnalyzer } from '../helpers/colour-analyzer.ts';
import { writeImage } from '../helpers/images.ts';
import { redisAvailable, startRedis, type RedisHandle } from '../helpers/redis.ts';
import { boxesInside, scenePhoto, scriptedDetector, type Block } from '../helpers/scripted-detector.ts';
import { tempDir } from '../helpers/tmp.ts';

const skip = redisAvailable() ? false : 'redis-server is not installed at /usr/bin/redis-server';
const PRODUCTS = 12;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let redis: RedisHandle;

// The outfit photo shows the jeans and the cap (as in test/pipelines/seen-together.test.ts).
const OUTFIT: Block[] = [
  { rgb: BASIC_COLOURS.blue!, at: [0.05, 0.1, 0.25, 0.8] },
  { rgb: BASIC_COLOURS.yellow!, at: [0.4, 0.1, 0.2, 0.3] },
];
const plain = (rgb: readonly [number, number, number]) => scenePhoto(64, 64, [{ rgb, at: [0, 0, 1, 1] }]);

async function settled(queue: Queue, total: number, timeoutMs = 20_000): Promise<Record<string, number>> {
  const started = Date.now();
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    if (counts.completed! + counts.failed! === total) return counts;
    if (Date.now() - started > timeoutMs) throw new Error(`queue did not settle: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  if (skip) return;
  tmp = await tempDir();
  redis = await startRedis();
  const colours = Object.keys(BASIC_COLOURS);
  for (let i = 0; i < PRODUCTS; i++) {
    await writeImage(join(tmp.path, 'folder', `item-${String(i).padStart(2, '0')}.png`), { background: colours[i % colours.length]!, shape: 'square', foreground: 'white', offset: i });
  }
  const outfit = join(tmp.path, 'outfit');
  const files: Record<string, Buffer> = { 'outfit.png': await scenePhoto(300, 200, OUTFIT), 'jeans.png': await plain(BASIC_COLOURS.blue!), 'cap.png': await plain(BASIC_COLOURS.yellow!) };
  await mkdir(outfit, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(outfit, name), bytes);
  const lines = ['outfit', 'jeans', 'cap'].map((id) => JSON.stringify({ id, title: id, image: `${id}.png` }));
  await writeFile(join(outfit, 'shop.jsonl'), lines.join('\n'));
});

after(async () => {
  if (redis) await redis.stop();
  if (tmp) await tmp.cleanup();
});

describe('batching queue workers', { skip }, () => {
  test('jobs in hand are ingested together: fewer analyzer calls and batches than jobs', { timeout: 30_000 }, async () => {
    const queueName = 'batch-test-1';
    const enqueued = await enqueueIngest(join(tmp.path, 'folder'), { redisUrl: redis.url, queueName });
    assert.equal(enqueued.enqueued, PRODUCTS);
    const analyzer = createColourAnalyzer();
    const catalog = await openCatalog(join(tmp.path, 'data-1'), { embeddingDim: analyzer.embeddingDim });
    // Default concurrency is the batch size; a generous wait lets the jobs fetched one by one meet.
    const worker = await startWorker({ redisUrl: redis.url, queueName, catalog, analyzer, batchSize: 8, batchWaitMs: 300 });
    const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
    try {
      assert.equal(worker.worker.opts.concurrency, 8);
      const counts = await settled(queue, PRODUCTS);
      assert.equal(counts.completed, PRODUCTS);
      const completed = await queue.getCompleted();
      assert.ok(completed.every((job) => job.returnvalue.status === 'indexed'));
      assert.ok(analyzer.calls < PRODUCTS, `${analyzer.calls} analyzer calls for ${PRODUCTS} jobs`);
      assert.ok(worker.stats.batches >= 2 && worker.stats.batches < PRODUCTS, `${worker.stats.batches} batches of at most 8`);
      assert.equal(worker.stats.listings, PRODUCTS);
      assert.equal(await catalog.countProducts(), PRODUCTS);
    } finally {
      await queue.close();
      await worker.close();
      await catalog.close();
    }
  });

  test('once the queue runs dry a worker builds the missing indexes (text search works); with the option off it does not', { timeout: 40_000 }, async () => {
    for (const optimizeWhenIdle of [true, false]) {
      const queueName = `batch-test-optimize-${optimizeWhenIdle}`;
      await enqueueIngest(join(tmp.path, 'folder'), { redisUrl: redis.url, queueName });
      const analyzer = createColourAnalyzer();
      const catalog = await openCatalog(join(tmp.path, `data-optimize-${optimizeWhenIdle}`), { embeddingDim: analyzer.embeddingDim });
      const worker = await startWorker({ redisUrl: redis.url, queueName, catalog, analyzer, optimizeWhenIdle });
      const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
      try {
        await settled(queue, PRODUCTS);
        const started = Date.now();
        // The index exists as soon as optimize() has built it, before the worker counts the optimize done.
        while (!((await catalog.hasTextIndex()) && worker.stats.optimizations > 0) && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 200));
        assert.equal(await catalog.hasTextIndex(), optimizeWhenIdle);
        assert.equal(worker.stats.optimizations > 0, optimizeWhenIdle);
      } finally {
        await queue.close();
        await worker.close();
        await catalog.close();
      }
    }
  });

  test('a worker that writes nothing still builds the text index a killed run left missing, when its run ends', { timeout: 30_000 }, async () => {
    const analyzer = createColourAnalyzer();
    const catalog = await openCatalog(join(tmp.path, 'data-unindexed'), { embeddingDim: analyzer.embeddingDim });
    // Written, then killed before its run's end: no text index.
    await ingest(join(tmp.path, 'folder'), { catalog, analyzer, optimize: false });
    assert.equal(await catalog.hasTextIndex(), false);
    const worker = await startWorker({ redisUrl: redis.url, queueName: 'batch-test-unindexed', catalog, analyzer });
    try {
      await worker.close();
      assert.equal(await catalog.hasTextIndex(), true);
      assert.equal(worker.stats.optimizations, 1);
    } finally {
      await worker.close();
      await catalog.close();
    }
  });

  test('with a detector, a worker links the products seen together in the photos it wrote', { timeout: 30_000 }, async () => {
    const queueName = 'batch-test-2';
    await enqueueIngest(join(tmp.path, 'outfit', 'shop.jsonl'), { redisUrl: redis.url, queueName });
    const analyzer = createColourAnalyzer();
    const detector = scriptedDetector((image) => (image.width === 300 ? boxesInside(OUTFIT) : [{ at: [0.1, 0.1, 0.8, 0.8], cls: 'handbag' }]));
    const catalog = await openCatalog(join(tmp.path, 'data-2'), { embeddingDim: analyzer.embeddingDim });
    const worker = await startWorker({ redisUrl: redis.url, queueName, catalog, analyzer, detector, batchWaitMs: 500 });
    const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
    try {
      const counts = await settled(queue, 3);
      assert.equal(counts.completed, 3);
      // Links are recorded before the batch's jobs complete.
      const around = async (id: string) => (await catalog.seenTogether(id)).map((l) => l.id).sort();
      assert.deepEqual(await around('outfit'), ['cap', 'jeans']);
      assert.deepEqual(await around('jeans'), ['cap', 'outfit']);
      assert.ok(detector.calls >= 3, 'every written photo went through detection');
      assert.equal(worker.stats.linkedProducts, 3);
      assert.equal(worker.stats.linkedPairs, 3, 'outfit-jeans, outfit-cap, jeans-cap');
      assert.equal(worker.stats.linkFailures, 0);
    } finally {
      await queue.close();
      await worker.close();
      await catalog.close();
    }
  });

  test('a photo written before the products it shows is linked again when the worker goes idle', { timeout: 30_000 }, async () => {
    const queueName = 'batch-test-relink';
    await enqueueIngest(join(tmp.path, 'outfit', 'shop.jsonl'), { redisUrl: redis.url, queueName });
    const analyzer = createColourAnalyzer();
    const detector = scriptedDetector((image) => (image.width === 300 ? boxesInside(OUTFIT) : [{ at: [0.1, 0.1, 0.8, 0.8], cls: 'handbag' }]));
    const catalog = await openCatalog(join(tmp.path, 'data-relink'), { embeddingDim: analyzer.embeddingDim });
    // One listing per batch, taken in order: the outfit is written and linked while jeans and
    // cap are not in the catalog yet, so its photo finds nothing to link at first.
    const worker = await startWorker({ redisUrl: redis.url, queueName, catalog, analyzer, detector, batchSize: 1, concurrency: 1, idleOptimizeMs: 300 });
    const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
    try {
      assert.equal((await settled(queue, 3)).completed, 3);
      const around = async (id: string) => (await catalog.seenTogether(id)).map((l) => l.id).sort();
      const started = Date.now();
      while (worker.stats.relinkedProducts === 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
      await worker.close();
      assert.equal(worker.stats.batches, 3);
      assert.deepEqual(await around('outfit'), ['cap', 'jeans']);
      assert.deepEqual(await around('cap'), ['jeans', 'outfit']);
      assert.equal(worker.stats.relinkedProducts, 2, 'outfit and jeans, linked before cap was written; cap was linked last');
      const counts = (await catalog.seenTogether('outfit')).map((l) => l.count);
      assert.deepEqual(counts, [1, 1], 'linked twice, counted once: one photo');
    } finally {
      await queue.close();
      await worker.close();
      await catalog.close();
    }
  });

  test('a failing detector fails no job; close() finishes the jobs in hand at once', { timeout: 30_000 }, async () => {
    const queueName = 'batch-test-3';
    await enqueueIngest(join(tmp.path, 'outfit', 'shop.jsonl'), { redisUrl: redis.url, queueName });
    const analyzer = createColourAnalyzer();
    const detector = scriptedDetector(() => {
      throw new Error('detector fell over');
    });
    const catalog = await openCatalog(join(tmp.path, 'data-3'), { embeddingDim: analyzer.embeddingDim });
    const errors: string[] = [];
    // A batch that would wait a minute for more jobs: only close() gets it going.
    const worker = await startWorker({ redisUrl: redis.url, queueName, catalog, analyzer, detector, batchWaitMs: 60_000, onError: (e) => errors.push(e.message) });
    const queue = new Queue(queueName, { connection: redisOptions(redis.url) });
    try {
      const active = Date.now();
      for (;;) {
        const counts = await queue.getJobCounts('active');
        if (counts.active === 3) break;
        if (Date.now() - active > 10_000) throw new Error('jobs never became active');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(analyzer.calls, 0, 'still gathering');
      const closing = Date.now();
      await worker.close();
      assert.ok(Date.now() - closing < 20_000);
      const counts = await queue.getJobCounts('completed', 'failed', 'active', 'waiting');
      assert.deepEqual(counts, { completed: 3, failed: 0, active: 0, waiting: 0 });
      assert.equal(await catalog.countProducts(), 3);
      // Each product reported, none linked. The 3 jobs usually form one batch, sometimes two (a
      // job fetched after close began joins the next one); then close() also retries the first
      // batch's products (relinking), which fail again: one more report and more failures.
      assert.ok(worker.stats.linkFailures >= 3 && worker.stats.linkFailures <= 5, `link failures ${worker.stats.linkFailures}`);
      for (const id of ['outfit', 'jeans', 'cap']) assert.deepEqual(await catalog.seenTogether(id), [], `${id} linked`);
      assert.ok(errors.length >= 1 && errors.length <= 3, errors.join(' | '));
      assert.ok(errors.every((e) => /^seen-together: [1-3] /.test(e)), errors.join(' | '));
    } finally {
      await queue.close();
      await worker.close();
      await catalog.close();
    }
  });
});
