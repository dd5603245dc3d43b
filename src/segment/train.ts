// Trains the segmentation decoder on cached trunk activations of the masked Clothing
// Co-Parsing photos and writes the artifact (decoder.onnx + model.json). Targets are the
// masks pooled into the decoder's 1/8 grid through the letterbox geometry (soft: the share
// of each class in a cell), the loss a pixel-wise softmax cross-entropy weighted towards
// rare classes, the optimiser AdamW with warm-up and cosine decay. Mirrored photos are a
// second cached view each epoch may pick instead of the photo. Validation runs the same
// decoder, upsamples to the photo's own size as the pipeline does, and scores against the
// full-resolution masks. Under the decoder, block 16 + Conv_1 may be a trained product
// model's (frozen: its Conv_1 maps are cached) or fine-tuned here with the decoder
// (block 15's maps are cached and trunk-training.ts runs the layers above them), and
// block 15 may be fine-tuned with them (block 14's maps are cached instead).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic } from '../model/cache.ts';
import { readManifest } from '../model/manifest.ts';
import { rng } from '../train/fit-heads.ts';
import { readyTf, tf } from '../train/tf.ts';
import { hashSplit } from '../train/datasets/split.ts';
import { buildClassMap, mergeMask, NOT_GARMENTS, type ClassMap } from './classes.ts';
import { crop, loadMaskedPhotos, mirror, randomCrops, readMask, VAL_FRACTION, type MaskedPhoto } from './dataset.ts';
import { buildDecoderGraph, DECODER_OUTPUT, initDecoder, type DecoderWeights } from './decoder.ts';
import { decoderForward, decoderVars, disposeVars, kernelsOf, trainableOf, weightsOf, type DecoderVars } from './decoder-tf.ts';
import { segmentFeatures, type ViewFeatures, type ViewRef } from './feature-cache.ts';
import { unpackHalf } from '../util/float16.ts';
import { cellTargets, labelMapFromLogits, sameConvGrid, type OutputGrid } from './grid.ts';
import { SEGMENT_FORMAT_VERSION, type SegmentManifest } from './manifest.ts';
import { Confusion } from './metrics.ts';
import { SEGMENT_BACKBONE_ID, SEGMENT_INPUT, SEGMENT_TAPS, tapSize, tapsWithUpperTrunk, type Tap } from './taps.ts';
import { backboneTensors, UPPER_CONV1_NODE, upperTrunkFromHeads } from './trunk.ts';
import { BLOCK16, pretrainedUpperTrunk, upperTrunkInputNode, type UpperTrunkWeights } from '../model/upper-trunk/block16.ts';
import { SegmentTrunkTraining } from './trunk-training.ts';
import { block15InputNode, pretrainedBlock15 } from '../model/upper-trunk/block15.ts';

export interface SegmentTrainConfig {
  /** Folder holding clothing-parsing/. */
  datasets: string;
  out: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Decoupled decay per step: kernel *= 1 - lr * weightDecay. */
  weightDecay: number;
  /** Channels per level, coarse to fine. */
  widths: number[];
  /** A 3x3 conv after each level's sum. */
  mix: boolean[];
  /** Image-level context (the global mean of the coarsest map) added on the coarsest level. */
  context: boolean;
  dropout: number;
  flip: boolean;
  /**
   * Cropped views per training photo (cached like the others): a random region of
   * `cropScale` of its width and height, mirrored for every other crop. Each epoch
   * still sees every photo once, as a crop with probability `cropProbability`.
   */
  cropViews: number;
  cropScale: [number, number];
  cropProbability: number;
  /** label -> label it is trained as (and written as). */
  merge: Record<string, string>;
  /** Class weight = (prior / largest prior) ^ -power, capped: 0 is plain cross-entropy. */
  classWeightPower: number;
  classWeightCap: number;
  /**
   * Weight of a soft Dice term added to the cross-entropy: 1 - the mean over classes of
   * 2|P∩T| / (|P| + |T|) on the batch's softmax outputs. Dice weighs every class alike,
   * as mIoU does, where the cross-entropy is dominated by the background.
   */
  diceWeight: number;
  seed: number;
  /** Validate every this many epochs (and after the last). */
  evalEvery: number;
  /**
   * 'val': train on the whole train split, validate on the held-out photos (the shipped
   * model). 'dev': hold a part of the train split out and validate on it, for choosing
   * settings without looking at the held-out photos.
   */
  validateOn: 'val' | 'dev';
  /**
   * A product model directory (written by the unified trainer with a fine-tuned upper
   * trunk) whose block 16 + Conv_1 replace the packaged ones under the decoder; absent:
   * the packaged trunk throughout.
   */
  upperTrunkFrom?: string;
  /**
   * Fine-tune block 16 + Conv_1 (from upperTrunkFrom, else the packaged ones) with the
   * decoder at this peak learning rate (same warm-up and cosine); 0 keeps them frozen.
   */
  upperTrunkLearningRate: number;
  /**
   * Fine-tune block 15 too (from the packaged backbone) at this peak learning rate; 0 keeps
   * it frozen. Needs upperTrunkLearningRate > 0.
   */
  block15LearningRate: number;
  /**
   * Letterboxed input [height, width], multiples of 32 so that each tap is exactly twice the
   * next: larger inputs show small garments (belts, scarves, jewellery) over more cells.
   */
  inputSize: [number, number];
  /** Use only this many photos of each split (smoke runs). */
  maxPhotos?: number;
  log?: (line: string) => void;
}

