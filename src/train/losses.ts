// The losses of the joint fit over one batch. Each sample supervises only the heads its
// dataset labels (missing labels are masked, not guessed), and each loss is averaged over the
// batch's rows that carry its labels: softmax with label smoothing per single-label head,
// sigmoid BCE or multi-label softmax per multi-label head, ArcFace over product ids and a
// double-margin contrastive loss over same-product pairs for the embedding. `jointLoss` sums
// them with their weights.
import type { FitInput, MultiTask, PairLoss, SingleTask } from './fit-types.ts';
import type { DenseVariables, HeadNetwork } from './head-network.ts';
import { matMul } from './mat-mul.ts';
import { tf } from './tf.ts';

/** Softmax cross-entropy with label smoothing; undefined when no row of the batch has this task's label. */
export function singleLabelLoss(h: tf.Tensor2D, head: DenseVariables, task: SingleTask, rows: readonly number[], labelSmoothing: number): tf.Tensor | undefined {
  const targets = rows.map((r) => task.targets[r]!);
  const count = targets.filter((t) => t >= 0).length;
  if (count === 0) return undefined;
  const mask = tf.tensor1d(targets.map((t) => (t >= 0 ? 1 : 0)), 'float32');
  const onehot = tf.oneHot(tf.tensor1d(targets.map((t) => Math.max(0, t)), 'int32'), task.labels.length);
  const logits = tf.add(matMul(h, head.w), head.b);
  const loss = tf.losses.softmaxCrossEntropy(onehot, logits, mask, task.labelSmoothing ?? labelSmoothing, tf.Reduction.SUM);
  return tf.div(loss, count);
}

/** Sigmoid BCE or multi-label softmax (the task's `loss`); undefined when no row of the batch is labelled for it. */
export function multiLabelLoss(h: tf.Tensor2D, head: DenseVariables, task: MultiTask, rows: readonly number[]): tf.Tensor | undefined {
  const labelled = rows.filter((r) => task.labelled[r] === 1).length;
  if (labelled === 0) return undefined;
  const L = task.labels.length;
  const targets = new Float32Array(rows.length * L);
  rows.forEach((r, i) => targets.set(task.targets.subarray(r * L, (r + 1) * L), i * L));
  const targetT = tf.tensor2d(targets, [rows.length, L]);
  const mask = tf.tensor1d(rows.map((r) => task.labelled[r]!), 'float32');
  const logits = tf.add(matMul(h, head.w), head.b);
  let loss: tf.Tensor;
  if ((task.loss ?? 'bce') === 'bce') {
    // Sigmoid cross-entropy summed over labels, averaged over the labelled rows.
    loss = tf.losses.sigmoidCrossEntropy(targetT, logits, tf.mul(tf.expandDims(mask, 1), tf.onesLike(logits)), 0, tf.Reduction.SUM);
  } else {
    // Multi-label softmax: cross-entropy against the present labels, spread evenly.
    const norm = tf.maximum(tf.sum(targetT, 1, true), 1);
    loss = tf.sum(tf.mul(mask, tf.neg(tf.sum(tf.mul(tf.div(targetT, norm), tf.logSoftmax(logits)), 1))));
  }
  return tf.div(loss, labelled);
}

/**
 * ArcFace over the product ids (`productTargets`, -1 where unknown; at least one known):
 * softmax over scaled cosines to the L2-normalised class centres, the target's angle widened
 * by the margin.
 */
