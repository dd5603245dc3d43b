// Matrix products for training in TensorFlow.js, with a gradient that stays on the wasm
// backend's fast path. TF.js differentiates a @ b as dy @ b^T and a^T @ dy, written as
// MatMul with its transpose flags set; the wasm backend runs flagged products in a slow
// loop (1-1.6 GFLOP/s against 10-23 without flags, 128x1792x512 on one core). Transposing
// the operand first and multiplying without flags gives the same numbers at 7-18x the
// speed. Used by the product heads (src/train/fit-heads.ts: a training step 341 -> 61 ms,
// BENCHMARKS.md "Training throughput") and the segmentation decoder's 1x1 and 3x3 convs
// (src/train/segmentation/decoder-tf.ts).
import { tf } from './tf.ts';

type Saved = tf.Tensor[];
// customGrad passes the inputs followed by the function that saves tensors for the gradient.
type Args = Array<tf.Tensor | tf.GradSaveFunc>;

/** a @ b, differentiable in both operands. */
const bothGradients = tf.customGrad((...args: Args) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(sb)), tf.matMul(tf.transpose(sa), g)];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * a @ b for 2-D tensors. `constantA`: a needs no gradient (the first layer over fixed
 * features), so only b's is computed, sparing the largest product of the backward pass.
 */
export function matMul(a: tf.Tensor2D, b: tf.Tensor2D, constantA = false): tf.Tensor2D {
  if (!constantA) return bothGradients(a, b);
  const weightOnly = tf.customGrad((...args: Args) => {
    const [w, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    // Saved, not just captured: the forward pass's intermediates are freed before the backward pass.
    save([a]);
    return {
      value: tf.matMul(a, w),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => [tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D)],
    };
  }) as (w: tf.Tensor2D) => tf.Tensor2D;
  return weightOnly(b);
}
