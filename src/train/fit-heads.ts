// Trains the shared layers, the classification heads and the embedding jointly on
// pooled backbone features with TensorFlow.js. Each sample supervises only the heads its
// dataset labels (missing labels are masked, not guessed); the losses are summed with
// weights: softmax with label smoothing per single-label head, sigmoid BCE or multi-label
// softmax per multi-label head, ArcFace over product ids and a double-margin contrastive
// loss over same-product pairs for the embedding. AdamW, warm-up then cosine decay,
// checkpoints that a run can resume from, and a stop on a non-finite loss.
import { readFile } from 'node:fs/promises';
import { GroknetError } from '../errors.ts';
import type { DenseWeights } from '../model/heads/heads-graph.ts';
import { writeAtomic } from '../model/cache.ts';
import { rng } from '../util/random.ts';
import { matMul } from './mat-mul.ts';
import { readyTf, tf } from './tf.ts';

export interface SingleTask {
  name: string;
  labels: string[];
  /** Class index per row, -1 where the row has no label for this task. */
  targets: Int32Array;
  weight: number;
  labelSmoothing?: number;
}

export interface MultiTask {
  name: string;
  labels: string[];
  /** Row-major [rows, labels] 0/1 targets. */
  targets: Float32Array;
  /** 1 where the row is labelled for this task, 0 where unknown. */
  labelled: Uint8Array;
  weight: number;
  loss?: 'bce' | 'multilabel-softmax';
}

export interface PairLoss {
  /** Row of the same product or instance to pair with each row (-1: none). */
  partner: Int32Array;
  /** Rows of one group show the same product; pairs across groups are negatives. */
  group: Int32Array;
  positiveMargin: number;
  negativeMargin: number;
  weight: number;
}

/**
 * Trainable layers below the pooled features (the upper trunk), trained from `fromEpoch` on
 * with the heads: forward gives a batch's pooled features, backward takes the loss's
 * gradient with respect to them and updates the layers' own weights.
 */
export interface TrunkTraining {
  fromEpoch: number;
  learningRate: number;
  forward(rows: readonly number[]): Promise<Float32Array>;
  backward(gradient: Float32Array, learningRate: number): Promise<void>;
  /** Pooled features of every row with the current weights. */
  poolAll(): Promise<Float32Array>;
  /** Weights and optimiser state, for checkpoints. */
  state(): Float32Array[];
  restore(state: Float32Array[]): void;
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
  pairs?: PairLoss;
  /** Sampling weight of each training row (e.g. its dataset's weight / its dataset's size). */
  rowWeights?: Float32Array;
  sharedSizes: number[];
  /** Dropout rate on the standardised features and after each shared layer (training only). */
  dropout?: number;
  embeddingDim: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  warmupEpochs?: number;
  labelSmoothing: number;
  arcface: { scale: number; margin: number; weight: number };
  seed: number;
  checkpoint?: { file: string; everySteps: number; resume: boolean };
  /** Layers below the features to fine-tune; `features` must be their output before training. */
  trunk?: TrunkTraining;
  /** Stop (with a checkpoint) after this many steps in total, e.g. to split a run across sessions. */
  stopAfterSteps?: number;
  /**
   * Stops between steps once aborted (Ctrl-C): writes a checkpoint, then throws an `interrupted`
   * error. Resuming from that checkpoint ends bit for bit like an uninterrupted run, as after stopAfterSteps.
   */
  signal?: AbortSignal;
  onEpoch?: (epoch: number, losses: Record<string, number>, seconds: number) => void;
}

export interface FitResult {
  featureMean: Float32Array;
  featureStd: Float32Array;
  /** Pooled features of every row as the fitted model sees them (recomputed when a trunk was trained). */
  features: Float32Array;
  shared: DenseWeights[];
  heads: Array<{ name: string; kind: 'single' | 'multi'; dense: DenseWeights }>;
  embedding: DenseWeights;
  /** Scores per task and the embedding for given rows, computed like the exported graph. */
  predict: (rows: Int32Array) => { probs: Record<string, Float32Array>; embedding: Float32Array };
  steps: number;
  dispose: () => void;
}

/** The project's seeded PRNG, re-exported here where training code has always found it. */
export { rng };

function glorot(random: () => number, inDim: number, outDim: number): Float32Array {
  const limit = Math.sqrt(6 / (inDim + outDim));
  return Float32Array.from({ length: inDim * outDim }, () => (random() * 2 - 1) * limit);
}

