// The inference queue: batching across concurrent requests, the bound (429 + Retry-After),
// the deadline (504), and draining on shutdown. A stub analyzer that can be held, and that
// says when each batch reaches it, makes every case deterministic and quick: the tests wait
// for those events, never for a guessed number of milliseconds.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import type { Analysis, Analyzer } from '../../src/model/types.ts';
import { buildApp } from '../../src/server/app.ts';
import { InferenceQueue } from '../../src/server/inference-queue.ts';
import { createServiceMetrics } from '../../src/server/metrics.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { assertError } from './helpers/http.ts';

/**
 * Answers every image after `release()` is called (or at once when not held). `started(n)`
 * resolves once n batches have reached the model, with the sizes of those so far.
 */
function stubAnalyzer(options: { held?: boolean; fail?: (image: Buffer) => boolean } = {}) {
  const batches: number[] = [];
  let open = !options.held;
  let waiters: Array<() => void> = [];
  let watchers: Array<{ count: number; resolve: (sizes: number[]) => void }> = [];
  const analyzer: Analyzer & { batches: number[]; release(): void; started(count: number): Promise<number[]> } = {
    modelVersion: 'stub@1',
    exactMatchThreshold: 0.9,
    embeddingDim: 4,
    batches,
    release() {
      open = true;
      for (const wake of waiters) wake();
      waiters = [];
    },
    started(count) {
      if (batches.length >= count) return Promise.resolve([...batches]);
      return new Promise((resolve) => watchers.push({ count, resolve }));
    },
    async analyzeBuffers(images: readonly Buffer[]): Promise<Array<Analysis | GroknetError>> {
      batches.push(images.length);
      for (const w of watchers.filter((w) => w.count <= batches.length)) w.resolve([...batches]);
      watchers = watchers.filter((w) => w.count > batches.length);
      if (!open) await new Promise<void>((resolve) => waiters.push(resolve));
      return images.map((image) =>
        options.fail?.(image)
          ? new GroknetError('not_an_image')
          : { heads: { colour: { kind: 'single', top: [{ label: 'red', score: 0.9 }], abstain: false } }, embedding: new Float32Array([1, 0, 0, 0]), code: 'ff', modelVersion: 'stub@1' },
      );
    },
    async close() {},
  };
  return analyzer;
}

const settings = { maxBatch: 4, windowMs: 5, maxQueue: 100, timeoutMs: 5_000 };
const image = (n: number) => Buffer.from([n]);

test('concurrent requests share batches of at most maxBatch; failures stay per image', async () => {
  const analyzer = stubAnalyzer({ fail: (b) => b[0] === 3 });
  const metrics = createServiceMetrics();
  const queue = new InferenceQueue(analyzer, settings, metrics);
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => queue.analyze(image(i))));
  assert.deepEqual(analyzer.batches, [4, 2]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  assert.equal((results[3] as PromiseRejectedResult).reason.code, 'not_an_image');
  assert.equal(metrics.batchSize.count(), 2);
  assert.equal(queue.depth, 0);
});

test('a lone request waits only the batching window', async () => {
  const queue = new InferenceQueue(stubAnalyzer(), { ...settings, windowMs: 5 }, undefined);
  const started = performance.now();
  await queue.analyze(image(1));
  assert.ok(performance.now() - started < 200);
});

test('requests arriving during a run go together into the next batch', async () => {
  const analyzer = stubAnalyzer({ held: true });
  const queue = new InferenceQueue(analyzer, settings);
  const first = queue.analyze(image(0));
  assert.deepEqual(await analyzer.started(1), [1], 'the first image runs alone (held) after its window');
  const rest = [1, 2, 3].map((n) => queue.analyze(image(n)));
  assert.equal(queue.depth, 4);
  analyzer.release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(analyzer.batches, [1, 3]);
});

test('a full queue refuses with overloaded; a late answer times out', async () => {
  const analyzer = stubAnalyzer({ held: true });
  const queue = new InferenceQueue(analyzer, { ...settings, maxQueue: 2, timeoutMs: 50 });
  const a = queue.analyze(image(0));
  const b = queue.analyze(image(1));
  await assert.rejects(queue.analyze(image(2)), (e: unknown) => e instanceof GroknetError && e.code === 'overloaded');
  assert.ok(queue.retryAfterSeconds() >= 1);
  await assert.rejects(a, (e: unknown) => e instanceof GroknetError && e.code === 'timeout');
  await assert.rejects(b, (e: unknown) => e instanceof GroknetError && e.code === 'timeout');
  analyzer.release();
});

test('drain finishes accepted work and refuses new work', async () => {
  const analyzer = stubAnalyzer({ held: true });
  const queue = new InferenceQueue(analyzer, settings);
  const pending = [queue.analyze(image(0)), queue.analyze(image(1))];
  const drained = queue.drain();
  let done = false;
  void drained.then(() => (done = true));
  // Draining sends what was accepted at once, without the window: both images are in the held model.
  assert.deepEqual(await analyzer.started(1), [2]);
  await assert.rejects(queue.analyze(image(2)), (e: unknown) => e instanceof GroknetError && e.code === 'unavailable');
  assert.equal(done, false, 'drain waits for the batch the model still holds');
  analyzer.release();
  await drained;
  assert.equal((await Promise.all(pending)).length, 2);
  assert.equal(queue.accepting, false);
});

const dataDirs: string[] = [];
after(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

async function appWith(analyzer: Analyzer, inference: Partial<typeof settings>) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'groknet-queue-test-'));
  dataDirs.push(dataDir);
  return buildApp({ analyzer, config: { dataDir, web: false, rateLimitPerMinute: 0, inference } });
}

test('over HTTP: queue full is 429 with Retry-After, a deadline is 504, shutdown drains', async () => {
  const analyzer = stubAnalyzer({ held: true });
  // A long window: the first request waits for the second, and the two (a full batch) reach the model together.
  const app = await appWith(analyzer, { maxQueue: 2, maxBatch: 2, windowMs: 1_000, timeoutMs: 2_000 });
  const png = await solidImage(TINY_COLOURS.red!);
  const send = () => app.inject({ method: 'POST', url: '/v1/analyze', payload: png, headers: { 'content-type': 'image/png' } });
  const inFlight = [send(), send()];
  assert.deepEqual(await analyzer.started(1), [2], 'both requests accepted: the queue is full');
  const refused = await send();
  assertError(refused, 429, 'overloaded');
  assert.match(String(refused.headers['retry-after']), /^\d+$/);

  // Closing waits for the two accepted requests, which succeed once the model answers. The
  // queue refusing new work as shutting down shows the drain has begun while they are held.
  const closing = app.close();
  let closed = false;
  void closing.then(() => (closed = true));
  assertError(await send(), 503, 'unavailable');
  assert.equal(closed, false, 'close waits for the requests the model still holds');
  analyzer.release();
  await closing;
  assert.deepEqual((await Promise.all(inFlight)).map((r) => r.statusCode), [200, 200]);

  const slow = stubAnalyzer({ held: true });
  const timing = await appWith(slow, { timeoutMs: 50 });
  const late = await timing.inject({ method: 'POST', url: '/v1/analyze', payload: png, headers: { 'content-type': 'image/png' } });
  assertError(late, 504, 'timeout');
  slow.release();
  await timing.close();
});
