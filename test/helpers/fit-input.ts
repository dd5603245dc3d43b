// A small fitHeads input (48 rows, 3 classes, pairs) for tests that stop and resume a fit
// and compare its weights bit for bit with an uninterrupted one.
import { rng, type FitInput, type FitResult } from '../../src/train/fit-heads.ts';

export function smallFitInput(): Omit<FitInput, 'epochs'> {
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

/** Every trained weight of a fit, in a fixed order. */
export function fitWeights(fit: FitResult): Float32Array[] {
  return [...fit.shared.flatMap((d) => [d.kernel, d.bias]), ...fit.heads.flatMap((h) => [h.dense.kernel, h.dense.bias]), fit.embedding.kernel, fit.embedding.bias];
}
