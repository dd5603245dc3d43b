import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { buildHeadsGraph, CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from '../../src/model/heads/heads-graph.ts';
import { gemPoolNHWC } from '../../src/train/gem-pool.ts';
import { fitHeads, rng, type SingleTask } from '../../src/train/fit-heads.ts';

// Two separable classes in a 2x2xC feature map; a third task labels only half the rows.
function syntheticMaps(rows: number, channels: number, seed: number) {
  const random = rng(seed);
  const positions = 4;
  const maps = new Float32Array(rows * positions * channels);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    labels[r] = r % 2;
    for (let p = 0; p < positions; p++) {
      for (let c = 0; c < channels; c++) {
        const signal = c % 2 === labels[r] ? 1.5 : 0.2;
        maps[(r * positions + p) * channels + c] = Math.max(0, signal + (random() - 0.5));
      }
    }
  }
  return { maps, labels, positions };
}

test('fitHeads learns separable classes and the exported ONNX heads agree with TF.js', async () => {
  const rows = 64;
  const channels = 8;
  const gemP = 3;
  const { maps, labels, positions } = syntheticMaps(rows, channels, 1);
  const pooled = new Float32Array(rows * channels);
  for (let r = 0; r < rows; r++) gemPoolNHWC(maps, r * positions * channels, positions, channels, gemP, pooled, r * channels);

  const half = new Int32Array(rows).map((_, r) => (r < rows / 2 ? labels[r]! : -1));
  const tasks: SingleTask[] = [
    { name: 'parity', labels: ['even', 'odd'], targets: labels, weight: 1 },
    { name: 'partial', labels: ['a', 'b'], targets: half, weight: 1 },
  ];
  const fit = await fitHeads({
    features: pooled,
    dim: channels,
    trainRows: Int32Array.from({ length: rows }, (_, i) => i),
    tasks,
    productIds: labels,
    productCount: 2,
    sharedSizes: [16],
    embeddingDim: 8,
    epochs: 40,
    batchSize: 16,
    learningRate: 0.01,
    weightDecay: 0,
    labelSmoothing: 0,
    arcface: { scale: 8, margin: 0.2, weight: 0.5 },
    seed: 3,
  });
  const all = Int32Array.from({ length: rows }, (_, i) => i);
  const predicted = fit.predict(all);
  const parity = predicted.probs.parity!;
  let correct = 0;
  for (let r = 0; r < rows; r++) if ((parity[r * 2 + 1]! > parity[r * 2]! ? 1 : 0) === labels[r]) correct++;
  assert.ok(correct / rows >= 0.95, `accuracy ${correct / rows}`);

  const rotation = new Float32Array(64).map((_, i) => (i % 9 === 0 ? 1 : 0));
  const graph = buildHeadsGraph({
    inputNode: 'backbone/map',
    channels,
    gemP,
    featureMean: fit.featureMean,
    featureStd: fit.featureStd,
    shared: fit.shared,
    heads: fit.heads,
    embedding: { dense: fit.embedding, codeMean: new Float32Array(8), rotation, bits: 8 },
  });
  const session = await ort.InferenceSession.create(graph.toModel());
  const out = await session.run({ 'backbone/map': new ort.Tensor('float32', maps, [rows, 2, 2, channels]) });
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
  };
  assert.ok(maxDiff(out[headOutputName('parity')]!.data as Float32Array, parity) < 1e-3);
  assert.ok(maxDiff(out[headOutputName('partial')]!.data as Float32Array, predicted.probs.partial!) < 1e-3);
  assert.ok(maxDiff(out[EMBEDDING_OUTPUT]!.data as Float32Array, predicted.embedding) < 1e-3);
  assert.ok(maxDiff(out[CODE_OUTPUT]!.data as Float32Array, predicted.embedding) < 1e-3, 'identity rotation, zero mean: code projection equals the embedding');
  fit.dispose();
});

