// Trains the shared layers, the classification heads and the embedding jointly on pooled
// backbone features with TensorFlow.js (and, when given one, the trunk below the features):
// the layers are head-network.ts, the losses losses.ts, the batches batches.ts. AdamW,
// warm-up then cosine decay, checkpoints that a run resumes from bit for bit, and a stop
// on a non-finite loss.
import { GroknetError } from '../errors.ts';
import { rng } from '../util/random.ts';
import { epochBatches } from './batches.ts';
import { resumeFitCheckpoint, saveFitCheckpoint } from './checkpoint.ts';
import type { FitInput, FitResult } from './fit-types.ts';
import { featureStandardisation, gatherRows, HeadNetwork } from './head-network.ts';
import { jointLoss } from './losses.ts';
import { decayWeights, setLearningRate, warmupCosine } from './schedule.ts';
import { readyTf, tf } from './tf.ts';

export type { FitInput, FitResult, MultiTask, PairLoss, SingleTask, TrunkTraining } from './fit-types.ts';
export { epochBatches } from './batches.ts';
export { gatherRows } from './head-network.ts';
/** The project's seeded PRNG, re-exported here where training code has always found it. */
export { rng };

export async function fitHeads(input: FitInput): Promise<FitResult> {
  await readyTf();
  const random = rng(input.seed);
  if (input.trainRows.length === 0) throw new Error('no training rows');
  const network = HeadNetwork.create(input, featureStandardisation(input.features, input.dim, input.trainRows), random);
  const optimizer = tf.train.adam(input.learningRate);
  const schedule = fitSchedule(input);
  const resumedAt = input.checkpoint?.resume
    ? await resumeFitCheckpoint(input.checkpoint.file, { variables: network.trainable, optimizer, ...(input.trunk ? { trunk: input.trunk } : {}) })
    : undefined;
  const steps = await fit(input, network, optimizer, schedule, resumedAt ?? 0);
  // The trained trunk changes every row's features: recompute them once for prediction.
  const features = input.trunk && steps > schedule.trunkFirstStep ? await input.trunk.poolAll() : input.features;
  return {
    featureMean: network.standardisation.mean,
    featureStd: network.standardisation.std,
    features,
    ...network.weights(),
    predict: (rows) => network.predict(features, rows),
    steps,
    dispose: () => {
      network.dispose();
      optimizer.dispose();
    },
  };
}

interface FitSchedule {
  stepsPerEpoch: number;
  totalSteps: number;
  /** The first step that trains the trunk (totalSteps without a trunk). */
  trunkFirstStep: number;
  headRate(step: number): number;
  trunkRate(step: number): number;
}

/**
 * The heads warm up over `warmupEpochs` and decay over the whole run; the trunk gets its own
 * warm-up (a quarter epoch) and cosine decay over the epochs it trains.
 */
function fitSchedule(input: FitInput): FitSchedule {
  const stepsPerEpoch = epochBatches(input, 0).length;
  const totalSteps = stepsPerEpoch * input.epochs;
  const warmupSteps = Math.max(1, Math.round((input.warmupEpochs ?? 1) * stepsPerEpoch));
  const trunkFirstStep = input.trunk ? Math.min(totalSteps, input.trunk.fromEpoch * stepsPerEpoch) : totalSteps;
  const trunkWarmupSteps = Math.max(1, Math.round(stepsPerEpoch / 4));
  return {
    stepsPerEpoch,
    totalSteps,
    trunkFirstStep,
    headRate: (step) => warmupCosine(input.learningRate, step, warmupSteps, totalSteps),
    trunkRate: (step) => warmupCosine(input.trunk!.learningRate, step - trunkFirstStep, trunkWarmupSteps, Math.max(1, totalSteps - trunkFirstStep)),
  };
}

/**
 * The training loop from `startStep` (0, or where a checkpoint left off) to the last epoch or
 * `stopAfterSteps`: a step per batch, checkpoints every `everySteps` and after each epoch, the
 * epoch's mean losses to onEpoch. Stops with a checkpoint once the signal is aborted. Returns
 * the steps taken in all.
 */
