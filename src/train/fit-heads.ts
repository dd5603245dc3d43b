// Trains the shared layers, the classification heads and the embedding jointly on
// pooled backbone features with TensorFlow.js. Each sample supervises only the heads its
// dataset labels (missing labels are masked, not guessed); losses are summed with
// weights: softmax with label smoothing per single-label head, ArcFace over product ids
// for the embedding.
import { readyTf, tf } from './tf.ts';
import type { DenseWeights } from '../model/heads/heads-graph.ts';

export interface SingleTask {
  name: string;
  labels: string[];
  /** Class index per row, -1 where the row has no label for this task. */
  targets: Int32Array;
  weight: number;
}

export interface MultiTask {
  name: string;
  labels: string[];
  /** Row-major [rows, labels] 0/1 targets. */
  targets: Float32Array;
  /** 1 where the row is labelled for this task, 0 where unknown. */
  labelled: Uint8Array;
  weight: number;
}

export interface FitInput {
  /** Row-major [rows, dim] pooled features. */
  features: Float32Array;
  dim: number;
  trainRows: Int32Array;
  tasks: SingleTask[];
  multiTasks?: MultiTask[];
  /** Product index per row for ArcFace (-1 where unknown). */
  productIds: Int32Array;
  productCount: number;
  sharedSizes: number[];
  embeddingDim: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  labelSmoothing: number;
  arcface: { scale: number; margin: number; weight: number };
  seed: number;
  onEpoch?: (epoch: number, losses: Record<string, number>) => void;
}

export interface FitResult {
  featureMean: Float32Array;
  featureStd: Float32Array;
  shared: DenseWeights[];
  heads: Array<{ name: string; kind: 'single' | 'multi'; dense: DenseWeights }>;
  embedding: DenseWeights;
  /** Scores per task and the embedding for given rows, computed like the exported graph. */
  predict: (rows: Int32Array) => { probs: Record<string, Float32Array>; embedding: Float32Array };
  dispose: () => void;
}