export const DEFAULT_SEGMENT_CONFIG: Omit<SegmentTrainConfig, 'datasets' | 'out'> = {
  epochs: 24,
  batchSize: 16,
  learningRate: 3e-3,
  weightDecay: 0.05,
  widths: [128, 128, 64],
  mix: [true, false, false],
  context: true,
  dropout: 0.1,
  flip: true,
  cropViews: 0,
  cropScale: [0.55, 0.85],
  cropProbability: 0.5,
  merge: {},
  classWeightPower: 0.3,
  classWeightCap: 20,
  diceWeight: 0,
  upperTrunkLearningRate: 0,
  block15LearningRate: 0,
  inputSize: [SEGMENT_INPUT.size[0], SEGMENT_INPUT.size[1]],
  seed: 17,
  evalEvery: 4,
  validateOn: 'val',
};

interface TrainView {
  maps: Uint16Array;
  targets: Float32Array;
  valid: Uint8Array;
}

interface ValPhoto {
  name: string;
  features: ViewFeatures;
  mask: Uint8Array;
}

export interface ValidationFigures {
  images: number;
  pixelAccuracy: number;
  meanIoU: number;
  /** Labels present in the held-out masks, with IoU. */
  perLabel: Array<{ label: string; pixelShare: number; iou: number }>;
  /** The same against masks with the training merge applied (equal to the above without merges). */
  merged?: { pixelAccuracy: number; meanIoU: number; labelsPresent: number };
}

export interface SegmentTrainResult {
  manifest: SegmentManifest;
  validation: ValidationFigures;
  seconds: number;
}