test('fitHeads stops with a clear message when the loss is not finite', async () => {
  const features = Float32Array.from([NaN, 1, 2, 3]);
  await assert.rejects(
    fitHeads({
      features,
      dim: 2,
      trainRows: Int32Array.from([0, 1]),
      tasks: [{ name: 't', labels: ['a', 'b'], targets: Int32Array.from([0, 1]), weight: 1 }],
      productIds: Int32Array.from([-1, -1]),
      productCount: 0,
      sharedSizes: [4],
      embeddingDim: 2,
      epochs: 1,
      batchSize: 2,
      learningRate: 0.01,
      weightDecay: 0,
      labelSmoothing: 0,
      arcface: { scale: 8, margin: 0.2, weight: 1 },
      seed: 1,
    }),
    /training diverged/,
  );
});

test('epochBatches is a pure function of seed and epoch, and follows row weights', async () => {
  const { epochBatches } = await import('../../src/train/fit-heads.ts');
  const trainRows = Int32Array.from({ length: 100 }, (_, i) => i);
  const rowWeights = new Float32Array(100).map((_, i) => (i < 50 ? 9 : 1));
  const a = epochBatches({ trainRows, rowWeights, batchSize: 10, seed: 1 }, 3);
  const b = epochBatches({ trainRows, rowWeights, batchSize: 10, seed: 1 }, 3);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, epochBatches({ trainRows, rowWeights, batchSize: 10, seed: 1 }, 4));
  const drawn = a.flat();
  const heavy = drawn.filter((r) => r < 50).length / drawn.length;
  assert.ok(heavy > 0.8, `rows weighted 9:1 were drawn ${heavy}`);
  // Pairs: every anchor brings its partner.
  const partner = Int32Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? i + 1 : i - 1));
  const paired = epochBatches({ trainRows, batchSize: 10, seed: 1, pairs: { partner, group: partner, positiveMargin: 0.8, negativeMargin: 0.3, weight: 1 } }, 0);
  for (const batch of paired) for (const r of batch.slice(0, 5)) assert.ok(batch.includes(partner[r]!));
});

test('a run resumed from its checkpoint ends with the same weights as an uninterrupted run', async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-ckpt-'));
  const rows = 40;
  const { maps, labels, positions } = syntheticMaps(rows, 4, 2);
  const pooled = new Float32Array(rows * 4);
  for (let r = 0; r < rows; r++) gemPoolNHWC(maps, r * positions * 4, positions, 4, 1, pooled, r * 4);
  const base = {
    features: pooled,
    dim: 4,
    trainRows: Int32Array.from({ length: rows }, (_, i) => i),
    tasks: [{ name: 'parity', labels: ['e', 'o'], targets: labels, weight: 1 }],
    multiTasks: [{ name: 'tags', labels: ['x', 'y'], targets: new Float32Array(rows * 2).map((_, i) => (i % 3 === 0 ? 1 : 0)), labelled: new Uint8Array(rows).fill(1), weight: 1, loss: 'multilabel-softmax' as const }],
    productIds: labels,
    productCount: 2,
    pairs: { partner: Int32Array.from({ length: rows }, (_, i) => (i + 2) % rows), group: labels, positiveMargin: 0.8, negativeMargin: 0.2, weight: 1 },
    sharedSizes: [8],
    embeddingDim: 4,
    batchSize: 8,
    learningRate: 0.01,
    weightDecay: 0.01,
    labelSmoothing: 0.1,
    arcface: { scale: 8, margin: 0.2, weight: 1 },
    seed: 9,
  };
  const straight = await fitHeads({ ...base, epochs: 3 });
  // Interrupted mid-epoch (step 7 of 15), then resumed with the same configuration.
  const firstPart = await fitHeads({ ...base, epochs: 3, stopAfterSteps: 7, checkpoint: { file: path.join(dir, 'ckpt'), everySteps: 3, resume: false } });
  assert.equal(firstPart.steps, 7);
  firstPart.dispose();
  const resumed = await fitHeads({ ...base, epochs: 3, checkpoint: { file: path.join(dir, 'ckpt'), everySteps: 0, resume: true } });
  assert.equal(resumed.steps, straight.steps);
  const a = straight.shared[0]!.kernel;
  const b = resumed.shared[0]!.kernel;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  assert.ok(diff < 1e-5, `weights differ by ${diff}`);
  straight.dispose();
  resumed.dispose();
});
