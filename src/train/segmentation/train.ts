// Trains the segmentation decoder on cached trunk activations of the masked Clothing
// Co-Parsing photos and writes the artifact (decoder.onnx + model.json). The steps: the
// settings checked (config.ts), the photos split and their views listed (views.ts), the
// trunk under the decoder chosen (trunk-plan.ts), the views' tap maps cached
// (feature-cache.ts), the masks turned into per-cell targets (views.ts), the decoder fitted
// (here: AdamW with warm-up and cosine decay, the loss of loss.ts, mirrored and cropped views
// picked per epoch, the upper trunk stepped with it where it trains) and validated
// (validate.ts), then the artifact written (export.ts).
import type { StartProgress } from '../../util/progress.ts';
import { rng } from '../../util/random.ts';
import { block15InputNode } from '../../model/upper-trunk/block15.ts';
import { upperTrunkInputNode } from '../../model/upper-trunk/block16.ts';
import { initDecoder, type DecoderShape, type DecoderWeights } from '../../segment/decoder.ts';
import { SEGMENT_BACKBONE_ID, tapSize, type Tap } from '../../segment/taps.ts';
import type { SegmentManifest } from '../../segment/manifest.ts';
import { decayWeights, setLearningRate, warmupCosine } from '../schedule.ts';
import { readyTf, tf } from '../tf.ts';
import { parseSegmentTrainConfig, type SegmentTrainConfig, type SegmentTrainSettings } from './config.ts';
import { decoderForward, decoderVars, disposeVars, kernelsOf, trainableOf, weightsOf, type DecoderVars } from './decoder-tf.ts';
import { exportSegmentArtifact, segmentManifest, type EpochRecord } from './export.ts';
import { segmentFeatures } from './feature-cache.ts';
import { segmentationLoss } from './loss.ts';
import { batchMaps, tapStatistics, type TapStatistics } from './tap-maps.ts';
import { planTrunk, type TrunkPlan } from './trunk-plan.ts';
import { SegmentTrunkTraining } from './trunk-training.ts';
import { validate, type Scoring, type ValidationFigures } from './validate.ts';
import { allViews, classWeighting, splitPhotos, trainingSet, viewRefs, type TrainingPhoto, type TrainingSet, type TrainView } from './views.ts';

export type { SegmentTrainConfig, SegmentTrainSettings } from './config.ts';
export type { ValidationFigures } from './validate.ts';

export interface SegmentTrainOptions {
  log?: (line: string) => void;
  /** Reports the feature pass over the views not cached yet; silent without one. */
  startProgress?: StartProgress;
}

export interface SegmentTrainResult {
  manifest: SegmentManifest;
  validation: ValidationFigures;
  seconds: number;
}

