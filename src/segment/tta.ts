// Test-time augmentation for the segmenter: the letterboxed input and its horizontal mirror
// run in one batch, the mirror's logits are brought back onto the original grid, and the
// two are averaged (as logits or as softmax probabilities).
//
// Where mirrored cells land: with TF 'SAME' stride-2 convolutions the centre of cell j sits
// at input coordinate c(j) = stride * j + offset (offset = stride - 0.5, see grid.ts), so the
// grid is not symmetric about the input's middle: on a 224-wide input the centres run from
// 7.5 to 223.5. Mirroring sends coordinate u to inputWidth - u, so original cell k is seen by
// the mirrored run at grid coordinate (inputWidth - c(k) - offset) / stride, which is
// width - 2 + 1/8 - k for stride 8 on an input of width * 8 (26.125 - k on the 28-wide grid):
// one input pixel off the nearest cell (26 - k), and the last column (k = width - 1, at
// -0.875) has no mirrored cell on its centre at all. `unmirrorLogits` resamples (linear in
// between cells, or the nearest cell) and marks the columns it cannot reach; those keep the
// unmirrored run's values alone.
import type { OutputGrid } from './grid.ts';

export const TTA_MODES = ['none', 'flip'] as const;
export type TtaMode = (typeof TTA_MODES)[number];
export const TTA_AVERAGES = ['logits', 'probs'] as const;
export type TtaAverage = (typeof TTA_AVERAGES)[number];
export const TTA_ALIGNS = ['interpolate', 'nearest'] as const;
export type TtaAlign = (typeof TTA_ALIGNS)[number];

/** A copy of one NHWC image ([height, width, channels]) mirrored left to right. */
export function mirrorNHWC(tensor: Float32Array, height: number, width: number, channels: number): Float32Array {
  if (tensor.length !== height * width * channels) throw new Error(`tensor holds ${tensor.length} values, not ${height}x${width}x${channels}`);
  const out = new Float32Array(tensor.length);
  const row = width * channels;
  for (let y = 0; y < height; y++) {
    const base = y * row;
    for (let x = 0; x < width; x++) {
      const from = base + x * channels;
      const to = base + (width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = tensor[from + c]!;
    }
  }
  return out;
}

/** For each original grid column, the mirrored run's grid coordinate that saw the same input point. */
export function mirroredColumns(grid: OutputGrid, inputWidth: number): Float64Array {
  const out = new Float64Array(grid.width);
  for (let k = 0; k < grid.width; k++) out[k] = (inputWidth - (grid.stride * k + grid.offset) - grid.offset) / grid.stride;
  return out;
}

/**
 * The mirrored run's logits ([grid.height, grid.width, classes]) on the original grid, and a
 * per-column flag: 1 where the mirrored run covers the column, 0 where the column lies
 * outside the mirrored grid (its values are then 0 and must not be used).
 */
export function unmirrorLogits(
  mirrored: Float32Array,
  grid: OutputGrid,
  inputWidth: number,
  classes: number,
  align: TtaAlign = 'interpolate',
): { logits: Float32Array; covered: Uint8Array } {
  const { width, height } = grid;
  if (mirrored.length !== width * height * classes) throw new Error(`logits hold ${mirrored.length} values, the grid wants ${height}x${width}x${classes}`);
  const source = mirroredColumns(grid, inputWidth);
  const covered = new Uint8Array(width);
  const j0 = new Int32Array(width);
  const j1 = new Int32Array(width);
  const w1 = new Float32Array(width);
  const eps = 1e-9;
  for (let k = 0; k < width; k++) {
    const g = source[k]!;
    if (align === 'nearest') {
      const j = Math.round(g);
      if (j < 0 || j > width - 1) continue;
      j0[k] = j;
      j1[k] = j;
    } else {
      if (g < -eps || g > width - 1 + eps) continue;
      const clamped = Math.min(width - 1, Math.max(0, g));
      j0[k] = Math.floor(clamped);
      j1[k] = Math.min(width - 1, j0[k]! + 1);
      w1[k] = clamped - j0[k]!;
    }
    covered[k] = 1;
  }
  const out = new Float32Array(mirrored.length);
  for (let y = 0; y < height; y++) {
    const rowBase = y * width * classes;
    for (let k = 0; k < width; k++) {
      if (!covered[k]) continue;
      const to = rowBase + k * classes;
      const a = rowBase + j0[k]! * classes;
      const b = rowBase + j1[k]! * classes;
      const wb = w1[k]!;
      for (let c = 0; c < classes; c++) out[to + c] = mirrored[a + c]! * (1 - wb) + mirrored[b + c]! * wb;
    }
  }
  return { logits: out, covered };
}

/** Softmax over the last axis, in place. */
export function softmaxRows(values: Float32Array, classes: number): Float32Array {
  for (let i = 0; i < values.length; i += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, values[i + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(values[i + c]! - max);
      values[i + c] = e;
      sum += e;
    }
    for (let c = 0; c < classes; c++) values[i + c]! /= sum;
  }
  return values;
}

/**
 * One image's scores on the grid from its run and its mirrored run: the average of the two
 * (logits, or softmax probabilities) where the mirror covers the column, the unmirrored
 * run's alone where it does not. The argmax of the result (after bilinear upsampling) is
 * the prediction either way.
 */
export function combineFlip(
  original: Float32Array,
  mirrored: Float32Array,
  grid: OutputGrid,
  inputWidth: number,
  classes: number,
  options: { average?: TtaAverage; align?: TtaAlign } = {},
): Float32Array {
  const average = options.average ?? 'logits';
  const { logits: back, covered } = unmirrorLogits(mirrored, grid, inputWidth, classes, options.align ?? 'interpolate');
  const a = Float32Array.from(original);
  if (average === 'probs') {
    softmaxRows(a, classes);
    softmaxRows(back, classes);
  }
  const out = new Float32Array(a.length);
  const row = grid.width * classes;
  for (let i = 0; i < a.length; i++) {
    const k = Math.floor((i % row) / classes);
    out[i] = covered[k] ? (a[i]! + back[i]!) / 2 : a[i]!;
  }
  return out;
}