function decoderShape(config: SegmentTrainConfig, classes: number, taps: readonly Tap[]) {
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

type TapStatistics = Array<{ mean: Float32Array; std: Float32Array }>;

/**
 * Float32 NHWC batches of each decoder level, from the cached float16 views (taps in cache
 * order), standardised per channel on the way (in the unpacking loop, where it costs
 * nothing, rather than as tensor ops). `first`, when given, is the coarsest level's map
 * computed by a trunk being fine-tuned; the cache then holds that trunk's input there.
 */
function batchMaps(views: readonly Uint16Array[], stats: TapStatistics, taps: readonly Tap[], inputSize: readonly [number, number], first?: Float32Array): tf.Tensor4D[] {
  let offset = 0;
  return taps.map((tap, t) => {
    const [h, w] = tapSize(inputSize, tap.stride);
    const cached = h * w * tap.channels;
    const { mean, std } = stats[t]!;
    const c = mean.length;
    const size = h * w * c;
    const inverse = Float32Array.from(std, (s) => 1 / s);
    const data = t === 0 && first ? Float32Array.from(first) : new Float32Array(size * views.length);
    if (data.length !== size * views.length) throw new Error(`level ${t}: ${data.length} values for ${views.length} maps of ${size}`);
    views.forEach((v, i) => {
      const base = i * size;
      if (!(t === 0 && first)) unpackHalf(v.subarray(offset, offset + cached), data, base);
      for (let j = 0; j < size; j++) {
        const k = j % c;
        data[base + j] = (data[base + j]! - mean[k]!) * inverse[k]!;
      }
    });
    offset += cached;
    return tf.tensor4d(data, [views.length, h, w, c]);
  });
}

/** Accumulates per-channel mean and standard deviation over NHWC maps. */
class ChannelStatistics {
  private readonly sum: Float64Array;
  private readonly squares: Float64Array;
  private n = 0;

  constructor(private readonly channels: number) {
    this.sum = new Float64Array(channels);
    this.squares = new Float64Array(channels);
  }

  add(values: Float32Array): void {
    const c = this.channels;
    for (let i = 0; i < values.length; i++) {
      const k = i % c;
      this.sum[k]! += values[i]!;
      this.squares[k]! += values[i]! * values[i]!;
    }
    this.n += values.length / c;
  }

  result(): { mean: Float32Array; std: Float32Array } {
    const mean = Float32Array.from(this.sum, (s) => s / this.n);
    // A floor on the deviation: some channels are dead (always 0) on these photos.
    const std = Float32Array.from(this.squares, (s, k) => Math.sqrt(Math.max(0, s / this.n - mean[k]! ** 2)) + 1e-2);
    return { mean, std };
  }
}

/**
 * Per-channel mean and standard deviation of each level over the training views; the
 * coarsest level's from `trunk` when it computes that level.
 */
async function tapStatistics(views: readonly Uint16Array[], taps: readonly Tap[], inputSize: readonly [number, number], trunk?: SegmentTrunkTraining): Promise<TapStatistics> {
  let offset = 0;
  const out: TapStatistics = [];
  for (const [t, tap] of taps.entries()) {
    const [h, w] = tapSize(inputSize, tap.stride);
    const size = h * w * tap.channels;
    if (t === 0 && trunk) {
      const stats = new ChannelStatistics(BLOCK16.out);
      for (let start = 0; start < views.length; start += 32) stats.add(await trunk.maps(views.slice(start, start + 32)));
      out.push(stats.result());
    } else {
      const stats = new ChannelStatistics(tap.channels);
      const values = new Float32Array(size);
      for (const v of views) {
        unpackHalf(v.subarray(offset, offset + size), values);
        stats.add(values);
      }
      out.push(stats.result());
    }
    offset += size;
  }
  return out;
}

async function predictLogits(vars: DecoderVars, views: readonly Uint16Array[], stats: TapStatistics, taps: readonly Tap[], size: readonly [number, number], trunk?: SegmentTrunkTraining, chunk = 16): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < views.length; start += chunk) {
    const part = views.slice(start, start + chunk);
    const first = trunk ? await trunk.maps(part) : undefined;
    const logits = tf.tidy(() => decoderForward(vars, batchMaps(part, stats, taps, size, first), { standardised: true }));
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    const per = data.length / part.length;
    for (let i = 0; i < part.length; i++) out.push(data.slice(i * per, (i + 1) * per));
  }
  return out;
}

interface Scoring {
  grid: OutputGrid;
  map: ClassMap;
  merged: boolean;
  taps: readonly Tap[];
  size: readonly [number, number];
  trunk?: SegmentTrunkTraining;
}

async function validate(vars: DecoderVars, stats: TapStatistics, photos: readonly ValPhoto[], scoring: Scoring): Promise<ValidationFigures> {
  const { grid, map, merged } = scoring;
  const strict = new Confusion(map.labels.length);
  const mergedConfusion = new Confusion(map.labels.length);
  const logits = await predictLogits(vars, photos.map((p) => p.features.maps), stats, scoring.taps, scoring.size, scoring.trunk);
  photos.forEach((photo, i) => {
    const predicted = labelMapFromLogits(logits[i]!, grid, photo.features.geometry, map.classLabels);
    strict.add(predicted, photo.mask);
    if (merged) mergedConfusion.add(predicted, mergeMask(photo.mask, map));
  });
  return figures(strict, map.labels, photos.length, merged ? mergedConfusion : undefined);
}

export function figures(confusion: Confusion, labels: readonly string[], images: number, merged?: Confusion): ValidationFigures {
  const total = confusion.total;
  const perLabel = confusion
    .perLabel()
    .filter((l) => l.pixels > 0)
    .map((l) => ({ label: labels[l.label]!, pixelShare: l.pixels / total, iou: l.iou ?? 0 }));
  return {
    images,
    pixelAccuracy: confusion.pixelAccuracy(),
    meanIoU: confusion.meanIoU(),
    perLabel,
    ...(merged ? { merged: { pixelAccuracy: merged.pixelAccuracy(), meanIoU: merged.meanIoU(), labelsPresent: merged.perLabel().filter((l) => l.pixels > 0).length } } : {}),
  };
}

