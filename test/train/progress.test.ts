// Long library work reports its progress through the StartProgress its caller passes (the
// CLI passes its terminal bar): the backbone feature pass, the trainer that runs it, the
// evaluation, and the segmentation feature cache each start one phase with its label and
// total, tick as batches finish, and finish once; work already cached starts no phase.
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildHeadsGraph, CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName, type DenseWeights } from '../../src/model/heads/heads-graph.ts';
import { MANIFEST_FORMAT_VERSION, type ModelManifest } from '../../src/model/manifest.ts';
import { SEGMENT_BACKBONE_ID, SEGMENT_INPUT, SEGMENT_TAPS } from '../../src/segment/taps.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { CLOTHING_LABELS, loadClothing } from '../../src/train/datasets/clothing.ts';
import { evaluateModel } from '../../src/train/eval-model.ts';
import { extractPooledFeatures } from '../../src/train/extract-features.ts';
import { segmentFeatures } from '../../src/train/segmentation/feature-cache.ts';
import { train } from '../../src/train/train.ts';
import type { StartProgress } from '../../src/util/progress.ts';
import { solidImage, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { cacheWithBackbones, shapesConfig, writeShapes } from '../helpers/train-data.ts';
import { tempDir } from '../helpers/tmp.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let shapes: string;
let shapeFiles: string[];
const previousCache = process.env.GROKNET_CACHE;

before(async () => {
  tmp = await tempDir('groknet-progress-');
  shapes = await writeShapes(tmp.path);
  shapeFiles = [];
  for (const kind of (await readdir(shapes)).sort()) for (const name of (await readdir(path.join(shapes, kind))).sort()) shapeFiles.push(path.join(shapes, kind, name));
});
after(async () => {
  if (previousCache === undefined) delete process.env.GROKNET_CACHE;
  else process.env.GROKNET_CACHE = previousCache;
  await tmp.cleanup();
});

/** A StartProgress that writes down every call, in order. */
function recorder(): { events: string[]; startProgress: StartProgress } {
  const events: string[] = [];
  const startProgress: StartProgress = (label, total) => {
    events.push(`start ${label} ${total}`);
    return { tick: (done) => void events.push(`tick ${done}`), finish: () => void events.push('finish') };
  };
  return { events, startProgress };
}

/**
 * A model with a `clothing` head (what the evaluation scores) over the raw 32x32 image, with
 * constant weights: its figures are meaningless, its pass over the photos is real.
 */
async function clothingModel(dir: string): Promise<string> {
  const layer = (inDim: number, outDim: number): DenseWeights => ({ kernel: new Float32Array(inDim * outDim).fill(0.01), bias: new Float32Array(outDim), inDim, outDim });
  const graph = buildHeadsGraph({
    inputNode: 'input',
    channels: 3,
    gemP: 1,
    featureMean: new Float32Array(3),
    featureStd: new Float32Array(3).fill(1),
    shared: [layer(3, 8)],
    heads: [{ name: 'clothing', kind: 'single', dense: layer(8, CLOTHING_LABELS.length) }],
    embedding: { dense: layer(8, 8), codeMean: new Float32Array(8), rotation: new Float32Array(64).fill(0.5), bits: 8 },
  });
  const manifest: ModelManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: 'progress-clothing',
    version: '0.0.1',
    description: 'test model: constant heads over raw pixels',
    backbone: { id: 'none', tensors: ['input'] },
    input: { size: [32, 32], mode: 'center-crop', layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    headsFile: 'model.onnx',
    modelFile: 'model.onnx',
    heads: [{ name: 'clothing', kind: 'single', output: headOutputName('clothing'), labels: [...CLOTHING_LABELS], abstainBelow: 0.3 }],
    embedding: { output: EMBEDDING_OUTPUT, dim: 8, codeOutput: CODE_OUTPUT, codeBits: 8, exactMatchThreshold: 0.95 },
  };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'model.onnx'), graph.toModel());
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** A fresh cache, so the work under test is not already cached by another test. */
async function freshCache(name: string): Promise<void> {
  process.env.GROKNET_CACHE = await cacheWithBackbones(path.join(tmp.path, name));
}

