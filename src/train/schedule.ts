// The optimiser schedule both trainers share: a linear warm-up into a cosine decay, set on
// TF.js's Adam before each step, and AdamW's decoupled weight decay on the kernels after it.
import { tf } from './tf.ts';

/**
 * The learning rate `at` steps into a schedule: rising linearly over `warmupSteps`, then
 * following half a cosine from `peak` down to 0 at `decaySteps`.
 */
export function warmupCosine(peak: number, at: number, warmupSteps: number, decaySteps: number): number {
  const warm = Math.min(1, (at + 1) / warmupSteps);
  return peak * warm * 0.5 * (1 + Math.cos((Math.PI * at) / decaySteps));
}

/** TF.js's optimisers take their rate at construction only; the schedule changes it between steps. */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
}

/** Decoupled weight decay (AdamW), applied after the optimiser's step: kernel *= 1 - lr * decay. */
export function decayWeights(kernels: readonly tf.Variable[], learningRate: number, weightDecay: number): void {
  tf.tidy(() => {
    for (const v of kernels) v.assign(tf.mul(v, 1 - learningRate * weightDecay));
  });
}
