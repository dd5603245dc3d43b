// Trains the pixel-colour classifier of a colour head (src/model/heads/pixel-colour.ts) into a
// model directory that already holds the head: histogram features of every labelled photo
// (read from the model's own input tensor, as inference reads them), a linear softmax fitted
// on the training split, then on the held-out split the blend with the head's answers:
// blend weight and abstain threshold chosen on one half and scored on the other (both ways,
// the figures reported), then chosen on all of it for the file. Writes the file, then
// model.json (atomically, last) with the head's `pixels` entry and the evaluation.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { colourFeatureCount, COLOUR_BINS, pixelColourFeatures } from '../image/colour-features.ts';
import { loadForModel } from '../image/preprocess.ts';
import { tensorToRgb } from '../image/tensor.ts';
import { writeAtomic } from '../model/cache.ts';
import { loadModel } from '../model/load-model.ts';
import { rankLabels, TOP_LABELS } from '../model/heads/rank-labels.ts';
import { blendScores, encodeWeights, PIXEL_COLOUR_FORMAT_VERSION, PixelColour, type PixelColourFile } from '../model/heads/pixel-colour.ts';
import { parseManifest, readManifest, type ModelManifest } from '../model/manifest.ts';
import type { LabelScore } from '../model/types.ts';
import { rng } from '../util/random.ts';
import { silentProgress, type StartProgress } from '../util/progress.ts';
import type { LabelledDataset } from './datasets/types.ts';
import { calibrateAbstain } from './evaluate.ts';
import { evalMarkdown } from './export.ts';
import { readyTf } from './tf.ts';

/** Stride at which the 224 px input tensor is read: 112 x 112 pixels, about 1 ms a photo. */
const STRIDE = 2;
const EPOCHS = 60;
const BATCH = 64;
const LEARNING_RATE = 3e-3;
const BLEND_WEIGHTS = [0, 0.2, 0.35, 0.5, 0.65, 0.8, 1];
/** Precision the abstain threshold is calibrated for, as every head's. */
const ABSTAIN_PRECISION = 0.85;
export const PIXEL_COLOUR_FILE_SUFFIX = '-pixels.json';

export interface PixelColourOptions {
  modelDir: string;
  /** The head to blend with (a single-label head of the model whose labels the dataset's task has). */
  head: string;
  data: LabelledDataset;
  seed?: number;
  epochs?: number;
  /** The version model.json gets (a model whose colour answers change is a new version); unchanged without. */
  version?: string;
  startProgress?: StartProgress;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface PixelColourReport {
  head: string;
  trainImages: number;
  heldOutImages: number;
  unreadable: number;
  /** Held-out top-1 accuracy: the histogram classifier alone, the head alone, and the blend (weight chosen on the other half). */
  pixelAccuracy: number;
  headAccuracy: number;
  blendAccuracy: number;
  /** With the threshold calibrated on the other half: share of held-out photos answered, and precision there. */
  answered: number;
  precisionAnswered: number;
  blendWeight: number;
  abstainBelow: number;
  seconds: number;
}

export async function trainPixelColour(options: PixelColourOptions): Promise<{ manifest: ModelManifest; report: PixelColourReport }> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const manifestFile = path.join(options.modelDir, 'model.json');
  const manifest = await readManifest(manifestFile);
  const head = manifest.heads.find((h) => h.name === options.head);
  if (!head || head.kind !== 'single') throw new GroknetError('invalid_config', `the model in ${options.modelDir} has no single-label head '${options.head}' to blend colour histograms with`);
  const labels = options.data.tasks[options.head];
  if (!labels || labels.join('\n') !== head.labels.join('\n')) throw new GroknetError('invalid_config', `dataset '${options.data.name}' does not label head '${options.head}' with the model's labels`);

  const labelled = options.data.samples.filter((s) => s.single[options.head] !== undefined);
  const features: Array<Float32Array | undefined> = [];
  const progress = (options.startProgress ?? silentProgress)('colour histograms', labelled.length);
  try {
    for (const [i, sample] of labelled.entries()) {
      if (options.signal?.aborted) throw new GroknetError('interrupted', `after ${i} of ${labelled.length} colour histograms; nothing was written`);
      try {
        const input = await loadForModel(await readFile(sample.path), manifest.input);
        const { rgb, width, height } = tensorToRgb(input.tensor, manifest.input, STRIDE);
        features.push(pixelColourFeatures(rgb, width, height, COLOUR_BINS));
      } catch {
        features.push(undefined); // an unreadable photo is left out, and counted
      }
      progress.tick(i + 1);
    }
  } finally {
    progress.finish();
  }
  const usable = (split: 'train' | 'val') => labelled.flatMap((s, i) => (s.split === split && features[i] ? [i] : []));
  const trainIdx = usable('train');
  const valIdx = usable('val');
  if (trainIdx.length < 2 * labels.length || valIdx.length < Math.max(10, labels.length)) throw new GroknetError('invalid_config', `too few labelled photos for '${options.head}' (${trainIdx.length} training, ${valIdx.length} held out)`);
  const target = (i: number) => labelled[i]!.single[options.head]!;

