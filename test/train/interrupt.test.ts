// Ctrl-C during training (issue #27), in process through the trainer's AbortSignal: it stops
// at a safe point, keeps what it did, writes nothing half-done, and a resumed run ends bit
// for bit like one never stopped. Safe points: between training steps (after a checkpoint)
// and between batches of the feature pass (the images done are cached as a shard of their own).
// test/cli/interrupt.test.ts sends the real signal to `groknet train`.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { extractPooledFeatures, type ExtractOptions } from '../../src/train/extract-features.ts';
import { fitHeads, type FitInput } from '../../src/train/fit-heads.ts';
import { fitWeights, smallFitInput } from '../helpers/fit-input.ts';
import { train } from '../../src/train/train.ts';
import { cacheWithBackbones, shapesConfig, writeShapes } from '../helpers/train-data.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let shapes: string;
const previousCache = process.env.GROKNET_CACHE;

before(async () => {
  tmp = await tempDir('groknet-train-interrupt-');
  shapes = await writeShapes(tmp.path);
  process.env.GROKNET_CACHE = await cacheWithBackbones(path.join(tmp.path, 'cache'));
});
after(async () => {
  if (previousCache === undefined) delete process.env.GROKNET_CACHE;
  else process.env.GROKNET_CACHE = previousCache;
  await tmp.cleanup();
});

const interrupted = (details: RegExp) => (error: unknown) => error instanceof GroknetError && error.code === 'interrupted' && details.test(error.message);

/** An AbortSignal that reads as aborted from its (checks + 1)-th look on: a stop at an exact step or batch. */
function abortedAfter(checks: number): AbortSignal {
  let looks = 0;
  return { get aborted() { return ++looks > checks; } } as unknown as AbortSignal;
}

/** Files a killed or stopped writer could leave half-written (writeAtomic's temp names). */
async function tempFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true });
  return names.filter((n) => /\.tmp-\d+-[0-9a-f]{8}$/.test(n));
}

test('train stopped by its signal between steps, then run with resume, ends bit for bit like an uninterrupted run', { timeout: 120_000 }, async () => {
  const config = parseTrainConfig(shapesConfig(shapes, 12));
  const quiet = (): void => undefined;
  const reference = path.join(tmp.path, 'reference');
  await train(config, { out: reference, log: quiet });

  const out = path.join(tmp.path, 'stopped');
  const stop = new AbortController();
  // Aborted as epoch 5 ends: the next step does not start.
  await assert.rejects(
    train(config, { out, signal: stop.signal, log: (line) => (/^epoch 5\//.test(line) ? stop.abort() : undefined) }),
    interrupted(/at training step \d+ of \d+, checkpoint written/),
  );
  await assert.rejects(readFile(path.join(out, 'model.json')), { code: 'ENOENT' }, 'no model is written by a stopped run');

  const lines: string[] = [];
  await train(config, { out, resume: true, log: (line) => lines.push(line) });
  assert.match(lines.find((l) => l.startsWith('epoch ')) ?? '', /^epoch 6\/12/, 'the resumed run goes on after epoch 5');
  assert.ok((await readFile(path.join(out, 'heads.onnx'))).equals(await readFile(path.join(reference, 'heads.onnx'))), 'same weights as the uninterrupted run');
  const evaluation = async (dir: string) => (JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as { evaluation: unknown }).evaluation;
  assert.deepEqual(await evaluation(out), await evaluation(reference));
  assert.deepEqual(await tempFiles(tmp.path), []);
});

test('fitHeads stopped by its signal mid-epoch writes a checkpoint that resumes bit for bit', { timeout: 60_000 }, async () => {
  const base: Omit<FitInput, 'checkpoint' | 'signal'> = { ...smallFitInput(), epochs: 6 };
  const weights = fitWeights;
  const straight = await fitHeads(base);
  const expected = weights(straight);
  straight.dispose();

  const file = path.join(tmp.path, 'fit.ckpt');
  // 6 steps an epoch: step 9 is in the middle of the second.
  await assert.rejects(fitHeads({ ...base, signal: abortedAfter(9), checkpoint: { file, everySteps: 0, resume: false } }), interrupted(/at training step 9 of 36, checkpoint written/));
  const resumed = await fitHeads({ ...base, checkpoint: { file, everySteps: 0, resume: true } });
  assert.equal(resumed.steps, 36);
  const got = weights(resumed);
  resumed.dispose();
  got.forEach((w, k) => assert.ok(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(expected[k]!.buffer, expected[k]!.byteOffset, expected[k]!.byteLength)), `weights ${k} differ`));
});

test('the feature pass stopped between batches caches the images done; the rest, extracted later, gives the same features', { timeout: 120_000 }, async () => {
  const refs: string[] = [];
  for (const kind of (await readdir(shapes)).sort()) for (const name of (await readdir(path.join(shapes, kind))).sort()) refs.push(path.join(shapes, kind, name));
  const options: ExtractOptions = { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [3], batchSize: 4 };
  const bits = (features: Float32Array): Buffer => Buffer.from(features.buffer, features.byteOffset, features.byteLength);

  const shared = process.env.GROKNET_CACHE!;
  process.env.GROKNET_CACHE = await cacheWithBackbones(path.join(tmp.path, 'cache-reference'));
  const full = await extractPooledFeatures(refs, options);
  process.env.GROKNET_CACHE = shared;
  try {
    const stoppedCache = await cacheWithBackbones(path.join(tmp.path, 'cache-stopped'));
    process.env.GROKNET_CACHE = stoppedCache;
    // Three batches of 4, then the signal: 12 images kept.
    await assert.rejects(extractPooledFeatures(refs, { ...options, signal: abortedAfter(3) }), interrupted(/12 of 30 images done, kept in the cache/));
    const [featureDir] = await readdir(path.join(stoppedCache, 'features'));
    const indexes = (await readdir(path.join(stoppedCache, 'features', featureDir!))).filter((n) => n.endsWith('.json'));
    assert.equal(indexes.length, 1);
    const shard = JSON.parse(await readFile(path.join(stoppedCache, 'features', featureDir!, indexes[0]!), 'utf8')) as { refs: string[] };
    assert.deepEqual(shard.refs, refs.slice(0, 12));

    const resumed = await extractPooledFeatures(refs, options);
    assert.deepEqual([...resumed.rowOf.keys()], refs);
    assert.ok(bits(resumed.byP.get(3)!).equals(bits(full.byP.get(3)!)), 'the features of a stopped and resumed pass are those of one pass');
    assert.deepEqual(await tempFiles(stoppedCache), []);
  } finally {
    process.env.GROKNET_CACHE = shared;
  }
});