/**
 * The batches of one epoch, a pure function of (seed, epoch) so a resumed run replays the
 * same batches. With row weights, rows are drawn with replacement in proportion to them
 * (datasets mixed by sampling weight); otherwise each row is seen once. With pairs, each
 * anchor brings its partner into the batch.
 */
export function epochBatches(input: Pick<FitInput, 'trainRows' | 'rowWeights' | 'batchSize' | 'seed' | 'pairs'>, epoch: number): number[][] {
  const random = rng(input.seed * 7919 + epoch + 1);
  const rows = Array.from(input.trainRows);
  const anchorsPerBatch = input.pairs ? Math.max(1, Math.floor(input.batchSize / 2)) : input.batchSize;
  let order: number[];
  if (input.rowWeights) {
    const cumulative = new Float64Array(rows.length);
    let total = 0;
    rows.forEach((r, i) => {
      total += input.rowWeights![r]!;
      cumulative[i] = total;
    });
    order = Array.from({ length: rows.length }, () => {
      const x = random() * total;
      let lo = 0;
      let hi = rows.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      return rows[lo]!;
    });
  } else {
    order = rows;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  const stepsPerEpoch = Math.ceil(rows.length / input.batchSize);
  const batches: number[][] = [];
  for (let s = 0; s < stepsPerEpoch; s++) {
    const anchors = order.slice(s * anchorsPerBatch, (s + 1) * anchorsPerBatch);
    if (anchors.length === 0) break;
    if (!input.pairs) {
      batches.push(anchors);
      continue;
    }
    const batch = [...anchors];
    for (const a of anchors) {
      const p = input.pairs.partner[a]!;
      if (p >= 0 && batch.length < input.batchSize) batch.push(p);
    }
    batches.push(batch);
  }
  return batches;
}

interface Checkpoint {
  epoch: number;
  step: number;
  variables: Float32Array[];
  /** The trunk's weights and optimiser state (empty without a trunk). */
  trunk: Float32Array[];
  optimizer: Array<{ name: string; shape: number[]; data: Float32Array }>;
}

async function saveCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  const arrays = [...checkpoint.variables, ...checkpoint.optimizer.map((o) => o.data), ...checkpoint.trunk];
  const header = JSON.stringify({
    format: 'groknet-checkpoint-1',
    epoch: checkpoint.epoch,
    step: checkpoint.step,
    variables: checkpoint.variables.map((v) => v.length),
    optimizer: checkpoint.optimizer.map((o) => ({ name: o.name, shape: o.shape, length: o.data.length })),
    trunk: checkpoint.trunk.map((a) => a.length),
  });
  const headerBytes = Buffer.from(header);
  const lengthBytes = Buffer.alloc(4);
  lengthBytes.writeUInt32LE(headerBytes.length);
  const body = Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  await writeAtomic(file, Buffer.concat([lengthBytes, headerBytes, body]));
}

async function loadCheckpoint(file: string): Promise<Checkpoint | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  const headerLength = bytes.readUInt32LE(0);
  const header = JSON.parse(bytes.subarray(4, 4 + headerLength).toString()) as {
    format: string;
    epoch: number;
    step: number;
    variables: number[];
    optimizer: Array<{ name: string; shape: number[]; length: number }>;
    trunk?: number[];
  };
  if (header.format !== 'groknet-checkpoint-1') throw new Error(`checkpoint ${file} has an unknown format`);
  let offset = 4 + headerLength;
  const take = (n: number): Float32Array => {
    const out = new Float32Array(n);
    Buffer.from(out.buffer).set(bytes.subarray(offset, offset + n * 4));
    offset += n * 4;
    return out;
  };
  const variables = header.variables.map(take);
  const optimizer = header.optimizer.map((o) => ({ name: o.name, shape: o.shape, data: take(o.length) }));
  const trunk = (header.trunk ?? []).map(take);
  return { epoch: header.epoch, step: header.step, variables, optimizer, trunk };
}

/**
 * TF.js's Adam keeps its bias corrections beta^t as a running float32 product while it
 * trains, but setWeights() recomputes them with pow(): the two differ in the last bits at
 * some steps, and the hinge-like losses turn that into a different model. Rebuild the
 * running product exactly, so a resumed run continues bit for bit.
 */
