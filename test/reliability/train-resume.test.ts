// Regression test for a defect the crash harness found: `groknet train --resume` after a
// SIGKILL ended with a different model than an uninterrupted run (weights off by up to 0.5,
// other evaluation figures) although the step count matched. TF.js's Adam restores its
// bias corrections beta^t with pow() while training keeps them as a running float32
// product; the last-bit difference at some steps was amplified by the hinge-like losses.
// A run stopped at any step and resumed must now end bit-for-bit like an uninterrupted one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fitHeads, rng, type FitInput, type FitResult } from '../../src/train/fit-heads.ts';

function base(): Omit<FitInput, 'epochs'> {
  const rows = 48;
  const dim = 6;
  const random = rng(4);
  const labels = Int32Array.from({ length: rows }, (_, r) => r % 3);
  const features = Float32Array.from({ length: rows * dim }, (_, i) => (Math.floor(i / dim) % 3 === i % dim % 3 ? 1.2 : 0.1) + random() - 0.5);
  return {
    features,
    dim,
    trainRows: Int32Array.from({ length: rows }, (_, i) => i),
    tasks: [{ name: 'shape', labels: ['a', 'b', 'c'], targets: labels, weight: 1 }],
    productIds: new Int32Array(rows).fill(-1),
    productCount: 1,
    pairs: { partner: Int32Array.from({ length: rows }, (_, i) => (i + 3) % rows), group: labels, positiveMargin: 0.8, negativeMargin: 0.3, weight: 0.5 },
    sharedSizes: [16],
    dropout: 0.2,
    embeddingDim: 8,
    batchSize: 8,
    learningRate: 0.005,
    weightDecay: 0.01,
    warmupEpochs: 1,
    labelSmoothing: 0.1,
    arcface: { scale: 1, margin: 0, weight: 0 },
    seed: 3,
  };
}

function weights(fit: FitResult): Float32Array[] {
  return [...fit.shared.flatMap((d) => [d.kernel, d.bias]), ...fit.heads.flatMap((h) => [h.dense.kernel, h.dense.bias]), fit.embedding.kernel, fit.embedding.bias];
}

test('a run stopped at any step and resumed from its checkpoint ends bit-for-bit like an uninterrupted run', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-resume-'));
  try {
    const epochs = 12;
    const straight = await fitHeads({ ...base(), epochs });
    const expected = weights(straight);
    const steps = straight.steps;
    straight.dispose();
    const mismatches: string[] = [];
    for (const stop of [5, 13, 21, 30, 37, 46, 59, 70]) {
      const file = path.join(dir, `ckpt-${stop}`);
      const first = await fitHeads({ ...base(), epochs, stopAfterSteps: stop, checkpoint: { file, everySteps: 0, resume: false } });
      first.dispose();
      const resumed = await fitHeads({ ...base(), epochs, checkpoint: { file, everySteps: 0, resume: true } });
      assert.equal(resumed.steps, steps);
      const got = weights(resumed);
      resumed.dispose();
      let diff = 0;
      got.forEach((w, k) => w.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - expected[k]![i]!)))));
      if (diff !== 0) mismatches.push(`stopped at step ${stop}: weights differ by ${diff}`);
    }
    assert.deepEqual(mismatches, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