/** A small deterministic PRNG (mulberry32) so a seed makes a run repeatable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function glorot(random: () => number, inDim: number, outDim: number): Float32Array {
  const limit = Math.sqrt(6 / (inDim + outDim));
  return Float32Array.from({ length: inDim * outDim }, () => (random() * 2 - 1) * limit);
}

export async function fitHeads(input: FitInput): Promise<FitResult> {
  await readyTf();
  const random = rng(input.seed);
  const { dim } = input;

  // Feature standardisation from the training rows.
  const featureMean = new Float32Array(dim);
  const featureStd = new Float32Array(dim);
  for (const r of input.trainRows) for (let j = 0; j < dim; j++) featureMean[j]! += input.features[r * dim + j]!;
  for (let j = 0; j < dim; j++) featureMean[j]! /= input.trainRows.length;
  for (const r of input.trainRows) for (let j = 0; j < dim; j++) featureStd[j]! += (input.features[r * dim + j]! - featureMean[j]!) ** 2;
  for (let j = 0; j < dim; j++) featureStd[j] = Math.sqrt(featureStd[j]! / input.trainRows.length) + 1e-6;

  // Unnamed variables: names are global in TF.js and would clash between runs.
  const variable = (_name: string, shape: number[], values: Float32Array): tf.Variable => tf.variable(tf.tensor(values, shape), true);
  const sharedVars: Array<{ w: tf.Variable; b: tf.Variable }> = [];
  let width = dim;
  input.sharedSizes.forEach((size, i) => {
    sharedVars.push({ w: variable(`shared_${i}_w`, [width, size], glorot(random, width, size)), b: variable(`shared_${i}_b`, [size], new Float32Array(size)) });
    width = size;
  });
  const headVars = input.tasks.map((task) => ({
    task,
    w: variable(`${task.name}_w`, [width, task.labels.length], glorot(random, width, task.labels.length)),
    b: variable(`${task.name}_b`, [task.labels.length], new Float32Array(task.labels.length)),
  }));
  const multiVars = (input.multiTasks ?? []).map((task) => ({
    task,
    w: variable(`${task.name}_w`, [width, task.labels.length], glorot(random, width, task.labels.length)),
    b: variable(`${task.name}_b`, [task.labels.length], new Float32Array(task.labels.length)),
  }));
  const embW = variable('emb_w', [width, input.embeddingDim], glorot(random, width, input.embeddingDim));
  const embB = variable('emb_b', [input.embeddingDim], new Float32Array(input.embeddingDim));
  const centres = variable('arc_centres', [input.embeddingDim, Math.max(1, input.productCount)], glorot(random, input.embeddingDim, Math.max(1, input.productCount)));

  const meanT = tf.tensor1d(featureMean);
  const stdT = tf.tensor1d(featureStd);
  const trunk = (x: tf.Tensor2D): tf.Tensor2D => {
    let h = tf.div(tf.sub(x, meanT), stdT) as tf.Tensor2D;
    for (const layer of sharedVars) h = tf.relu(tf.add(tf.matMul(h, layer.w), layer.b)) as tf.Tensor2D;
    return h;
  };
  const embed = (h: tf.Tensor2D): tf.Tensor2D => {
    const raw = tf.add(tf.matMul(h, embW), embB) as tf.Tensor2D;
    return tf.div(raw, tf.add(tf.norm(raw, 2, 1, true), 1e-12)) as tf.Tensor2D;
  };

  const optimizer = tf.train.adam(input.learningRate);
  const trainable = [...sharedVars.flatMap((l) => [l.w, l.b]), ...headVars.flatMap((h) => [h.w, h.b]), ...multiVars.flatMap((h) => [h.w, h.b]), embW, embB, centres];
  const decayed = [...sharedVars.map((l) => l.w), ...headVars.map((h) => h.w), ...multiVars.map((h) => h.w), embW];
  const order = Array.from(input.trainRows);
  const stepsPerEpoch = Math.ceil(order.length / input.batchSize);
  const totalSteps = stepsPerEpoch * input.epochs;
  let step = 0;

  for (let epoch = 0; epoch < input.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const sums: Record<string, number> = {};
    for (let s = 0; s < stepsPerEpoch; s++) {
      const rows = order.slice(s * input.batchSize, (s + 1) * input.batchSize);
      // Cosine decay after a short warm-up.
      const warm = Math.min(1, (step + 1) / Math.max(1, stepsPerEpoch));
      const lr = input.learningRate * warm * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      step++;

      const batch = gatherRows(input.features, dim, rows);
      const lossParts: Record<string, tf.Tensor> = {};
      const { value, grads } = tf.variableGrads(() => {
        const x = tf.tensor2d(batch, [rows.length, dim]);
        const h = trunk(x);
        let total = tf.scalar(0);
        for (const { task, w, b } of headVars) {
          const targets = rows.map((r) => task.targets[r]!);
          const mask = tf.tensor1d(targets.map((t) => (t >= 0 ? 1 : 0)), 'float32');
          const count = targets.filter((t) => t >= 0).length;
          if (count === 0) continue;
          const onehot = tf.oneHot(tf.tensor1d(targets.map((t) => Math.max(0, t)), 'int32'), task.labels.length);
          const logits = tf.add(tf.matMul(h, w), b);
          const loss = tf.losses.softmaxCrossEntropy(onehot, logits, mask, input.labelSmoothing, tf.Reduction.SUM);
          const mean = tf.div(loss, count);
          total = tf.add(total, tf.mul(mean, task.weight));
          lossParts[task.name] = tf.keep(mean);
        }
        for (const { task, w, b } of multiVars) {
          const labelled = rows.filter((r) => task.labelled[r] === 1);
          if (labelled.length === 0) continue;
          const L = task.labels.length;
          const targets = new Float32Array(rows.length * L);
          rows.forEach((r, i) => targets.set(task.targets.subarray(r * L, (r + 1) * L), i * L));
          const mask = tf.tensor2d(rows.map((r) => task.labelled[r]!), [rows.length, 1]);
          const logits = tf.add(tf.matMul(h, w), b);
          // Sigmoid cross-entropy summed over labels, averaged over the labelled rows.
          const loss = tf.losses.sigmoidCrossEntropy(tf.tensor2d(targets, [rows.length, L]), logits, tf.mul(mask, tf.onesLike(logits)), 0, tf.Reduction.SUM);
          const mean = tf.div(loss, labelled.length);
          total = tf.add(total, tf.mul(mean, task.weight));
          lossParts[task.name] = tf.keep(mean);
        }
        const productTargets = rows.map((r) => input.productIds[r]!);
        const withProduct = productTargets.filter((p) => p >= 0).length;
        if (withProduct > 0) {
          const e = embed(h);
          const c = tf.div(centres, tf.add(tf.norm(centres, 2, 0, true), 1e-12));
          const cos = tf.clipByValue(tf.matMul(e, c), -1 + 1e-6, 1 - 1e-6);
          const onehot = tf.oneHot(tf.tensor1d(productTargets.map((p) => Math.max(0, p)), 'int32'), Math.max(1, input.productCount));
          // ArcFace: the target logit is cos(theta + m) = cos cos m - sin sin m.
          const sin = tf.sqrt(tf.sub(1, tf.square(cos)));
          const withMargin = tf.sub(tf.mul(cos, Math.cos(input.arcface.margin)), tf.mul(sin, Math.sin(input.arcface.margin)));
          const logits = tf.mul(tf.add(tf.mul(onehot, withMargin), tf.mul(tf.sub(1, onehot), cos)), input.arcface.scale);
          const mask = tf.tensor1d(productTargets.map((p) => (p >= 0 ? 1 : 0)), 'float32');
          const loss = tf.div(tf.losses.softmaxCrossEntropy(onehot, logits, mask, 0, tf.Reduction.SUM), withProduct);
          total = tf.add(total, tf.mul(loss, input.arcface.weight));
          lossParts.arcface = tf.keep(loss);
        }
        return total as tf.Scalar;
      }, trainable);
      const totalValue = (await value.data())[0]!;
      if (!Number.isFinite(totalValue)) {
        throw new Error(`training diverged: loss is ${totalValue} at epoch ${epoch + 1}, step ${s + 1}`);
      }
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      // Decoupled weight decay (AdamW) on kernels only.
      tf.tidy(() => {
        for (const v of decayed) v.assign(tf.mul(v, 1 - lr * input.weightDecay));
      });
      for (const [name, t] of Object.entries(lossParts)) sums[name] = (sums[name] ?? 0) + (await t.data())[0]!;
      tf.dispose([value, ...Object.values(grads), ...Object.values(lossParts)]);
    }
    const means: Record<string, number> = {};
    for (const [name, total] of Object.entries(sums)) means[name] = total / stepsPerEpoch;
    input.onEpoch?.(epoch + 1, means);
  }

  const toDense = (w: tf.Variable, b: tf.Variable): DenseWeights => ({
    kernel: w.dataSync() as Float32Array,
    bias: b.dataSync() as Float32Array,
    inDim: w.shape[0]!,
    outDim: w.shape[1]!,
  });

  const predict = (rows: Int32Array): { probs: Record<string, Float32Array>; embedding: Float32Array } =>
    tf.tidy(() => {
      const x = tf.tensor2d(gatherRows(input.features, dim, Array.from(rows)), [rows.length, dim]);
      const h = trunk(x);
      const probs: Record<string, Float32Array> = {};
      for (const { task, w, b } of headVars) probs[task.name] = tf.softmax(tf.add(tf.matMul(h, w), b)).dataSync() as Float32Array;
      for (const { task, w, b } of multiVars) probs[task.name] = tf.sigmoid(tf.add(tf.matMul(h, w), b)).dataSync() as Float32Array;
      return { probs, embedding: embed(h).dataSync() as Float32Array };
    });

  return {
    featureMean,
    featureStd,
    shared: sharedVars.map((l) => toDense(l.w, l.b)),
    heads: [
      ...headVars.map(({ task, w, b }) => ({ name: task.name, kind: 'single' as const, dense: toDense(w, b) })),
      ...multiVars.map(({ task, w, b }) => ({ name: task.name, kind: 'multi' as const, dense: toDense(w, b) })),
    ],
    embedding: toDense(embW, embB),
    predict,
    dispose: () => {
      tf.dispose([...trainable, meanT, stdT]);
      optimizer.dispose();
    },
  };
}

export function gatherRows(features: Float32Array, dim: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(features.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
  return out;
}