  const { weights, bias } = await fitLinear(trainIdx.map((i) => features[i]!), trainIdx.map(target), labels.length, options.seed ?? 7, options.epochs ?? EPOCHS, options.signal);
  const file: PixelColourFile = {
    formatVersion: PIXEL_COLOUR_FORMAT_VERSION,
    head: options.head,
    labels,
    bins: COLOUR_BINS,
    stride: STRIDE,
    weights: encodeWeights(weights),
    bias: Array.from(bias),
    blendWeight: 0.5,
    abstainBelow: 0,
    trainedOn: options.data.name,
  };
  const classifier = PixelColour.fromFile(file);
  const pixelProbs = valIdx.map((i) => classifier.probabilities(features[i]!));

  // The head's own answers on the held-out photos, as the analyzer gives them (top labels).
  log(`colour histograms: fitted on ${trainIdx.length} photos; reading head '${options.head}' on ${valIdx.length} held-out photos`);
  const headTops = await headAnswers(options.modelDir, options.head, valIdx.map((i) => labelled[i]!.path));
  const truth = valIdx.map(target);
  const blended = (w: number, k: number) => blendScores(pixelProbs[k]!, headTops[k]!, labels, w);
  const argmax = (scores: ArrayLike<number>) => {
    let best = 0;
    for (let c = 1; c < scores.length; c++) if (scores[c]! > scores[best]!) best = c;
    return best;
  };
  const accuracyOf = (w: number, ks: number[]) => ks.filter((k) => argmax(blended(w, k)) === truth[k]).length / Math.max(ks.length, 1);
  const bestWeight = (ks: number[]) => BLEND_WEIGHTS.reduce((best, w) => (accuracyOf(w, ks) > accuracyOf(best, ks) ? w : best), 0.5);
  const thresholdFor = (w: number, ks: number[]) => {
    const probs = new Float32Array(ks.length * labels.length);
    ks.forEach((k, j) => probs.set(blended(w, k), j * labels.length));
    return calibrateAbstain(probs, labels.length, ks.map((k) => truth[k]!), ABSTAIN_PRECISION);
  };
  const all = valIdx.map((_, k) => k);
  const halves = [all.filter((k) => k % 2 === 0), all.filter((k) => k % 2 === 1)];
  let right = 0;
  let answered = 0;
  let answeredRight = 0;
  for (const [h, tune] of halves.entries()) {
    const w = bestWeight(tune);
    const threshold = thresholdFor(w, tune);
    for (const k of halves[1 - h]!) {
      const scores = blended(w, k);
      const top = argmax(scores);
      if (top === truth[k]) right++;
      if (scores[top]! >= threshold) {
        answered++;
        if (top === truth[k]) answeredRight++;
      }
    }
  }
  const blendWeight = bestWeight(all);
  const abstainBelow = Math.round(thresholdFor(blendWeight, all) * 1e4) / 1e4;
  const report: PixelColourReport = {
    head: options.head,
    trainImages: trainIdx.length,
    heldOutImages: valIdx.length,
    unreadable: features.filter((f) => !f).length,
    pixelAccuracy: round(all.filter((k) => argmax(pixelProbs[k]!) === truth[k]).length / all.length),
    headAccuracy: round(all.filter((k) => headTops[k]![0]?.label === labels[truth[k]!]).length / all.length),
    blendAccuracy: round(right / all.length),
    answered: round(answered / all.length),
    precisionAnswered: round(answeredRight / Math.max(answered, 1)),
    blendWeight,
    abstainBelow,
    seconds: Math.round((Date.now() - started) / 1000),
  };