function restoreAdamBiasCorrections(optimizer: tf.Optimizer, iterations: number): void {
  const adam = optimizer as unknown as { beta1: number; beta2: number; accBeta1: tf.Variable; accBeta2: tf.Variable };
  const runningProduct = (beta: number): number => {
    const b = Math.fround(beta);
    let acc = b;
    // float32 products are exact in a double, so fround rounds them as the kernel does.
    for (let i = 0; i < iterations; i++) acc = Math.fround(acc * b);
    return acc;
  };
  adam.accBeta1.assign(tf.scalar(runningProduct(adam.beta1)));
  adam.accBeta2.assign(tf.scalar(runningProduct(adam.beta2)));
}

export async function fitHeads(input: FitInput): Promise<FitResult> {
  await readyTf();
  const random = rng(input.seed);
  const { dim } = input;
  if (input.trainRows.length === 0) throw new Error('no training rows');

  // Feature standardisation from the training rows.
  const featureMean = new Float32Array(dim);
  const featureStd = new Float32Array(dim);
  for (const r of input.trainRows) for (let j = 0; j < dim; j++) featureMean[j]! += input.features[r * dim + j]!;
  for (let j = 0; j < dim; j++) featureMean[j]! /= input.trainRows.length;
  for (const r of input.trainRows) for (let j = 0; j < dim; j++) featureStd[j]! += (input.features[r * dim + j]! - featureMean[j]!) ** 2;
  for (let j = 0; j < dim; j++) featureStd[j] = Math.sqrt(featureStd[j]! / input.trainRows.length) + 1e-6;

  // Unnamed variables: names are global in TF.js and would clash between runs.
  const variable = (shape: number[], values: Float32Array): tf.Variable => tf.variable(tf.tensor(values, shape), true);
  const dense = (inDim: number, outDim: number) => ({ w: variable([inDim, outDim], glorot(random, inDim, outDim)) as tf.Variable<tf.Rank.R2>, b: variable([outDim], new Float32Array(outDim)) });
  const sharedVars: Array<{ w: tf.Variable<tf.Rank.R2>; b: tf.Variable }> = [];
  let width = dim;
  for (const size of input.sharedSizes) {
    sharedVars.push(dense(width, size));
    width = size;
  }
  const headVars = input.tasks.map((task) => ({ task, ...dense(width, task.labels.length) }));
  const multiVars = (input.multiTasks ?? []).map((task) => ({ task, ...dense(width, task.labels.length) }));
  const emb = dense(width, input.embeddingDim);
  const products = Math.max(1, input.productCount);
  const centres = variable([input.embeddingDim, products], glorot(random, input.embeddingDim, products));

  const meanT = tf.tensor1d(featureMean);
  const stdT = tf.tensor1d(featureStd);
  const dropout = input.dropout ?? 0;
  let dropoutSeed = 0;
  // Seeded per step and layer, so a resumed run drops the same units as an uninterrupted one.
  const drop = (h: tf.Tensor2D): tf.Tensor2D => tf.dropout(h, dropout, undefined, input.seed * 100003 + dropoutSeed++) as tf.Tensor2D;
  // `featureGradient`: the features are a variable (a trainable trunk below wants their gradient).
  const trunk = (x: tf.Tensor2D, training = false, featureGradient = false): tf.Tensor2D => {
    let h = tf.div(tf.sub(x, meanT), stdT) as tf.Tensor2D;
    if (training && dropout > 0) h = drop(h);
    for (const [i, layer] of sharedVars.entries()) {
      h = tf.relu(tf.add(matMul(h, layer.w, i === 0 && !featureGradient), layer.b)) as tf.Tensor2D;
      if (training && dropout > 0) h = drop(h);
    }
    return h;
  };
  const embed = (h: tf.Tensor2D): tf.Tensor2D => {
    const raw = tf.add(matMul(h, emb.w), emb.b) as tf.Tensor2D;
    return tf.div(raw, tf.add(tf.norm(raw, 2, 1, true), 1e-12)) as tf.Tensor2D;
  };

  const optimizer = tf.train.adam(input.learningRate);
  const trainable = [...sharedVars.flatMap((l) => [l.w, l.b]), ...headVars.flatMap((h) => [h.w, h.b]), ...multiVars.flatMap((h) => [h.w, h.b]), emb.w, emb.b, centres];
  const decayed = [...sharedVars.map((l) => l.w), ...headVars.map((h) => h.w), ...multiVars.map((h) => h.w), emb.w];
  const stepsPerEpoch = epochBatches(input, 0).length;
  const totalSteps = stepsPerEpoch * input.epochs;
  const warmupSteps = Math.max(1, Math.round((input.warmupEpochs ?? 1) * stepsPerEpoch));
  // The trunk gets its own warm-up (a quarter epoch) and cosine decay over the epochs it trains.
  const trunkFirstStep = input.trunk ? Math.min(totalSteps, input.trunk.fromEpoch * stepsPerEpoch) : totalSteps;
  const trunkRate = (at: number): number => {
    const since = at - trunkFirstStep;
    const warm = Math.min(1, (since + 1) / Math.max(1, Math.round(stepsPerEpoch / 4)));
    return input.trunk!.learningRate * warm * 0.5 * (1 + Math.cos((Math.PI * since) / Math.max(1, totalSteps - trunkFirstStep)));
  };

  let startEpoch = 0;
  let skipSteps = 0;
  let step = 0;
  if (input.checkpoint?.resume) {
    const saved = await loadCheckpoint(input.checkpoint.file);
    if (saved) {
      if (saved.variables.length !== trainable.length || (saved.trunk.length > 0) !== Boolean(input.trunk)) throw new Error('the checkpoint does not match this configuration');
      if (input.trunk) input.trunk.restore(saved.trunk);
      saved.variables.forEach((values, i) => trainable[i]!.assign(tf.tensor(values, trainable[i]!.shape)));
      // Adam's slots are created on the first update; make them exist before restoring them.
      if (saved.optimizer.length > 0) {
        await optimizer.setWeights(saved.optimizer.map((o) => ({ name: o.name, tensor: tf.tensor(o.data, o.shape) })));
        restoreAdamBiasCorrections(optimizer, saved.optimizer.find((o) => o.name === 'iter')?.data[0] ?? 0);
      }
      step = saved.step;
      startEpoch = Math.floor(step / stepsPerEpoch);
      skipSteps = step % stepsPerEpoch;
    }
  }
  const checkpointNow = async (epoch: number): Promise<void> => {
    if (!input.checkpoint) return;
    const weights = await optimizer.getWeights();
    await saveCheckpoint(input.checkpoint.file, {
      epoch,
      step,
      variables: trainable.map((v) => v.dataSync() as Float32Array),
      trunk: input.trunk?.state() ?? [],
      // Float32Array.from: the iteration count is an int32 tensor, whose raw bits are not a float.
      optimizer: await Promise.all(weights.map(async (w) => ({ name: w.name, shape: w.tensor.shape, data: Float32Array.from(await w.tensor.data()) }))),
    });
  };

  for (let epoch = startEpoch; epoch < input.epochs; epoch++) {
    const started = Date.now();
    const batches = epochBatches(input, epoch);
    const sums: Record<string, number> = {};
    let counted = 0;
    for (let s = epoch === startEpoch ? skipSteps : 0; s < batches.length; s++) {
      if (input.stopAfterSteps !== undefined && step >= input.stopAfterSteps) break;
      if (input.signal?.aborted) {
        if (input.checkpoint) await checkpointNow(epoch);
        tf.dispose([...trainable, meanT, stdT]);
        optimizer.dispose();
        throw new GroknetError('interrupted', `at training step ${step} of ${totalSteps}${input.checkpoint ? ', checkpoint written' : ''}`);
      }
      const rows = batches[s]!;
      const warm = Math.min(1, (step + 1) / warmupSteps);
      const lr = input.learningRate * warm * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;

      dropoutSeed = step * 16;
      const trunkStep = input.trunk !== undefined && step >= trunkFirstStep;
      const batch = trunkStep ? await input.trunk!.forward(rows) : gatherRows(input.features, dim, rows);
      // With a trainable trunk the pooled features are a variable too: their gradient goes back to it.
      const x = trunkStep ? tf.variable(tf.tensor2d(batch, [rows.length, dim]), true) : tf.tensor2d(batch, [rows.length, dim]);
      const lossParts: Record<string, tf.Tensor> = {};
      const { value, grads } = tf.variableGrads(() => {
        const h = trunk(x as tf.Tensor2D, true, trunkStep);
        let total: tf.Tensor = tf.scalar(0);
        const add = (name: string, loss: tf.Tensor, weight: number): void => {
          total = tf.add(total, tf.mul(loss, weight));
          lossParts[name] = tf.keep(loss);
        };
        for (const { task, w, b } of headVars) {
          const targets = rows.map((r) => task.targets[r]!);
          const count = targets.filter((t) => t >= 0).length;
          if (count === 0) continue;
          const mask = tf.tensor1d(targets.map((t) => (t >= 0 ? 1 : 0)), 'float32');
          const onehot = tf.oneHot(tf.tensor1d(targets.map((t) => Math.max(0, t)), 'int32'), task.labels.length);
          const logits = tf.add(matMul(h, w), b);
          const loss = tf.losses.softmaxCrossEntropy(onehot, logits, mask, task.labelSmoothing ?? input.labelSmoothing, tf.Reduction.SUM);
          add(task.name, tf.div(loss, count), task.weight);
        }
        for (const { task, w, b } of multiVars) {
          const labelled = rows.filter((r) => task.labelled[r] === 1).length;
          if (labelled === 0) continue;
          const L = task.labels.length;
          const targets = new Float32Array(rows.length * L);
          rows.forEach((r, i) => targets.set(task.targets.subarray(r * L, (r + 1) * L), i * L));
          const targetT = tf.tensor2d(targets, [rows.length, L]);
          const mask = tf.tensor1d(rows.map((r) => task.labelled[r]!), 'float32');
          const logits = tf.add(matMul(h, w), b);
          let loss: tf.Tensor;
          if ((task.loss ?? 'bce') === 'bce') {
            // Sigmoid cross-entropy summed over labels, averaged over the labelled rows.
            loss = tf.losses.sigmoidCrossEntropy(targetT, logits, tf.mul(tf.expandDims(mask, 1), tf.onesLike(logits)), 0, tf.Reduction.SUM);
          } else {
            // Multi-label softmax: cross-entropy against the present labels, spread evenly.
            const norm = tf.maximum(tf.sum(targetT, 1, true), 1);
            loss = tf.sum(tf.mul(mask, tf.neg(tf.sum(tf.mul(tf.div(targetT, norm), tf.logSoftmax(logits)), 1))));
          }
          add(task.name, tf.div(loss, labelled), task.weight);
        }
        const productTargets = rows.map((r) => input.productIds[r]!);
        const withProduct = productTargets.filter((p) => p >= 0).length;
        const needsEmbedding = (withProduct > 0 && input.arcface.weight > 0) || input.pairs;
        const e = needsEmbedding ? embed(h) : undefined;
        if (e && withProduct > 0 && input.arcface.weight > 0) {
          const c = tf.div(centres, tf.add(tf.norm(centres, 2, 0, true), 1e-12));
          const cos = tf.clipByValue(matMul(e, c as tf.Tensor2D), -1 + 1e-6, 1 - 1e-6);
          const onehot = tf.oneHot(tf.tensor1d(productTargets.map((p) => Math.max(0, p)), 'int32'), products);
          // ArcFace: the target logit is cos(theta + m) = cos cos m - sin sin m.
          const sin = tf.sqrt(tf.sub(1, tf.square(cos)));
          const withMargin = tf.sub(tf.mul(cos, Math.cos(input.arcface.margin)), tf.mul(sin, Math.sin(input.arcface.margin)));
          const logits = tf.mul(tf.add(tf.mul(onehot, withMargin), tf.mul(tf.sub(1, onehot), cos)), input.arcface.scale);
          const mask = tf.tensor1d(productTargets.map((p) => (p >= 0 ? 1 : 0)), 'float32');
          add('arcface', tf.div(tf.losses.softmaxCrossEntropy(onehot, logits, mask, 0, tf.Reduction.SUM), withProduct), input.arcface.weight);
        }
        if (e && input.pairs) {
          // Double-margin contrastive loss over all pairs in the batch: same group -> similarity
          // above the positive margin, different group -> below the negative margin.
          const n = rows.length;
          const pos = new Float32Array(n * n);
          const neg = new Float32Array(n * n);
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              if (i === j) continue;
              const same = input.pairs.group[rows[i]!] === input.pairs.group[rows[j]!] && input.pairs.group[rows[i]!]! >= 0;
              if (same) pos[i * n + j] = 1;
              else neg[i * n + j] = 1;
            }
          }
          const posCount = pos.reduce((a, b) => a + b, 0);
          const negCount = neg.reduce((a, b) => a + b, 0);
          if (posCount > 0 && negCount > 0) {
            const sims = matMul(e, tf.transpose(e));
            const posLoss = tf.div(tf.sum(tf.mul(tf.tensor2d(pos, [n, n]), tf.square(tf.relu(tf.sub(input.pairs.positiveMargin, sims))))), posCount);
            const negLoss = tf.div(tf.sum(tf.mul(tf.tensor2d(neg, [n, n]), tf.square(tf.relu(tf.sub(sims, input.pairs.negativeMargin))))), negCount);
            add('contrastive', tf.add(posLoss, negLoss), input.pairs.weight);
          }
        }
        return total as tf.Scalar;
      }, trunkStep ? [...trainable, x as tf.Variable] : trainable);
      const totalValue = (await value.data())[0]!;
      if (!Number.isFinite(totalValue)) {
        tf.dispose([x, value, ...Object.values(grads), ...Object.values(lossParts)]);
        throw new Error(
          `training diverged: loss is ${totalValue} at epoch ${epoch + 1}, step ${s + 1}${input.checkpoint ? '; the last good checkpoint is kept' : ''}`,
        );
      }
      // Every variable, in a fixed order: Adam keys its moments by position, so a variable a
      // batch does not reach (no rows for its head) gets a zero gradient rather than a shift.
      const zeros: tf.Tensor[] = [];
      if (trunkStep) {
        const featureGradient = grads[(x as tf.Variable).name];
        // A batch whose loss does not reach the features (all its heads masked) leaves the trunk as it is.
        if (featureGradient) await input.trunk!.backward((await featureGradient.data()) as Float32Array, trunkRate(step));
      }
      optimizer.applyGradients(
        trainable.map((v) => {
          const g = grads[v.name] ?? zeros[zeros.push(tf.zerosLike(v)) - 1]!;
          return { name: v.name, tensor: g };
        }),
      );
      tf.dispose(zeros);
      // Decoupled weight decay (AdamW) on kernels only.
      tf.tidy(() => {
        for (const v of decayed) v.assign(tf.mul(v, 1 - lr * input.weightDecay));
      });
      for (const [name, t] of Object.entries(lossParts)) sums[name] = (sums[name] ?? 0) + (await t.data())[0]!;
      counted++;
      tf.dispose([x, value, ...Object.values(grads), ...Object.values(lossParts)]);
      step++;
      if (input.checkpoint && input.checkpoint.everySteps > 0 && step % input.checkpoint.everySteps === 0) await checkpointNow(epoch);
    }
    if (input.stopAfterSteps !== undefined && step >= input.stopAfterSteps) {
      if (input.checkpoint) await checkpointNow(epoch);
      break;
    }
    if (input.checkpoint) await checkpointNow(epoch + 1);
    const means: Record<string, number> = {};
    for (const [name, total] of Object.entries(sums)) means[name] = total / Math.max(1, counted);
    input.onEpoch?.(epoch + 1, means, (Date.now() - started) / 1000);
  }

  const toDense = (w: tf.Variable, b: tf.Variable): DenseWeights => ({
    kernel: w.dataSync() as Float32Array,
    bias: b.dataSync() as Float32Array,
    inDim: w.shape[0]!,
    outDim: w.shape[1]!,
  });

  // The trained trunk changes every row's features: recompute them once for prediction.
  const features = input.trunk && step > trunkFirstStep ? await input.trunk.poolAll() : input.features;
  const predict = (rows: Int32Array): { probs: Record<string, Float32Array>; embedding: Float32Array } => {
    const probs: Record<string, Float32Array> = {};
    for (const t of [...headVars, ...multiVars]) probs[t.task.name] = new Float32Array(rows.length * t.task.labels.length);
    const embedding = new Float32Array(rows.length * input.embeddingDim);
    // In chunks, so predicting every row never builds one giant tensor.
    for (let start = 0; start < rows.length; start += 1024) {
      const chunk = rows.subarray(start, start + 1024);
      tf.tidy(() => {
        const h = trunk(tf.tensor2d(gatherRows(features, dim, Array.from(chunk)), [chunk.length, dim]));
        for (const { task, w, b } of headVars) probs[task.name]!.set(tf.softmax(tf.add(tf.matMul(h, w), b)).dataSync(), start * task.labels.length);
        for (const { task, w, b } of multiVars) probs[task.name]!.set(tf.sigmoid(tf.add(tf.matMul(h, w), b)).dataSync(), start * task.labels.length);
        embedding.set(embed(h).dataSync(), start * input.embeddingDim);
      });
    }
    return { probs, embedding };
  };

  return {
    featureMean,
    featureStd,
    features,
    shared: sharedVars.map((l) => toDense(l.w, l.b)),
    heads: [
      ...headVars.map(({ task, w, b }) => ({ name: task.name, kind: 'single' as const, dense: toDense(w, b) })),
      ...multiVars.map(({ task, w, b }) => ({ name: task.name, kind: 'multi' as const, dense: toDense(w, b) })),
    ],
    embedding: toDense(emb.w, emb.b),
    predict,
    steps: step,
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
