// Targets pooled into the decoder's grid and logits brought back to the photo, through
// each preprocessing geometry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeGeometry, type Geometry } from '../../src/image/geometry.ts';
import { cellTargets, labelMapFromLogits, sameConvGrid, type OutputGrid } from '../../src/segment/grid.ts';

test('a TF-SAME grid puts cell j at stride * j + stride - 0.5; pixels take the nearest cell centre', () => {
  const grid = sameConvGrid([32, 32], 8);
  assert.deepEqual(grid, { height: 4, width: 4, stride: 8, offset: 7.5 });
  const geometry = computeGeometry({ width: 32, height: 32 }, { width: 32, height: 32 }, 'stretch');
  // Class c wins in grid column c (labels 10 + c).
  const classes = 4;
  const logits = new Float32Array(4 * 4 * classes);
  for (let row = 0; row < 4; row++) for (let col = 0; col < 4; col++) logits[(row * 4 + col) * classes + col] = 10;
  const map = labelMapFromLogits(logits, grid, geometry, [10, 11, 12, 13]);
  const firstRow = Array.from(map.subarray(0, 32));
  // Centres at x = 7.5, 15.5, 23.5, 31.5: the boundaries fall half way between them.
  assert.deepEqual(firstRow, [...Array(12).fill(10), ...Array(8).fill(11), ...Array(8).fill(12), ...Array(4).fill(13)]);
  // Every row alike: the logits do not vary vertically.
  for (let y = 1; y < 32; y++) assert.deepEqual(Array.from(map.subarray(y * 32, y * 32 + 32)), firstRow);
});

/** A mask with three regions in original pixels: background, a box, and a bottom band. */
function syntheticMask(width: number, height: number): Uint8Array {
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y > height * 0.7) mask[y * width + x] = 5;
      else if (x > width * 0.25 && x < width * 0.75 && y > height * 0.2) mask[y * width + x] = 3;
    }
  }
  return mask;
}

const LABEL_CLASS = Int32Array.from({ length: 8 }, (_, l) => (l === 0 ? 0 : l === 3 ? 1 : l === 5 ? 2 : -1));
const CLASS_LABELS = [0, 3, 5];

function roundTrip(original: { width: number; height: number }, mode: Geometry['mode'], grid: OutputGrid): { agreement: number; valid: Uint8Array; geometry: Geometry } {
  const geometry = computeGeometry(original, { width: 224, height: 352 }, mode);
  const mask = syntheticMask(original.width, original.height);
  const { targets, valid } = cellTargets(mask, geometry, grid, LABEL_CLASS, 3);
  // A decoder that predicts its targets exactly: logits = log(share).
  const logits = Float32Array.from(targets, (t) => Math.log(t + 1e-4));
  const predicted = labelMapFromLogits(logits, grid, geometry, CLASS_LABELS);
  assert.equal(predicted.length, mask.length);
  let same = 0;
  for (let i = 0; i < mask.length; i++) if (predicted[i] === mask[i]) same++;
  return { agreement: same / mask.length, valid, geometry };
}

test('letterbox: targets and upsampling agree with the mask; padding cells are ignored', () => {
  const grid = sameConvGrid([352, 224], 8);
  // A wide photo: letterboxed into the tall input with large bands of padding.
  const wide = roundTrip({ width: 400, height: 200 }, 'letterbox', grid);
  assert.ok(wide.agreement > 0.97, `agreement ${wide.agreement}`);
  const rowsWithPixels = new Set<number>();
  for (let cell = 0; cell < wide.valid.length; cell++) if (wide.valid[cell]) rowsWithPixels.add(Math.floor(cell / grid.width));
  const content = wide.geometry.content;
  const expectedRows = Math.round(content.height / 8);
  assert.ok(Math.abs(rowsWithPixels.size - expectedRows) <= 1, `${rowsWithPixels.size} rows hold pixels, the content spans ${expectedRows}`);
  assert.ok(!rowsWithPixels.has(0) && !rowsWithPixels.has(grid.height - 1), 'the padding bands are ignored');
  // A portrait like the dataset's: almost no padding.
  const tall = roundTrip({ width: 320, height: 484 }, 'letterbox', grid);
  assert.ok(tall.agreement > 0.97, `agreement ${tall.agreement}`);
});

test('centre crop and stretch: pixels cropped away take the nearest edge column, the rest agree', () => {
  const grid = sameConvGrid([352, 224], 8);
  const original = { width: 500, height: 300 };
  const crop = roundTrip(original, 'center-crop', grid);
  assert.ok(crop.valid.every((v) => v === 1), 'a crop has no padding');
  const g = crop.geometry;
  const visible = (x: number): boolean => {
    const u = (x + 0.5) * g.scaleX + g.offsetX;
    return u >= 0 && u < g.input.width;
  };
  const mask = syntheticMask(original.width, original.height);
  const predicted = labelMapFromLogits(
    Float32Array.from(cellTargets(mask, g, grid, LABEL_CLASS, 3).targets, (t) => Math.log(t + 1e-4)),
    grid,
    g,
    CLASS_LABELS,
  );
  let seen = 0;
  let same = 0;
  const firstVisible = Array.from({ length: original.width }, (_, x) => x).find(visible)!;
  const lastVisible = original.width - 1 - Array.from({ length: original.width }, (_, x) => original.width - 1 - x).findIndex(visible);
  for (let y = 0; y < original.height; y++) {
    for (let x = 0; x < original.width; x++) {
      const i = y * original.width + x;
      if (visible(x)) {
        seen++;
        if (predicted[i] === mask[i]) same++;
      } else {
        const edge = x < firstVisible ? firstVisible : lastVisible;
        assert.equal(predicted[i], predicted[y * original.width + edge], `cropped pixel ${x},${y} extends the edge`);
      }
    }
  }
  assert.ok(firstVisible > 100 && lastVisible < 400, 'the crop cuts off the sides');
  assert.ok(same / seen > 0.97, `agreement ${same / seen} on the visible part`);
  const stretch = roundTrip({ width: 90, height: 60 }, 'stretch', grid);
  assert.ok(stretch.agreement > 0.97, `agreement ${stretch.agreement}`);
});

test('soft targets hold the share of each class per cell', () => {
  // Half-pixel centres (offset stride / 2): cell 0 is x 0-7, cell 1 x 8-15.
  const grid: OutputGrid = { height: 1, width: 2, stride: 8, offset: 4 };
  const geometry = computeGeometry({ width: 16, height: 8 }, { width: 16, height: 8 }, 'stretch');
  // Left cell: 3/4 label 3, 1/4 background; right cell: all label 5.
  const mask = new Uint8Array(16 * 8);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) mask[y * 16 + x] = x >= 8 ? 5 : y < 6 ? 3 : 0;
  const { targets, valid } = cellTargets(mask, geometry, grid, LABEL_CLASS, 3);
  assert.deepEqual(Array.from(valid), [1, 1]);
  assert.deepEqual(Array.from(targets), [0.25, 0.75, 0, 0, 0, 1]);
});
