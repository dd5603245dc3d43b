// The pixel-colour classifier: a linear softmax over the photo's colour histograms
// (src/image/colour-features.ts), trained from the same labels as the `colour` head
// (src/train/pixel-colour.ts) and blended with it. The colour head reads the trunk's pooled
// features, made for telling products apart, and scores 0.529 on held-out catalogue shots;
// the histograms alone score 0.65 (bench/colour-pixels-probe.ts). It is a few thousand numbers
// in JSON beside model.json, run in JS on the model's own input tensor (no second decode).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { GroknetError, zodIssuesText } from '../../errors.ts';
import { colourFeatureCount, pixelColourFeatures } from '../../image/colour-features.ts';
import type { PreprocessSpec } from '../../image/spec.ts';
import { tensorToRgb } from '../../image/tensor.ts';
import type { HeadResult, LabelScore } from '../types.ts';
import { rankLabels, TOP_LABELS } from './rank-labels.ts';

export const PIXEL_COLOUR_FORMAT_VERSION = 1;
/** Score given to a label the learned head did not rank in its top list. */
const UNRANKED_SCORE = 1e-4;

export const pixelColourSchema = z.strictObject({
  formatVersion: z.literal(PIXEL_COLOUR_FORMAT_VERSION),
  /** The head it is blended with; its labels, in the same order. */
  head: z.string().min(1),
  labels: z.array(z.string().min(1)).min(2),
  /** Histogram levels per RGB channel, and the stride at which the input tensor's pixels are read. */
  bins: z.number().int().min(2).max(16),
  stride: z.number().int().min(1).max(8),
  /** float32 little-endian, base64: features x labels, row-major. */
  weights: z.string().min(1),
  bias: z.array(z.number()),
  /** Weight of the histogram classifier's log-probabilities against the head's (1 - it). */
  blendWeight: z.number().min(0).max(1),
  /** Below this top blended score the colour abstains. */
  abstainBelow: z.number().min(0).max(1),
  trainedOn: z.string().optional(),
});

export type PixelColourFile = z.infer<typeof pixelColourSchema>;

export class PixelColour {
  private constructor(
    readonly file: PixelColourFile,
    private readonly weights: Float32Array,
  ) {}

  /** Validates a parsed file: every label, weight and bias in place. */
  static fromFile(value: unknown, where = 'pixel colour file'): PixelColour {
    const parsed = pixelColourSchema.safeParse(value);
    if (!parsed.success) throw new GroknetError('model_invalid', `${where}: ${zodIssuesText(parsed.error)}`);
    const file = parsed.data;
    const bytes = Buffer.from(file.weights, 'base64');
    const expected = colourFeatureCount(file.bins) * file.labels.length;
    if (bytes.length !== expected * 4) throw new GroknetError('model_invalid', `${where}: ${bytes.length / 4} weights, ${expected} expected (${colourFeatureCount(file.bins)} features x ${file.labels.length} labels)`);
    if (file.bias.length !== file.labels.length) throw new GroknetError('model_invalid', `${where}: ${file.bias.length} biases for ${file.labels.length} labels`);
    const weights = new Float32Array(expected);
    for (let i = 0; i < expected; i++) weights[i] = bytes.readFloatLE(i * 4);
    return new PixelColour(file, weights);
  }

  static async load(modelDir: string, name: string, headLabels: readonly string[]): Promise<PixelColour> {
    const file = path.resolve(modelDir, name);
    if (!file.startsWith(path.resolve(modelDir) + path.sep)) throw new GroknetError('model_invalid', `${name} points outside the model directory`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new GroknetError('model_not_found', `${name} is missing from the model directory`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new GroknetError('model_invalid', `${name} is not valid JSON`);
    }
    const model = PixelColour.fromFile(json, name);
    if (model.file.labels.join('\n') !== headLabels.join('\n')) throw new GroknetError('model_invalid', `${name}: its labels differ from head '${model.file.head}'`);
    return model;
  }

  /** Label probabilities from histogram features. */
  probabilities(features: Float32Array): Float32Array {
    const L = this.file.labels.length;
    const logits = Float32Array.from(this.file.bias);
    for (let f = 0; f < features.length; f++) {
      const x = features[f]!;
      if (x === 0) continue;
      const row = f * L;
      for (let c = 0; c < L; c++) logits[c]! += x * this.weights[row + c]!;
    }
    return softmax(logits);
  }

  /** Features of the model's input tensor, as the classifier was trained on them. */
  features(tensor: Float32Array, spec: PreprocessSpec): Float32Array {
    const { rgb, width, height } = tensorToRgb(tensor, spec, this.file.stride);
    return pixelColourFeatures(rgb, width, height, this.file.bins);
  }

  /** The colour answer: histogram and head blended (log-linear), top labels and abstention. */
  blend(pixelProbs: Float32Array, headTop: readonly LabelScore[], topK = TOP_LABELS): HeadResult {
    const blended = blendScores(pixelProbs, headTop, this.file.labels, this.file.blendWeight);
    const top = rankLabels(blended, this.file.labels, topK);
    return { kind: 'single', top, abstain: (top[0]?.score ?? 0) < this.file.abstainBelow, source: 'model' };
  }
}

/** exp(w log p + (1 - w) log q), renormalised; q is the head's top list, other labels UNRANKED_SCORE. */
export function blendScores(pixelProbs: ArrayLike<number>, headTop: readonly LabelScore[], labels: readonly string[], weight: number): Float32Array {
  const head = new Map(headTop.map((t) => [t.label, t.score]));
  const logits = Float32Array.from(labels, (label, i) => weight * Math.log(pixelProbs[i]! + 1e-6) + (1 - weight) * Math.log(Math.max(head.get(label) ?? UNRANKED_SCORE, UNRANKED_SCORE)));
  return softmax(logits);
}

function softmax(logits: Float32Array): Float32Array {
  const max = Math.max(...logits);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += logits[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < logits.length; i++) logits[i]! /= sum;
  return logits;
}

/** float32 little-endian base64, as the file stores weights. */
export function encodeWeights(weights: Float32Array): string {
  const bytes = Buffer.alloc(weights.length * 4);
  weights.forEach((w, i) => bytes.writeFloatLE(w, i * 4));
  return bytes.toString('base64');
}