async function fit(input: FitInput, network: HeadNetwork, optimizer: tf.Optimizer, schedule: FitSchedule, startStep: number): Promise<number> {
  let step = startStep;
  const startEpoch = Math.floor(step / schedule.stepsPerEpoch);
  const checkpoint = async (epoch: number): Promise<void> => {
    if (input.checkpoint) await saveFitCheckpoint(input.checkpoint.file, { epoch, step, variables: network.trainable, optimizer, ...(input.trunk ? { trunk: input.trunk } : {}) });
  };
  const stopped = (): boolean => input.stopAfterSteps !== undefined && step >= input.stopAfterSteps;
  for (let epoch = startEpoch; epoch < input.epochs; epoch++) {
    const started = Date.now();
    const batches = epochBatches(input, epoch);
    const sums: Record<string, number> = {};
    let counted = 0;
    for (let s = epoch === startEpoch ? step % schedule.stepsPerEpoch : 0; s < batches.length; s++) {
      if (stopped()) break;
      if (input.signal?.aborted) {
        await checkpoint(epoch);
        network.dispose();
        optimizer.dispose();
        throw new GroknetError('interrupted', `at training step ${step} of ${schedule.totalSteps}${input.checkpoint ? ', checkpoint written' : ''}`);
      }
      const losses = await trainStep(input, network, optimizer, schedule, batches[s]!, step, `epoch ${epoch + 1}, step ${s + 1}`);
      for (const [name, value] of Object.entries(losses)) sums[name] = (sums[name] ?? 0) + value;
      counted++;
      step++;
      if (input.checkpoint && input.checkpoint.everySteps > 0 && step % input.checkpoint.everySteps === 0) await checkpoint(epoch);
    }
    if (stopped()) {
      await checkpoint(epoch);
      break;
    }
    await checkpoint(epoch + 1);
    const means: Record<string, number> = {};
    for (const [name, total] of Object.entries(sums)) means[name] = total / Math.max(1, counted);
    input.onEpoch?.(epoch + 1, means, (Date.now() - started) / 1000);
  }
  return step;
}

/**
 * One optimiser step on the batch `rows`: the joint loss and its gradients, the trunk's step
 * (from the loss's gradient at the features) where it trains, Adam on every variable, then
 * the decoupled weight decay. Returns each loss's value; throws when the loss is not finite
 * (`where` says at which step).
 */
async function trainStep(input: FitInput, network: HeadNetwork, optimizer: tf.Optimizer, schedule: FitSchedule, rows: number[], step: number, where: string): Promise<Record<string, number>> {
  const lr = schedule.headRate(step);
  setLearningRate(optimizer, lr);
  const { dim } = input;
  const trunkStep = input.trunk !== undefined && step >= schedule.trunkFirstStep;
  const batch = trunkStep ? await input.trunk!.forward(rows) : gatherRows(input.features, dim, rows);
  // With a trainable trunk the pooled features are a variable too: their gradient goes back to it.
  const x = trunkStep ? tf.variable(tf.tensor2d(batch, [rows.length, dim]), true) : tf.tensor2d(batch, [rows.length, dim]);
  const lossParts: Record<string, tf.Tensor> = {};
  const { value, grads } = tf.variableGrads(() => {
    const { total, parts } = jointLoss(network, network.hidden(x as tf.Tensor2D, { step, featureGradient: trunkStep }), rows, input);
    Object.assign(lossParts, parts);
    return total;
  }, trunkStep ? [...network.trainable, x as tf.Variable] : [...network.trainable]);
  const release = (): void => tf.dispose([x, value, ...Object.values(grads), ...Object.values(lossParts)]);
  const totalValue = (await value.data())[0]!;
  if (!Number.isFinite(totalValue)) {
    release();
    throw new Error(`training diverged: loss is ${totalValue} at ${where}${input.checkpoint ? '; the last good checkpoint is kept' : ''}`);
  }
  if (trunkStep) {
    const featureGradient = grads[(x as tf.Variable).name];
    // A batch whose loss does not reach the features (all its heads masked) leaves the trunk as it is.
    if (featureGradient) await input.trunk!.backward((await featureGradient.data()) as Float32Array, schedule.trunkRate(step));
  }
  // Every variable, in a fixed order: Adam keys its moments by position, so a variable a
  // batch does not reach (no rows for its head) gets a zero gradient rather than a shift.
  const zeros: tf.Tensor[] = [];
  optimizer.applyGradients(
    network.trainable.map((v) => {
      const g = grads[v.name] ?? zeros[zeros.push(tf.zerosLike(v)) - 1]!;
      return { name: v.name, tensor: g };
    }),
  );
  tf.dispose(zeros);
  decayWeights(network.kernels, lr, input.weightDecay);
  const losses: Record<string, number> = {};
  for (const [name, t] of Object.entries(lossParts)) losses[name] = (await t.data())[0]!;
  release();
  return losses;
}
