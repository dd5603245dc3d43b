// The segmentation decoder's loss over a batch of output cells: a pixel-wise (per cell)
// softmax cross-entropy against the soft targets, weighted towards rare classes and over the
// cells inside the photo, plus optionally a soft Dice term that weighs every class alike.
import { tf } from '../tf.ts';

export interface CellTargets {
  /** Row-major [cells, classes]: the share of each class in each cell. */
  targets: Float32Array;
  /** 1 for a cell inside the photo, 0 for letterbox padding. */
  valid: Float32Array;
}

export function segmentationLoss(logits: tf.Tensor, batch: CellTargets, classWeights: tf.Tensor1D, diceWeight: number): tf.Scalar {
  const classes = classWeights.shape[0];
  const cells = batch.valid.length;
  const logp = tf.logSoftmax(tf.reshape(logits, [-1, classes]));
  const t = tf.mul(tf.tensor2d(batch.targets, [cells, classes]), classWeights);
  const v = tf.tensor1d(batch.valid);
  const perCell = tf.neg(tf.sum(tf.mul(t, logp), 1));
  const weightSum = tf.sum(tf.mul(tf.sum(t, 1), v));
  const crossEntropy = tf.div(tf.sum(tf.mul(perCell, v)), tf.maximum(weightSum, 1e-6)) as tf.Scalar;
  if (diceWeight <= 0) return crossEntropy;
  const p = tf.mul(tf.exp(logp), tf.expandDims(v, 1));
  const truth = tf.tensor2d(batch.targets, [cells, classes]);
  // Smoothed by one cell, so a class absent from the batch and never predicted scores 1.
  const dice = tf.div(tf.add(tf.mul(2, tf.sum(tf.mul(p, truth), 0)), 1), tf.add(tf.add(tf.sum(p, 0), tf.sum(tf.mul(truth, tf.expandDims(v, 1)), 0)), 1));
  return tf.add(crossEntropy, tf.mul(diceWeight, tf.sub(1, tf.mean(dice)))) as tf.Scalar;
}