  const name = `${options.head}${PIXEL_COLOUR_FILE_SUFFIX}`;
  const written: PixelColourFile = { ...file, blendWeight, abstainBelow };
  const updated = parseManifest({
    ...manifest,
    ...(options.version ? { version: options.version } : {}),
    heads: manifest.heads.map((h) => (h.name === options.head ? { ...h, pixels: { file: name } } : h)),
    training: { ...manifest.training, [`${options.head}_pixels`]: { images: report.trainImages, epochs: options.epochs ?? EPOCHS, seconds: report.seconds } },
    evaluation: {
      ...manifest.evaluation,
      [`${options.head}_with_pixels`]: {
        task: `head '${options.head}' blended with a linear classifier of the photo's colour histograms (${COLOUR_BINS} levels a channel), trained on ${report.trainImages} ${options.data.name} photos`,
        images: report.heldOutImages,
        pixel_classifier_accuracy: report.pixelAccuracy,
        head_accuracy: report.headAccuracy,
        blend_accuracy_other_half: report.blendAccuracy,
        answered_other_half: report.answered,
        precision_where_answered_other_half: report.precisionAnswered,
        blend_weight: blendWeight,
        abstain_below_for_precision_0_85: abstainBelow,
      },
    },
  });
  // The classifier first, model.json last: a crash between them leaves the model as it was.
  await writeAtomic(path.join(options.modelDir, name), `${JSON.stringify(written)}\n`);
  await writeAtomic(path.join(options.modelDir, 'EVAL.md'), evalMarkdown(updated));
  await writeAtomic(manifestFile, `${JSON.stringify(updated, null, 2)}\n`);
  log(`colour histograms: pixels ${report.pixelAccuracy}, head ${report.headAccuracy}, blend ${report.blendAccuracy} on ${report.heldOutImages} held-out photos (weight ${blendWeight}, abstain below ${abstainBelow})`);
  return { manifest: updated, report };
}

/** The head's top labels per photo, ranked and rounded as the analyzer does (rankLabels): what the blend sees at inference. */
async function headAnswers(modelDir: string, head: string, files: string[]): Promise<LabelScore[][]> {
  const model = await loadModel(modelDir);
  const { manifest, session } = model;
  const spec = manifest.heads.find((h) => h.name === head)!;
  const [h, w] = manifest.input.size;
  try {
    const tops: LabelScore[][] = [];
    for (let i = 0; i < files.length; i += 16) {
      const inputs = await Promise.all(files.slice(i, i + 16).map(async (f) => (await loadForModel(await readFile(f), manifest.input)).tensor));
      const batch = new Float32Array(inputs.length * inputs[0]!.length);
      inputs.forEach((t, j) => batch.set(t, j * t.length));
      const dims = manifest.input.layout === 'NHWC' ? [inputs.length, h, w, 3] : [inputs.length, 3, h, w];
      const out = (await session.run(session.inputNames[0]!, batch, dims, [spec.output]))[spec.output]!.data;
      const L = spec.labels.length;
      for (let j = 0; j < inputs.length; j++) {
        tops.push(rankLabels(out.subarray(j * L, (j + 1) * L), spec.labels, TOP_LABELS));
      }
    }
    return tops;
  } finally {
    await session.close();
  }
}

/** A linear softmax fitted with Adam on seeded mini-batches. */
async function fitLinear(x: Float32Array[], y: number[], classes: number, seed: number, epochs: number, signal?: AbortSignal): Promise<{ weights: Float32Array; bias: Float32Array }> {
  const tf = await readyTf();
  const dim = colourFeatureCount(COLOUR_BINS);
  const random = rng(seed);
  const data = new Float32Array(x.length * dim);
  x.forEach((row, i) => data.set(row, i * dim));
  const xs = tf.tensor2d(data, [x.length, dim]);
  const ys = tf.oneHot(tf.tensor1d(y, 'int32'), classes);
  const W = tf.variable(tf.randomNormal([dim, classes], 0, 0.01, 'float32', seed));
  const b = tf.variable(tf.zeros([classes]));
  const optimizer = tf.train.adam(LEARNING_RATE);
  try {
    const order = Array.from(x, (_, i) => i);
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (signal?.aborted) throw new GroknetError('interrupted', `colour histograms: in epoch ${epoch + 1} of ${epochs}; nothing was written`);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let start = 0; start < order.length; start += BATCH) {
        tf.tidy(() => {
          const idx = tf.tensor1d(order.slice(start, start + BATCH), 'int32');
          const bx = tf.gather(xs, idx);
          const by = tf.gather(ys, idx);
          optimizer.minimize(() => tf.losses.softmaxCrossEntropy(by, tf.add(tf.matMul(bx, W), b)) as import('@tensorflow/tfjs').Scalar);
        });
      }
      await new Promise((resolve) => setImmediate(resolve)); // let a stop signal arrive
    }
    return { weights: new Float32Array(await W.data()), bias: new Float32Array(await b.data()) };
  } finally {
    tf.dispose([xs, ys, W, b]);
    optimizer.dispose();
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
