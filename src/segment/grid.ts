// Where the decoder's output cells sit in the photo. The decoder predicts on a coarse grid
// over the model input (1/8 of it); training targets are made by pooling mask pixels into
// the cells, and predictions are brought back by interpolating between cell centres, both
// through the preprocessing geometry (letterbox, centre crop or stretch) so that every
// original pixel lands where the model saw it.
import type { Geometry } from '../image/geometry.ts';

export interface OutputGrid {
  height: number;
  width: number;
  /** Input pixels per cell. */
  stride: number;
  /**
   * Input coordinate (pixel edges at integers) of cell 0's centre. TF 'SAME' convolutions
   * with stride 2 on even sizes pad only after, so each halving moves the receptive centre
   * half a cell forward: after halvings to `stride` the centre of cell j is at
   * stride * j + stride - 0.5, not at the "half pixel" stride * (j + 0.5).
   */
  offset: number;
}

/** The grid of a TF-'SAME' trunk's map at `stride` for an input of [height, width]. */
export function sameConvGrid(inputSize: readonly [number, number], stride: number): OutputGrid {
  return { height: Math.ceil(inputSize[0] / stride), width: Math.ceil(inputSize[1] / stride), stride, offset: stride - 0.5 };
}

/** For each original column (or row), its coordinate on the grid axis (clamped to the cells). */
function gridCoordinates(count: number, scale: number, shift: number, grid: OutputGrid, cells: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const input = (i + 0.5) * scale + shift;
    out[i] = Math.min(cells - 1, Math.max(0, (input - grid.offset) / grid.stride));
  }
  return out;
}

/**
 * Soft targets: for each cell, the share of each class among the original pixels that fall
 * into it (nearest cell centre), and 1 where the cell saw any pixel, 0 where it holds only
 * padding (ignored by the loss). Labels with class -1 are ignored too.
 */
export function cellTargets(
  mask: Uint8Array,
  geometry: Geometry,
  grid: OutputGrid,
  classOfLabel: Int32Array,
  classes: number,
): { targets: Float32Array; valid: Uint8Array } {
  const { width, height } = geometry.original;
  if (mask.length !== width * height) throw new Error(`mask has ${mask.length} values for ${width}x${height}`);
  const cells = grid.width * grid.height;
  const counts = new Float32Array(cells * classes);
  const cellOf = (input: number): number => Math.floor((input - grid.offset) / grid.stride + 0.5);
  const column = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    const u = (x + 0.5) * geometry.scaleX + geometry.offsetX;
    // Pixels outside the model input (cropped away) have no cell.
    column[x] = u < 0 || u >= geometry.input.width ? -1 : Math.min(grid.width - 1, Math.max(0, cellOf(u)));
  }
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) * geometry.scaleY + geometry.offsetY;
    if (v < 0 || v >= geometry.input.height) continue;
    const row = Math.min(grid.height - 1, Math.max(0, cellOf(v)));
    for (let x = 0; x < width; x++) {
      const col = column[x]!;
      if (col < 0) continue;
      const c = classOfLabel[mask[y * width + x]!] ?? -1;
      if (c >= 0) counts[(row * grid.width + col) * classes + c]! += 1;
    }
  }
  const valid = new Uint8Array(cells);
  for (let cell = 0; cell < cells; cell++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += counts[cell * classes + c]!;
    if (sum === 0) continue;
    valid[cell] = 1;
    for (let c = 0; c < classes; c++) counts[cell * classes + c]! /= sum;
  }
  return { targets: counts, valid };
}

/**
 * The label map of the original photo from one image's logits ([grid.height, grid.width,
 * classes], NHWC): logits interpolated bilinearly between cell centres at each original
 * pixel, then argmax, written as the label index of the winning class.
 */
export function labelMapFromLogits(logits: Float32Array, grid: OutputGrid, geometry: Geometry, classLabels: ArrayLike<number>): Uint8Array {
  const classes = classLabels.length;
  if (logits.length !== grid.height * grid.width * classes) {
    throw new Error(`logits hold ${logits.length} values, the grid wants ${grid.height}x${grid.width}x${classes}`);
  }
  const { width, height } = geometry.original;
  const gx = gridCoordinates(width, geometry.scaleX, geometry.offsetX, grid, grid.width);
  const gy = gridCoordinates(height, geometry.scaleY, geometry.offsetY, grid, grid.height);
  const out = new Uint8Array(width * height);
  // One row of logits interpolated vertically, reused across the row's pixels.
  const rowLogits = new Float32Array(grid.width * classes);
  let cachedRow = -1;
  for (let y = 0; y < height; y++) {
    if (gy[y] !== cachedRow) {
      cachedRow = gy[y]!;
      const y0 = Math.floor(cachedRow);
      const y1 = Math.min(grid.height - 1, y0 + 1);
      const wy = cachedRow - y0;
      const a = y0 * grid.width * classes;
      const b = y1 * grid.width * classes;
      for (let i = 0; i < rowLogits.length; i++) rowLogits[i] = logits[a + i]! * (1 - wy) + logits[b + i]! * wy;
    }
    for (let x = 0; x < width; x++) {
      const g = gx[x]!;
      const x0 = Math.floor(g);
      const x1 = Math.min(grid.width - 1, x0 + 1);
      const wx = g - x0;
      const a = x0 * classes;
      const b = x1 * classes;
      let best = 0;
      let bestValue = -Infinity;
      for (let c = 0; c < classes; c++) {
        const value = rowLogits[a + c]! * (1 - wx) + rowLogits[b + c]! * wx;
        if (value > bestValue) {
          bestValue = value;
          best = c;
        }
      }
      out[y * width + x] = classLabels[best]!;
    }
  }
  return out;
}