test('the backbone feature pass reports its batches, and nothing when all is cached', { timeout: 120_000 }, async () => {
  await freshCache('cache-extract');
  const refs = shapeFiles.slice(0, 10);
  const options = { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [1], batchSize: 4 };
  const first = recorder();
  await extractPooledFeatures(refs, { ...options, startProgress: first.startProgress });
  assert.deepEqual(first.events, ['start backbone features 10', 'tick 4', 'tick 8', 'tick 10', 'finish']);

  const again = recorder();
  await extractPooledFeatures(refs, { ...options, startProgress: again.startProgress });
  assert.deepEqual(again.events, [], 'every image was cached: no pass, no phase');
});

test('the trainer passes its StartProgress to the feature pass', { timeout: 120_000 }, async () => {
  await freshCache('cache-train');
  const { events, startProgress } = recorder();
  await train(parseTrainConfig(shapesConfig(shapes, 1)), { out: path.join(tmp.path, 'model'), dryRun: true, log: () => undefined, startProgress });
  // Each photo and its augmented view.
  const views = 2 * shapeFiles.length;
  assert.equal(events[0], `start backbone features ${views}`);
  assert.equal(events.at(-2), `tick ${views}`);
  assert.equal(events.at(-1), 'finish');
  assert.equal(events.filter((e) => e.startsWith('start ')).length, 1);
});

test('the evaluation reports its pass over the held-out images', { timeout: 120_000 }, async () => {
  const modelDir = await clothingModel(path.join(tmp.path, 'clothing-model'));
  const clothing = path.join(tmp.path, 'datasets', 'clothing');
  await mkdir(clothing, { recursive: true });
  const colours = Object.values(TINY_COLOURS);
  const rows = ['image,label'];
  for (let i = 0; i < 60; i++) {
    await writeFile(path.join(clothing, `photo-${i}.png`), await solidImage(colours[i % colours.length]!));
    rows.push(`photo-${i}.png,T-Shirt`);
  }
  await writeFile(path.join(clothing, 'labels.csv'), `${rows.join('\n')}\n`);
  const heldOut = (await loadClothing(clothing)).samples.filter((s) => s.split === 'val').length;
  assert.ok(heldOut > 0 && heldOut < 60, `the split holds out some photos (${heldOut})`);

  const { events, startProgress } = recorder();
  await evaluateModel(modelDir, path.join(tmp.path, 'datasets'), { startProgress });
  const ticks = Array.from({ length: Math.ceil(heldOut / 16) }, (_, b) => `tick ${Math.min(heldOut, (b + 1) * 16)}`);
  assert.deepEqual(events, [`start eval ${heldOut}`, ...ticks, 'finish']);
});

test('the segmentation feature cache reports the views it computes, and nothing when all are cached', { timeout: 180_000 }, async () => {
  await freshCache('cache-segment');
  const refs = shapeFiles.slice(0, 3).map((photo) => ({ photo, flip: false }));
  // A small input keeps the trunk quick; the taps are the decoder's.
  const options = { backboneId: SEGMENT_BACKBONE_ID, taps: SEGMENT_TAPS, input: { ...SEGMENT_INPUT, size: [64, 64] as [number, number] }, batchSize: 2 };
  const first = recorder();
  const features = await segmentFeatures(refs, { ...options, startProgress: first.startProgress });
  assert.equal(features.size, 3);
  assert.deepEqual(first.events, ['start segmentation features 3', 'tick 2', 'tick 3', 'finish']);

  const again = recorder();
  await segmentFeatures(refs, { ...options, startProgress: again.startProgress });
  assert.deepEqual(again.events, []);
});
