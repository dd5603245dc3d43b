// Test-time mirroring: where the mirrored run's cells land on the original grid (TF 'SAME'
// stride-2 convolutions put cell j's centre at input coordinate 8j + 7.5, so the grid is not
// symmetric about the input's middle), and how the two runs are averaged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameConvGrid } from '../../src/segment/grid.ts';
import { combineFlip, mirroredColumns, mirrorNHWC, softmaxRows, unmirrorLogits } from '../../src/segment/tta.ts';

const INPUT: [number, number] = [352, 224];
const GRID = sameConvGrid(INPUT, 8);

test('mirrorNHWC mirrors each row, keeps channels together, and is its own inverse', () => {
  const [h, w, c] = [2, 3, 2];
  const t = Float32Array.from({ length: h * w * c }, (_, i) => i);
  const m = mirrorNHWC(t, h, w, c);
  assert.deepEqual(Array.from(m), [4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7]);
  assert.deepEqual(Array.from(mirrorNHWC(m, h, w, c)), Array.from(t));
  assert.throws(() => mirrorNHWC(t, 2, 2, 2));
});

test('mirrored cell centres: original column k is the mirrored run at width - 2 + 1/8 - k, not width - 1 - k', () => {
  assert.deepEqual({ height: GRID.height, width: GRID.width, offset: GRID.offset }, { height: 44, width: 28, offset: 7.5 });
  const cols = mirroredColumns(GRID, INPUT[1]);
  for (let k = 0; k < 28; k++) assert.equal(cols[k], 26.125 - k);
  // A 44-wide grid (a 352-wide input): 42.125 - k.
  const wide = mirroredColumns(sameConvGrid([224, 352], 8), 352);
  for (let k = 0; k < 44; k++) assert.equal(wide[k], 42.125 - k);
  // Only the last column has no mirrored cell around its centre (at -0.875).
  assert.deepEqual(Array.from(unmirrorLogits(new Float32Array(44 * 28), GRID, 224, 1).covered), [...Array(27).fill(1), 0]);
  assert.deepEqual(Array.from(unmirrorLogits(new Float32Array(44 * 28), GRID, 224, 1, 'nearest').covered), [...Array(27).fill(1), 0]);
});

/**
 * A toy TF-SAME model: each cell's logits read the input around its receptive centre (the
 * pixel 8j + 7, whose centre is 8j + 7.5), with symmetric weights, zero outside the image.
 * Class 0 sees channel 0, class 1 channel 1, class 2 their difference.
 */
function toyLogits(input: Float32Array, height: number, width: number): Float32Array {
  const classes = 3;
  const out = new Float32Array(GRID.height * GRID.width * classes);
  const weights = [1, 2, 3, 2, 1];
  for (let gy = 0; gy < GRID.height; gy++) {
    for (let gx = 0; gx < GRID.width; gx++) {
      const cy = 8 * gy + 7;
      const cx = 8 * gx + 7;
      const sum = [0, 0];
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const y = cy + dy;
          const x = cx + dx;
          if (y < 0 || y >= height || x < 0 || x >= width) continue;
          const wgt = weights[dy + 2]! * weights[dx + 2]!;
          for (let ch = 0; ch < 2; ch++) sum[ch]! += wgt * input[(y * width + x) * 3 + ch]!;
        }
      }
      const at = (gy * GRID.width + gx) * classes;
      out[at] = sum[0]! / 81;
      out[at + 1] = sum[1]! / 81;
      out[at + 2] = (sum[0]! - sum[1]!) / 81;
    }
  }
  return out;
}

/** An input whose channels are linear in x (and vary with y): the toy logits are then linear across cells. */
function rampInput(): Float32Array {
  const [h, w] = INPUT;
  const t = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      t[(y * w + x) * 3] = 0.01 * (x + 0.5) + 0.001 * y;
      t[(y * w + x) * 3 + 1] = 1 - 0.004 * (x + 0.5);
      t[(y * w + x) * 3 + 2] = 0.5;
    }
  }
  return t;
}