export function arcfaceLoss(e: tf.Tensor2D, centres: tf.Variable, productTargets: readonly number[], arcface: { scale: number; margin: number }): tf.Tensor {
  const withProduct = productTargets.filter((p) => p >= 0).length;
  const c = tf.div(centres, tf.add(tf.norm(centres, 2, 0, true), 1e-12));
  const cos = tf.clipByValue(matMul(e, c as tf.Tensor2D), -1 + 1e-6, 1 - 1e-6);
  const onehot = tf.oneHot(tf.tensor1d(productTargets.map((p) => Math.max(0, p)), 'int32'), centres.shape[1]!);
  // ArcFace: the target logit is cos(theta + m) = cos cos m - sin sin m.
  const sin = tf.sqrt(tf.sub(1, tf.square(cos)));
  const withMargin = tf.sub(tf.mul(cos, Math.cos(arcface.margin)), tf.mul(sin, Math.sin(arcface.margin)));
  const logits = tf.mul(tf.add(tf.mul(onehot, withMargin), tf.mul(tf.sub(1, onehot), cos)), arcface.scale);
  const mask = tf.tensor1d(productTargets.map((p) => (p >= 0 ? 1 : 0)), 'float32');
  return tf.div(tf.losses.softmaxCrossEntropy(onehot, logits, mask, 0, tf.Reduction.SUM), withProduct);
}

/**
 * Double-margin contrastive loss over all pairs in the batch: same group -> similarity above
 * the positive margin, different group -> below the negative margin. Undefined when the batch
 * has no pair of one kind or the other.
 */
export function contrastiveLoss(e: tf.Tensor2D, rows: readonly number[], pairs: PairLoss): tf.Tensor | undefined {
  const n = rows.length;
  const pos = new Float32Array(n * n);
  const neg = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const same = pairs.group[rows[i]!] === pairs.group[rows[j]!] && pairs.group[rows[i]!]! >= 0;
      if (same) pos[i * n + j] = 1;
      else neg[i * n + j] = 1;
    }
  }
  const posCount = pos.reduce((a, b) => a + b, 0);
  const negCount = neg.reduce((a, b) => a + b, 0);
  if (posCount === 0 || negCount === 0) return undefined;
  const sims = matMul(e, tf.transpose(e));
  const posLoss = tf.div(tf.sum(tf.mul(tf.tensor2d(pos, [n, n]), tf.square(tf.relu(tf.sub(pairs.positiveMargin, sims))))), posCount);
  const negLoss = tf.div(tf.sum(tf.mul(tf.tensor2d(neg, [n, n]), tf.square(tf.relu(tf.sub(sims, pairs.negativeMargin))))), negCount);
  return tf.add(posLoss, negLoss);
}

export interface JointLoss {
  total: tf.Scalar;
  /** Each loss before its weight, by head (or 'arcface', 'contrastive'), kept beyond the gradient's tidy scope. */
  parts: Record<string, tf.Tensor>;
}

/**
 * The weighted sum of every loss the batch `rows` reaches, from the hidden activations `h`;
 * to be called inside the gradient's scope. The sum's order is fixed (single heads,
 * multi-label heads, ArcFace, contrastive): float sums in another order round differently.
 */
export function jointLoss(network: HeadNetwork, h: tf.Tensor2D, rows: readonly number[], input: FitInput): JointLoss {
  let total: tf.Tensor = tf.scalar(0);
  const parts: Record<string, tf.Tensor> = {};
  const add = (name: string, loss: tf.Tensor | undefined, weight: number): void => {
    if (!loss) return;
    total = tf.add(total, tf.mul(loss, weight));
    parts[name] = tf.keep(loss);
  };
  for (const head of network.singleHeads) add(head.task.name, singleLabelLoss(h, head, head.task, rows, input.labelSmoothing), head.task.weight);
  for (const head of network.multiHeads) add(head.task.name, multiLabelLoss(h, head, head.task, rows), head.task.weight);
  const productTargets = rows.map((r) => input.productIds[r]!);
  const trainsArcface = input.arcface.weight > 0 && productTargets.some((p) => p >= 0);
  const e = trainsArcface || input.pairs ? network.embed(h) : undefined;
  if (e && trainsArcface) add('arcface', arcfaceLoss(e, network.centres, productTargets, input.arcface), input.arcface.weight);
  if (e && input.pairs) add('contrastive', contrastiveLoss(e, rows, input.pairs), input.pairs.weight);
  return { total: total as tf.Scalar, parts };
}
