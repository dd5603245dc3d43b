// Shared by the frozen-feature benches (input-size, fusion-probe): the clothing and grocery
// rows they score on, mean-pooled features of every photo through one backbone graph, and
// the shipped config's head trained on a feature set and scored on the held-out rows.
import path from 'node:path';
import type { OnnxSession } from '../src/model/backend/onnxruntime.ts';
import { loadClothing } from '../src/train/datasets/clothing.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import type { LabelledDataset } from '../src/train/datasets/types.ts';
import { topKAccuracy } from '../src/train/evaluate.ts';
import { fitHeads } from '../src/train/fit-heads.ts';

export interface ProductSets {
  sets: Array<{ dataset: LabelledDataset; task: string }>;
  /** Every training and held-out photo of those sets, once. */
  images: string[];
}

export async function loadProductSets(datasetsDir: string): Promise<ProductSets> {
  const clothing = await loadClothing(path.join(datasetsDir, 'clothing'));
  const grocery = await loadGrocery(path.join(datasetsDir, 'grocery'));
  const sets = [
    { dataset: clothing, task: 'clothing' },
    { dataset: grocery, task: 'grocery_fine' },
    { dataset: grocery, task: 'grocery_coarse' },
  ];
  const images = [...new Set([...clothing.samples, ...grocery.samples].filter((s) => s.split === 'train' || s.split === 'val').map((s) => s.path))];
  return { sets, images };
}

/** Mean-pooled NHWC map of every image (batches of 16), and the model's time per image. Images that fail to load are left out. */
export async function poolImages(
  images: readonly string[],
  session: OnnxSession,
  tensor: string,
  size: number,
  load: (ref: string) => Promise<Float32Array>,
  label: string,
): Promise<{ features: Map<string, Float32Array>; msPerImage: number; dim: number }> {
  const features = new Map<string, Float32Array>();
  let modelMs = 0;
  let dim = 0;
  const batch = 16;
  const started = performance.now();
  for (let start = 0; start < images.length; start += batch) {
    const refs = images.slice(start, start + batch);
    const tensors = await Promise.all(refs.map((r) => load(r).catch(() => undefined)));
    const ok = refs.map((ref, i) => ({ ref, tensor: tensors[i] })).filter((x): x is { ref: string; tensor: Float32Array } => x.tensor !== undefined);
    const data = new Float32Array(ok.length * size * size * 3);
    ok.forEach((x, i) => data.set(x.tensor, i * x.tensor.length));
    const t = performance.now();
    const out = (await session.run(session.inputNames[0]!, data, [ok.length, size, size, 3], [tensor]))[tensor]!;
    modelMs += performance.now() - t;
    dim = out.dims[out.dims.length - 1]!; // NHWC maps: channels last
    const positions = out.data.length / ok.length / dim;
    ok.forEach((x, i) => {
      const f = new Float32Array(dim);
      for (let p = 0; p < positions; p++) for (let c = 0; c < dim; c++) f[c]! += out.data[(i * positions + p) * dim + c]! / positions;
      features.set(x.ref, f);
    });
    if (process.stderr.isTTY) {
      const done = start + refs.length;
      const rate = done / ((performance.now() - started) / 1000);
      process.stderr.write(`\r${label}: ${done}/${images.length}, ${rate.toFixed(0)}/s, ETA ${((images.length - done) / rate).toFixed(0)} s   `);
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return { features, msPerImage: modelMs / features.size, dim };
}

/**
 * Held-out accuracy of the shipped config's head (-> 512 -> classes, dropout 0.5, AdamW 2e-3,
 * decay 0.05, label smoothing 0.1, 10 epochs, seed 7) trained on one feature set, per task
 * (`task:n` the held-out count); clothing also on its 10 most common labels, as the trainer's
 * evaluation counts them.
 */
export async function scoreFrozen(sets: ProductSets['sets'], features: Map<string, Float32Array>, dim: number): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const { dataset, task } of sets) {
    const subset = dataset.samples.filter((s) => (s.split === 'train' || s.split === 'val') && features.has(s.path) && s.single[task] !== undefined);
    const f = new Float32Array(subset.length * dim);
    subset.forEach((s, i) => f.set(features.get(s.path)!, i * dim));
    const labels = dataset.tasks[task]!;
    const targets = Int32Array.from(subset.map((s) => s.single[task]!));
    const pick = (split: string) => Int32Array.from(subset.flatMap((s, i) => (s.split === split ? [i] : [])));
    const [train, val] = [pick('train'), pick('val')];
    const fit = await fitHeads({ features: f, dim, trainRows: train, tasks: [{ name: task, labels, targets, weight: 1 }], productIds: new Int32Array(subset.length).fill(-1), productCount: 0, sharedSizes: [512], dropout: 0.5, embeddingDim: 8, epochs: 10, batchSize: 128, learningRate: 2e-3, weightDecay: 0.05, labelSmoothing: 0.1, arcface: { scale: 1, margin: 0, weight: 0 }, seed: 7 });
    const probs = fit.predict(val).probs[task]!;
    const valTargets = Array.from(val, (i) => targets[i]!);
    result[task] = topKAccuracy(probs, labels.length, valTargets, 1);
    if (task === 'clothing') {
      const counts = new Array<number>(labels.length).fill(0);
      for (const r of train) counts[targets[r]!]!++;
      const top10 = counts.map((c, i) => ({ c, i })).sort((a, b) => b.c - a.c).slice(0, 10).map((x) => x.i);
      result.clothing_top10 = topKAccuracy(probs, labels.length, valTargets, 1, top10);
    }
    result[`${task}:n`] = val.length;
    fit.dispose();
  }
  return result;
}
