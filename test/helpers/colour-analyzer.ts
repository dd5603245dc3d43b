// A small but real Analyzer for tests: deterministic features computed with sharp.
// Embedding = colour histogram (4x4x4 bins) + coarse 4x4 thumbnail, centred, projected to
// `embeddingDim` with a fixed pseudo-random matrix and L2-normalised. Identical bytes give
// identical embeddings, similar pictures give close ones, different colours far ones.

import { rng } from '../../src/util/random.ts';
import sharp from 'sharp';
import { GroknetError } from '../../src/errors.ts';
import type { Analysis, Analyzer, HeadResult, LabelScore } from '../../src/model/types.ts';

export const BASIC_COLOURS: Record<string, [number, number, number]> = {
  red: [220, 30, 30],
  orange: [245, 140, 20],
  yellow: [245, 220, 20],
  green: [40, 170, 60],
  blue: [30, 70, 220],
  purple: [130, 50, 170],
  pink: [245, 150, 190],
  brown: [120, 75, 40],
  black: [15, 15, 15],
  white: [245, 245, 245],
  grey: [128, 128, 128],
};

export interface ColourAnalyzerOptions {
  embeddingDim?: number;
  modelVersion?: string;
  exactMatchThreshold?: number;
  /** Extra heads computed from the image bytes (e.g. a `category` head looked up by file). */
  extraHeads?: (bytes: Buffer) => Record<string, HeadResult>;
  /** Artificial latency per analyzeBuffers call, to widen windows in crash tests. */
  delayMs?: number;
}

const HIST_BINS = 4 * 4 * 4;
const THUMB = 4 * 4 * 3;
const FEATURES = HIST_BINS + THUMB;

const prng = rng;

function projection(dim: number): Float32Array {
  const random = prng(0x9e3779b9 ^ dim);
  const matrix = new Float32Array(dim * FEATURES);
  for (let i = 0; i < matrix.length; i++) {
    // Box-Muller: Gaussian entries keep cosine similarities (Johnson-Lindenstrauss).
    const u = Math.max(random(), 1e-12);
    matrix[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return matrix;
}

function l2normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum) || 1;
  return v.map((x) => x / norm);
}

function colourHead(mean: [number, number, number]): HeadResult {
  const distances = Object.entries(BASIC_COLOURS).map(([label, rgb]) => ({
    label,
    d: Math.hypot(rgb[0] - mean[0], rgb[1] - mean[1], rgb[2] - mean[2]),
  }));
  // Softmax over negative distance: a confident score when one colour is clearly nearest.
  const weights = distances.map(({ label, d }) => ({ label, w: Math.exp(-d / 25) }));
  const total = weights.reduce((s, x) => s + x.w, 0) || 1;
  const top: LabelScore[] = weights
    .map(({ label, w }) => ({ label, score: Math.round((w / total) * 1000) / 1000 }))
    .sort((a, b) => b.score - a.score)
    .slice(0, 3);
  return { kind: 'single', top };
}

export function codeFromEmbedding(embedding: Float32Array): string {
  const bias = 1 / Math.sqrt(embedding.length);
  let hex = '';
  for (let byte = 0; byte < embedding.length / 8; byte++) {
    let value = 0;
    for (let bit = 0; bit < 8; bit++) if (embedding[byte * 8 + bit]! - bias > 0) value |= 1 << (7 - bit);
    hex += value.toString(16).padStart(2, '0');
  }
  return hex;
}

export function createColourAnalyzer(options: ColourAnalyzerOptions = {}): Analyzer & { calls: number } {
  const embeddingDim = options.embeddingDim ?? 64;
  if (embeddingDim % 8 !== 0) throw new GroknetError('invalid_argument', 'embeddingDim must be a multiple of 8');
  const matrix = projection(embeddingDim);
  const modelVersion = options.modelVersion ?? 'colour-histogram@1';

  async function analyzeOne(bytes: Buffer): Promise<Analysis | GroknetError> {
    if (bytes.length === 0) return new GroknetError('empty_file');
    let pixels: Buffer;
    try {
      pixels = await sharp(bytes).resize(16, 16, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    } catch (error) {
      return new GroknetError('not_an_image', (error as Error).message);
    }
    const features = new Float32Array(FEATURES);
    const mean: [number, number, number] = [0, 0, 0];
    const count = pixels.length / 3;
    for (let p = 0; p < count; p++) {
      const r = pixels[p * 3]!, g = pixels[p * 3 + 1]!, b = pixels[p * 3 + 2]!;
      features[(r >> 6) * 16 + (g >> 6) * 4 + (b >> 6)]! += 1 / count;
      mean[0] += r / count;
      mean[1] += g / count;
      mean[2] += b / count;
      // 16x16 -> 4x4 thumbnail cell, per channel, centred on grey so it carries sign.
      const x = (p % 16) >> 2, y = Math.floor(p / 16) >> 2;
      const cell = HIST_BINS + (y * 4 + x) * 3;
      features[cell]! += (r / 255 - 0.5) / 16;
      features[cell + 1]! += (g / 255 - 0.5) / 16;
      features[cell + 2]! += (b / 255 - 0.5) / 16;
    }
    // sqrt of the histogram (Hellinger) keeps one dominant bin from swamping everything.
    for (let i = 0; i < HIST_BINS; i++) features[i] = Math.sqrt(features[i]!) - 1 / 8;
    const projected = new Float32Array(embeddingDim);
    for (let d = 0; d < embeddingDim; d++) {
      let sum = 0;
      for (let f = 0; f < FEATURES; f++) sum += matrix[d * FEATURES + f]! * features[f]!;
      projected[d] = sum;
    }
    const embedding = l2normalise(projected);
    const heads: Record<string, HeadResult> = { colour: colourHead(mean), ...options.extraHeads?.(bytes) };
    return { heads, embedding, code: codeFromEmbedding(embedding), modelVersion };
  }

  const analyzer = {
    modelVersion,
    exactMatchThreshold: options.exactMatchThreshold ?? 0.98,
    embeddingDim,
    calls: 0,
    async analyzeBuffers(images: readonly Buffer[]): Promise<Array<Analysis | GroknetError>> {
      analyzer.calls++;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      return Promise.all(images.map(analyzeOne));
    },
    async close(): Promise<void> {},
  };
  return analyzer;
}