function maxDiff(a: Float32Array, b: Float32Array, columns: (k: number) => boolean, classes = 3): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) if (columns(Math.floor(i / classes) % GRID.width)) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test("a mirrored input's logits mirrored back equal the original's (toy TF-SAME model); the naive whole-grid flip does not", () => {
  const [h, w] = INPUT;
  const x = rampInput();
  const original = toyLogits(x, h, w);
  const mirrored = toyLogits(mirrorNHWC(x, h, w, 3), h, w);
  const { logits: back, covered } = unmirrorLogits(mirrored, GRID, w, 3);
  // Columns 1..26: receptive fields inside the image in both runs; exact up to float rounding.
  const interior = (k: number): boolean => k >= 1 && k <= 26;
  assert.ok(maxDiff(original, back, interior) < 1e-5, `interpolated: ${maxDiff(original, back, interior)}`);
  assert.equal(covered[27], 0);
  // The nearest cell (26 - k) is one input pixel off; the naive flip (27 - k) seven pixels.
  const nearest = unmirrorLogits(mirrored, GRID, w, 3, 'nearest').logits;
  const naive = new Float32Array(mirrored.length);
  for (let y = 0; y < GRID.height; y++) {
    for (let k = 0; k < GRID.width; k++) for (let c = 0; c < 3; c++) naive[(y * GRID.width + k) * 3 + c] = mirrored[(y * GRID.width + (GRID.width - 1 - k)) * 3 + c]!;
  }
  const eNearest = maxDiff(original, nearest, interior);
  const eNaive = maxDiff(original, naive, interior);
  // Class 2 (channel difference) has slope 0.014 per input pixel, weights summing to 1.
  assert.ok(Math.abs(eNearest - 0.014) < 1e-4, `nearest: ${eNearest}`);
  assert.ok(Math.abs(eNaive - 7 * 0.014) < 1e-4, `naive: ${eNaive}`);

  // A symmetric input gives the same logits in both runs; mirrored back they equal the original's.
  // (Symmetric and linear across the cells: constant along x, varying with y and channel.)
  const sym = new Float32Array(x.length);
  for (let i = 0; i < sym.length; i++) sym[i] = 0.3 + 0.002 * Math.floor(i / (w * 3)) + 0.1 * (i % 3);
  const symLogits = toyLogits(sym, h, w);
  assert.deepEqual(Array.from(toyLogits(mirrorNHWC(sym, h, w, 3), h, w)), Array.from(symLogits));
  assert.ok(maxDiff(symLogits, unmirrorLogits(symLogits, GRID, w, 3).logits, interior) < 1e-6, 'symmetric input');
});

test('combineFlip: averages where the mirror covers the column, keeps the original on the uncovered edge column', () => {
  const [h, w] = INPUT;
  const x = rampInput();
  const original = toyLogits(x, h, w);
  const mirrored = toyLogits(mirrorNHWC(x, h, w, 3), h, w);
  // The toy model is exactly mirror-equivariant inside: the average is the original there.
  const avg = combineFlip(original, mirrored, GRID, w, 3);
  assert.ok(maxDiff(original, avg, (k) => k >= 1 && k <= 26) < 1e-5, 'logits average');
  // Edge column 27: the original's values alone.
  assert.equal(maxDiff(original, avg, (k) => k === 27), 0);
  // Averaging probabilities returns probabilities, equal to the original's softmax inside.
  const probs = combineFlip(original, mirrored, GRID, w, 3, { average: 'probs' });
  const soft = softmaxRows(Float32Array.from(original), 3);
  assert.ok(maxDiff(soft, probs, (k) => k >= 1) < 1e-5, 'probs average');
  for (let i = 0; i < probs.length; i += 3) assert.ok(Math.abs(probs[i]! + probs[i + 1]! + probs[i + 2]! - 1) < 1e-5, `probabilities at ${i}`);

  // Where the runs disagree, the average is half way (logits) on covered columns.
  const zeros = new Float32Array(original.length);
  const ones = new Float32Array(original.length).fill(1);
  const half = combineFlip(zeros, ones, GRID, w, 3);
  for (let i = 0; i < half.length; i++) assert.equal(half[i], Math.floor(i / 3) % GRID.width === 27 ? 0 : 0.5);
  assert.throws(() => combineFlip(zeros, new Float32Array(5), GRID, w, 3));
});