export async function trainSegmentation(settings: SegmentTrainSettings, options: SegmentTrainOptions = {}): Promise<SegmentTrainResult> {
  const config = parseSegmentTrainConfig(settings);
  const started = Date.now();
  const log = options.log ?? (() => {});
  await readyTf();
  const split = await splitPhotos(config, log);
  const refs = viewRefs(config, split);
  const plan = await planTrunk(config, log);
  const features = await segmentFeatures(allViews(refs), {
    backboneId: SEGMENT_BACKBONE_ID,
    taps: plan.cachedTaps,
    input: plan.input,
    ...(plan.upper && !plan.fineTune ? { upper: plan.upper } : {}),
    ...(options.startProgress ? { startProgress: options.startProgress } : {}),
  });
  log(`features ready (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const set = await trainingSet(config, split, refs, features, log);
  const fitted = await fitDecoder(config, plan, set, log);
  const seconds = (Date.now() - started) / 1000;
  const manifest = segmentManifest({ config, plan, map: set.map, grid: set.grid, trainImages: set.train.length, valImages: set.val.length, ...fitted, seconds });
  await exportSegmentArtifact(config.out, { manifest, weights: fitted.weights });
  return { manifest, validation: fitted.validation, seconds };
}

function decoderShape(config: SegmentTrainConfig, classes: number, taps: readonly Tap[]): DecoderShape {
  const size = config.inputSize;
  return {
    levels: taps.map((tap, i) => ({
      node: tap.node,
      channels: tap.channels,
      size: tapSize(size, tap.stride),
      width: config.widths[i]!,
      mix: config.mix[i] ?? false,
      global: i === 0 && config.context,
    })),
    classes,
  };
}

/** What each step of the decoder's fit works with. */
interface DecoderFit {
  config: SegmentTrainConfig;
  vars: DecoderVars;
  trainable: tf.Variable[];
  kernels: tf.Variable[];
  optimizer: tf.Optimizer;
  classWeights: tf.Tensor1D;
  stats: TapStatistics;
  /** What the cache holds per level (the trunk's input first where it trains). */
  taps: readonly Tap[];
  trunk?: SegmentTrunkTraining;
}

interface FittedDecoder {
  weights: DecoderWeights;
  block15Trained: boolean;
  history: EpochRecord[];
  validation: ValidationFigures;
}

/**
 * The decoder (and the trunk above the cached maps, where it trains) fitted for the config's
 * epochs, validated every `evalEvery` epochs and after the last.
 */
async function fitDecoder(config: SegmentTrainConfig, plan: TrunkPlan, set: TrainingSet, log: (line: string) => void): Promise<FittedDecoder> {
  const fit = await startDecoderFit(config, plan, set);
  const scoring: Scoring = { grid: set.grid, map: set.map, merged: Object.keys(config.merge).length > 0, taps: plan.cachedTaps, size: config.inputSize, ...(fit.trunk ? { trunk: fit.trunk } : {}) };
  const stepsPerEpoch = Math.ceil(set.train.length / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  let step = 0;
  const history: EpochRecord[] = [];
  let validation: ValidationFigures | undefined;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const epochStarted = Date.now();
    // One generator per epoch for its order and its views: a pure function of (seed, epoch).
    const epochRandom = rng(config.seed * 7919 + epoch + 1);
    const order = shuffledIndices(set.train.length, epochRandom);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const picked = order.slice(s * config.batchSize, (s + 1) * config.batchSize).map((i) => pickView(set.train[i]!, config.cropProbability, epochRandom));
      // Warm-up over the first epoch.
      const lr = warmupCosine(config.learningRate, step, stepsPerEpoch, totalSteps);
      lossSum += await decoderStep(fit, picked, step, lr, `epoch ${epoch + 1}, step ${s + 1}`);
      step++;
    }
    const entry: EpochRecord = { epoch: epoch + 1, loss: lossSum / stepsPerEpoch, seconds: (Date.now() - epochStarted) / 1000 };
    if ((epoch + 1) % config.evalEvery === 0 || epoch + 1 === config.epochs) {
      validation = await validate(fit.vars, fit.stats, set.val, scoring);
      entry.pixelAccuracy = validation.pixelAccuracy;
      entry.meanIoU = validation.meanIoU;
    }
    history.push(entry);
    log(
      `epoch ${entry.epoch}/${config.epochs}: loss ${entry.loss.toFixed(4)} (${entry.seconds.toFixed(1)} s)` +
        (entry.meanIoU !== undefined ? `  val pixel acc ${entry.pixelAccuracy!.toFixed(4)}, mIoU ${entry.meanIoU.toFixed(4)}${validation?.merged ? ` (merged: ${validation.merged.pixelAccuracy.toFixed(4)}, ${validation.merged.meanIoU.toFixed(4)})` : ''}` : ''),
    );
  }
  // The last epoch always validates (epochs >= 1).
  return { ...(await finishDecoderFit(fit, plan)), history, validation: validation! };
}

/**
 * The decoder's starting point: initialised from the seed, each level standardised with its
 * statistics over the training views, the classifier's biases the log class priors; and the
 * trunk to fine-tune, the optimiser and the class weights.
 */
async function startDecoderFit(config: SegmentTrainConfig, plan: TrunkPlan, set: TrainingSet): Promise<DecoderFit> {
  const classes = set.map.classLabels.length;
  const { prior, classWeights } = classWeighting(set.train, classes, config);
  const init = initDecoder(decoderShape(config, classes, plan.levelTaps), rng(config.seed));
  const trunk = plan.fineTune ? await SegmentTrunkTraining.create(tapSize(config.inputSize, plan.cachedTaps[0]!.stride), plan.upper!, config.weightDecay, plan.block15) : undefined;
  const stats = await tapStatistics(set.train.map((v) => v.orig.maps), plan.cachedTaps, config.inputSize, trunk);
  init.levels.forEach((level, i) => {
    level.mean = stats[i]!.mean;
    level.std = stats[i]!.std;
  });
  init.classifier.bias = Float32Array.from(prior, (p) => Math.log(Math.max(p, 1e-6)));
  const vars = decoderVars(init);
  return {
    config,
    vars,
    trainable: trainableOf(vars),
    kernels: kernelsOf(vars),
    optimizer: tf.train.adam(config.learningRate),
    classWeights: tf.tensor1d(classWeights),
    stats,
    taps: plan.cachedTaps,
    ...(trunk ? { trunk } : {}),
  };
}

/** The trained weights, the upper trunk (and block 15) the decoder graph carries included; frees the fit. */
async function finishDecoderFit(fit: DecoderFit, plan: TrunkPlan): Promise<Pick<FittedDecoder, 'weights' | 'block15Trained'>> {
  const upperWeights = fit.trunk?.weights ?? plan.upper;
  const block15Weights = fit.trunk?.block15Weights;
  await fit.trunk?.close();
  const weights: DecoderWeights = {
    ...weightsOf(fit.vars),
    ...(upperWeights ? { upperTrunk: { input: block15Weights ? block15InputNode() : upperTrunkInputNode(), weights: upperWeights, ...(block15Weights ? { block15: block15Weights } : {}) } } : {}),
  };
  disposeVars(fit.vars);
  fit.optimizer.dispose();
  fit.classWeights.dispose();
  return { weights, block15Trained: Boolean(block15Weights) };
}

/** 0..n-1 shuffled (Fisher-Yates) by `random`. */
function shuffledIndices(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The view a photo is trained as this epoch: one of its crops with probability `cropProbability`, else the photo or its mirror. */
function pickView(photo: TrainingPhoto, cropProbability: number, random: () => number): TrainView {
  if (photo.crops.length > 0 && random() < cropProbability) return photo.crops[Math.floor(random() * photo.crops.length)]!;
  return photo.flip && random() < 0.5 ? photo.flip : photo.orig;
}

/**
 * One step on a batch of views: the decoder's loss and gradients, Adam, the trunk's step from
 * the gradient at its output map (where it trains), then the decoupled weight decay. Returns
 * the loss; throws when it is not finite (`where` says at which step).
 */
async function decoderStep(fit: DecoderFit, picked: readonly TrainView[], step: number, lr: number, where: string): Promise<number> {
  const { config } = fit;
  setLearningRate(fit.optimizer, lr);
  const classes = fit.classWeights.shape[0];
  const cellCount = picked[0]!.valid.length;
  const targets = new Float32Array(picked.length * cellCount * classes);
  const valid = new Float32Array(picked.length * cellCount);
  picked.forEach((v, i) => {
    targets.set(v.targets, i * cellCount * classes);
    valid.set(v.valid, i * cellCount);
  });
  const first = fit.trunk ? await fit.trunk.forward(picked.map((v) => v.maps)) : undefined;
  const inputs = batchMaps(picked.map((v) => v.maps), fit.stats, fit.taps, config.inputSize, first);
  // With a trunk to fine-tune, the coarsest map is a variable too: its gradient goes back into the trunk.
  const coarsest = fit.trunk ? tf.variable(inputs[0]!, true) : undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = decoderForward(fit.vars, coarsest ? [coarsest, ...inputs.slice(1)] : inputs, { standardised: true, dropout: config.dropout, seed: step });
    return segmentationLoss(logits, { targets, valid }, fit.classWeights, config.diceWeight);
  }, coarsest ? [...fit.trainable, coarsest] : fit.trainable);
  const loss = (await value.data())[0]!;
  if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at ${where}`);
  fit.optimizer.applyGradients(fit.trainable.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
  if (fit.trunk && coarsest) {
    // The map was standardised before the decoder: the gradient reaching the trunk's output is divided by the deviation.
    const gradient = (await grads[coarsest.name]!.data()) as Float32Array;
    const std = fit.stats[0]!.std;
    for (let i = 0; i < gradient.length; i++) gradient[i]! /= std[i % std.length]!;
    await fit.trunk.backward(gradient, (lr * config.upperTrunkLearningRate) / config.learningRate, (lr * config.block15LearningRate) / config.learningRate);
  }
  tf.dispose([...inputs, ...(coarsest ? [coarsest] : [])]);
  decayWeights(fit.kernels, lr, config.weightDecay);
  tf.dispose([value, ...Object.values(grads)]);
  return loss;
}