/** The fine-tuned upper trunk of a product model directory (its manifest names the heads file). */
async function readUpperTrunk(dir: string): Promise<{ weights: UpperTrunkWeights; source: string }> {
  const manifest = await readManifest(path.join(dir, 'model.json'));
  const weights = upperTrunkFromHeads(new Uint8Array(await readFile(path.resolve(dir, manifest.headsFile))));
  return { weights, source: `${manifest.name}@${manifest.version}` };
}

export async function trainSegmentation(config: SegmentTrainConfig): Promise<SegmentTrainResult> {
  const started = Date.now();
  const log = config.log ?? (() => {});
  await readyTf();
  const dataset = await loadMaskedPhotos(path.join(config.datasets, 'clothing-parsing'));
  const limit = config.maxPhotos ?? Infinity;
  const trainSplit = dataset.photos.filter((p) => p.split === 'train');
  const isDev = (p: MaskedPhoto): boolean => hashSplit(`${p.name}#dev`, VAL_FRACTION) === 'val';
  const train = (config.validateOn === 'dev' ? trainSplit.filter((p) => !isDev(p)) : trainSplit).slice(0, limit);
  const val = (config.validateOn === 'dev' ? trainSplit.filter(isDev) : dataset.photos.filter((p) => p.split === 'val')).slice(0, limit);
  log(`${dataset.photos.length} masked photos: ${train.length} train, ${val.length} ${config.validateOn}`);

  const refs = new Map<MaskedPhoto, { orig: ViewRef; flip?: ViewRef; crops: ViewRef[] }>();
  const cropRandom = rng(config.seed * 31 + 5);
  for (const p of train) {
    const crops = randomCrops(config.cropViews, config.cropScale, cropRandom).map((box, i) => ({ photo: p.photo, flip: config.flip && i % 2 === 1, crop: box }));
    refs.set(p, { orig: { photo: p.photo, flip: false }, ...(config.flip ? { flip: { photo: p.photo, flip: true } } : {}), crops });
  }
  for (const p of val) refs.set(p, { orig: { photo: p.photo, flip: false }, crops: [] });
  const allRefs = [...refs.values()].flatMap((r) => [r.orig, ...(r.flip ? [r.flip] : []), ...r.crops]);
  const size = config.inputSize;
  if (size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 64 && n <= 1024 && n % 32 === 0)) {
    throw new Error(`inputSize must be [height, width], each a multiple of 32 from 64 to 1024 (got ${JSON.stringify(size)})`);
  }
  const input = { ...SEGMENT_INPUT, size: [size[0], size[1]] as [number, number] };
  if (config.upperTrunkLearningRate < 0) throw new Error('upperTrunkLearningRate must be 0 (frozen) or positive');
  if (config.block15LearningRate < 0) throw new Error('block15LearningRate must be 0 (frozen) or positive');
  if (config.block15LearningRate > 0 && !(config.upperTrunkLearningRate > 0)) throw new Error('block15LearningRate needs upperTrunkLearningRate > 0: block 15 is trained under a trained block 16');
  const upperFrom = config.upperTrunkFrom ? await readUpperTrunk(config.upperTrunkFrom) : undefined;
  const fineTune = config.upperTrunkLearningRate > 0;
  const upper = upperFrom?.weights ?? (fineTune ? pretrainedUpperTrunk(SEGMENT_BACKBONE_ID) : undefined);
  // The decoder's levels; and what the cache holds: block 15's map where the trunk above it is fine-tuned here.
  const levelTaps = upper ? tapsWithUpperTrunk(UPPER_CONV1_NODE) : SEGMENT_TAPS;
  const block15 = config.block15LearningRate > 0 ? pretrainedBlock15() : undefined;
  const trunkInput = block15 ? block15InputNode() : upperTrunkInputNode();
  const cachedTaps = fineTune ? tapsWithUpperTrunk(trunkInput, BLOCK16.in) : levelTaps;
  if (upper) log(`upper trunk: block 16 + Conv_1 of ${upperFrom?.source ?? 'the packaged backbone'}${fineTune ? `, fine-tuned at lr ${config.upperTrunkLearningRate}` : ', frozen'}${block15 ? `; block 15 fine-tuned at lr ${config.block15LearningRate}` : ''}`);
  const features = await segmentFeatures(allRefs, { backboneId: SEGMENT_BACKBONE_ID, taps: cachedTaps, input, ...(upper && !fineTune ? { upper } : {}) });
  log(`features ready (${((Date.now() - started) / 1000).toFixed(0)} s)`);

  // Masks, and which labels the training split has pixels of.
  const masks = new Map<MaskedPhoto, Uint8Array>();
  const trainPixels = new Float64Array(dataset.labels.length);
  const inTrain = new Set(train);
  for (const p of [...train, ...val]) {
    const f = features.get(refs.get(p)!.orig);
    if (!f) continue;
    const mask = await readMask(p.mask);
    if (mask.width !== f.geometry.original.width || mask.height !== f.geometry.original.height) {
      log(`skipping ${p.name}: mask ${mask.width}x${mask.height}, photo ${f.geometry.original.width}x${f.geometry.original.height}`);
      continue;
    }
    masks.set(p, mask.data);
    if (inTrain.has(p)) for (const v of mask.data) trainPixels[v]! += 1;
  }
  const map = buildClassMap(dataset.labels, config.merge, (label) => trainPixels[dataset.labels.indexOf(label)]! > 0);
  const classes = map.classLabels.length;
  const finest = SEGMENT_TAPS[SEGMENT_TAPS.length - 1]!;
  const grid = sameConvGrid(size, finest.stride);
  log(`${classes} classes; output grid ${grid.height}x${grid.width}`);

  const trainViews: Array<{ orig: TrainView; flip?: TrainView; crops: TrainView[] }> = [];
  for (const p of train) {
    const mask = masks.get(p);
    const r = refs.get(p)!;
    const orig = features.get(r.orig);
    if (!mask || !orig) continue;
    const { width, height } = orig.geometry.original;
    const view = (f: ViewFeatures, m: Uint8Array): TrainView => ({ maps: f.maps, ...cellTargets(m, f.geometry, grid, map.classOfLabel, classes) });
    const flipped = r.flip ? features.get(r.flip) : undefined;
    const crops = r.crops.flatMap((ref) => {
      const f = features.get(ref);
      if (!f || !ref.crop) return [];
      const region = crop(ref.flip ? mirror(mask, width, height, 1) : mask, width, height, 1, ref.crop);
      return [view(f, region.data)];
    });
    trainViews.push({ orig: view(orig, mask), ...(flipped ? { flip: view(flipped, mirror(mask, width, height, 1)) } : {}), crops });
  }
  const valPhotos: ValPhoto[] = val.flatMap((p) => {
    const f = features.get(refs.get(p)!.orig);
    const mask = masks.get(p);
    return f && mask ? [{ name: p.name, features: f, mask }] : [];
  });

  // Class priors from the training targets: the classifier's starting biases, and the class weights.
  const prior = new Float64Array(classes);
  let cells = 0;
  for (const { orig } of trainViews) {
    for (let cell = 0; cell < orig.valid.length; cell++) {
      if (!orig.valid[cell]) continue;
      cells++;
      for (let c = 0; c < classes; c++) prior[c]! += orig.targets[cell * classes + c]!;
    }
  }
  for (let c = 0; c < classes; c++) prior[c]! /= Math.max(1, cells);
  const largest = Math.max(...prior);
  const rawWeights = Array.from(prior, (p) => Math.min(config.classWeightCap, (Math.max(p, 1e-7) / largest) ** -config.classWeightPower));
  // Normalised so that the average target is weighted 1: the loss keeps its scale.
  const norm = rawWeights.reduce((s, w, c) => s + w * prior[c]!, 0);
  const classWeights = Float32Array.from(rawWeights, (w) => w / norm);

  const random = rng(config.seed);
  const init = initDecoder(decoderShape(config, classes, levelTaps), random);
  const trunk = fineTune ? await SegmentTrunkTraining.create(tapSize(size, cachedTaps[0]!.stride), upper!, config.weightDecay, block15) : undefined;
  const stats = await tapStatistics(trainViews.map((v) => v.orig.maps), cachedTaps, size, trunk);
  const scoring: Scoring = { grid, map, merged: Object.keys(config.merge).length > 0, taps: cachedTaps, size, ...(trunk ? { trunk } : {}) };
  init.levels.forEach((level, i) => {
    level.mean = stats[i]!.mean;
    level.std = stats[i]!.std;
  });
  init.classifier.bias = Float32Array.from(prior, (p) => Math.log(Math.max(p, 1e-6)));
  const vars = decoderVars(init);
  const trainable = trainableOf(vars);
  const decayed = kernelsOf(vars);
  const optimizer = tf.train.adam(config.learningRate);
  const classWeightT = tf.tensor1d(classWeights);

  const stepsPerEpoch = Math.ceil(trainViews.length / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const warmupSteps = stepsPerEpoch;
  let step = 0;
  const history: Array<{ epoch: number; loss: number; seconds: number; pixelAccuracy?: number; meanIoU?: number }> = [];
  let validation: ValidationFigures | undefined;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const epochStarted = Date.now();
    const epochRandom = rng(config.seed * 7919 + epoch + 1);
    const order = trainViews.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(epochRandom() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const picked = order.slice(s * config.batchSize, (s + 1) * config.batchSize).map((i) => {
        const v = trainViews[i]!;
        if (v.crops.length > 0 && epochRandom() < config.cropProbability) return v.crops[Math.floor(epochRandom() * v.crops.length)]!;
        return v.flip && epochRandom() < 0.5 ? v.flip : v.orig;
      });
      const warm = Math.min(1, (step + 1) / warmupSteps);
      const lr = config.learningRate * warm * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps));
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const cellCount = picked[0]!.valid.length;
      const targets = new Float32Array(picked.length * cellCount * classes);
      const valid = new Float32Array(picked.length * cellCount);
      picked.forEach((v, i) => {
        targets.set(v.targets, i * cellCount * classes);
        valid.set(v.valid, i * cellCount);
      });
      const first = trunk ? await trunk.forward(picked.map((v) => v.maps)) : undefined;
      const inputs = batchMaps(picked.map((v) => v.maps), stats, cachedTaps, size, first);
      // With a trunk to fine-tune, the coarsest map is a variable too: its gradient goes back into the trunk.
      const coarsest = trunk ? tf.variable(inputs[0]!, true) : undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = decoderForward(vars, coarsest ? [coarsest, ...inputs.slice(1)] : inputs, { standardised: true, dropout: config.dropout, seed: step });
        const logp = tf.logSoftmax(tf.reshape(logits, [-1, classes]));
        const t = tf.mul(tf.tensor2d(targets, [picked.length * cellCount, classes]), classWeightT);
        const v = tf.tensor1d(valid);
        const perCell = tf.neg(tf.sum(tf.mul(t, logp), 1));
        const weightSum = tf.sum(tf.mul(tf.sum(t, 1), v));
        const crossEntropy = tf.div(tf.sum(tf.mul(perCell, v)), tf.maximum(weightSum, 1e-6)) as tf.Scalar;
        if (config.diceWeight <= 0) return crossEntropy;
        const p = tf.mul(tf.exp(logp), tf.expandDims(v, 1));
        const truth = tf.tensor2d(targets, [picked.length * cellCount, classes]);
        // Smoothed by one cell, so a class absent from the batch and never predicted scores 1.
        const dice = tf.div(tf.add(tf.mul(2, tf.sum(tf.mul(p, truth), 0)), 1), tf.add(tf.add(tf.sum(p, 0), tf.sum(tf.mul(truth, tf.expandDims(v, 1)), 0)), 1));
        return tf.add(crossEntropy, tf.mul(config.diceWeight, tf.sub(1, tf.mean(dice)))) as tf.Scalar;
      }, coarsest ? [...trainable, coarsest] : trainable);
      const loss = (await value.data())[0]!;
      if (!Number.isFinite(loss)) throw new Error(`training diverged: loss ${loss} at epoch ${epoch + 1}, step ${s + 1}`);
      optimizer.applyGradients(trainable.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      if (trunk && coarsest) {
        // The map was standardised before the decoder: the gradient reaching the trunk's output is divided by the deviation.
        const gradient = (await grads[coarsest.name]!.data()) as Float32Array;
        const std = stats[0]!.std;
        for (let i = 0; i < gradient.length; i++) gradient[i]! /= std[i % std.length]!;
        await trunk.backward(gradient, (lr * config.upperTrunkLearningRate) / config.learningRate, (lr * config.block15LearningRate) / config.learningRate);
      }
      tf.dispose([...inputs, ...(coarsest ? [coarsest] : [])]);
      tf.tidy(() => {
        for (const v of decayed) v.assign(tf.mul(v, 1 - lr * config.weightDecay));
      });
      tf.dispose([value, ...Object.values(grads)]);
      lossSum += loss;
      step++;
    }
    const entry: (typeof history)[number] = { epoch: epoch + 1, loss: lossSum / stepsPerEpoch, seconds: (Date.now() - epochStarted) / 1000 };
    if ((epoch + 1) % config.evalEvery === 0 || epoch + 1 === config.epochs) {
      validation = await validate(vars, stats, valPhotos, scoring);
      entry.pixelAccuracy = validation.pixelAccuracy;
      entry.meanIoU = validation.meanIoU;
    }
    history.push(entry);
    log(
      `epoch ${entry.epoch}/${config.epochs}: loss ${entry.loss.toFixed(4)} (${entry.seconds.toFixed(1)} s)` +
        (entry.meanIoU !== undefined ? `  val pixel acc ${entry.pixelAccuracy!.toFixed(4)}, mIoU ${entry.meanIoU.toFixed(4)}${validation?.merged ? ` (merged: ${validation.merged.pixelAccuracy.toFixed(4)}, ${validation.merged.meanIoU.toFixed(4)})` : ''}` : ''),
    );
  }

  const upperWeights = trunk?.weights ?? upper;
  const block15Weights = trunk?.block15Weights;
  await trunk?.close();
  const weights: DecoderWeights = {
    ...weightsOf(vars),
    ...(upperWeights ? { upperTrunk: { input: block15Weights ? block15InputNode() : upperTrunkInputNode(), weights: upperWeights, ...(block15Weights ? { block15: block15Weights } : {}) } } : {}),
  };
  disposeVars(vars);
  optimizer.dispose();
  classWeightT.dispose();
  const seconds = (Date.now() - started) / 1000;
  const manifest: SegmentManifest = {
    formatVersion: SEGMENT_FORMAT_VERSION,
    kind: 'segmentation',
    name: 'groknet-segment',
    // 0.2: block 16 + Conv_1 carried in the decoder graph (the artifact reads block 15); 0.3: block 15 too (it reads block 14).
    version: block15Weights ? '0.3.0' : upper ? '0.2.0' : '0.1.0',
    description: `Clothing segmentation: FPN-lite decoder over the frozen MobileNetV2-1.4 trunk${
      upper
        ? ` up to block ${block15Weights ? '14; block 15 fine-tuned with the decoder' : '15'}; block 16 + Conv_1 ${upperFrom ? `from ${upperFrom.source} (fine-tuned by the unified trainer)` : 'from the packaged backbone'}${fineTune ? ', fine-tuned again with the decoder' : ''}, carried in decoder.onnx`
        : ''
    }; trained on Clothing Co-Parsing masks`,
    backbone: {
      id: SEGMENT_BACKBONE_ID,
      tensors: backboneTensors({ backboneId: SEGMENT_BACKBONE_ID, ...(upper ? { upper } : {}) }, levelTaps).map((node, i) => (i === 0 && block15Weights ? block15InputNode() : node)),
    },
    input: { ...input, layout: 'NHWC' },
    decoderFile: 'decoder.onnx',
    output: DECODER_OUTPUT,
    grid,
    labels: map.labels,
    classLabels: map.classLabels,
    merged: config.merge,
    notGarments: [...NOT_GARMENTS],
    training: {
      dataset: 'clothing-parsing (masked photos)',
      split: `hash of the photo name, ${Math.round((1 - VAL_FRACTION) * 100)}/${Math.round(VAL_FRACTION * 100)}`,
      validatedOn: config.validateOn,
      trainImages: trainViews.length,
      valImages: valPhotos.length,
      config: { ...config, datasets: undefined, out: undefined, log: undefined, upperTrunkFrom: upperFrom?.source },
      history,
      seconds: Math.round(seconds),
    },
    evaluation: { validation: validation! },
  };
  await mkdir(config.out, { recursive: true });
  await writeAtomic(path.join(config.out, 'decoder.onnx'), buildDecoderGraph(weights).toModel());
  await writeFile(path.join(config.out, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, validation: validation!, seconds };
}
