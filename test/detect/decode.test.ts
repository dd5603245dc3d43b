// The detectors' own output decoding, on hand-made tensors whose boxes are known.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroknetError } from '../../src/errors.ts';
import { decodeCenternet } from '../../src/detect/centernet.ts';
import { DEFAULT_DETECT_OPTIONS, finishDetections } from '../../src/detect/detector.ts';
import { decodeNanodet, expectedBin, NANODET_BINS, type NanodetLevel } from '../../src/detect/nanodet.ts';
import { computeGeometry } from '../../src/image/geometry.ts';

const INPUT = { width: 416, height: 416 };
const BIG = 40; // a logit this far above the others takes all the softmax mass (e^-40 ~ 4e-18)

function emptyLevels(): NanodetLevel[] {
  return [8, 16, 32].map((stride) => {
    const cells = (INPUT.width / stride) * (INPUT.height / stride);
    return { stride, scores: new Float32Array(cells * 80), distances: new Float32Array(cells * 4 * NANODET_BINS) };
  });
}

/** Sets one cell's distance logits: per side, the bins that get the BIG logit. */
function setSides(level: NanodetLevel, cell: number, peaks: [number[], number[], number[], number[]]): void {
  peaks.forEach((bins, side) => {
    for (const b of bins) level.distances[cell * 4 * NANODET_BINS + side * NANODET_BINS + b] = BIG;
  });
}

const close = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} vs ${expected}`);

test('expected bin: softmax then mean index', () => {
  const one = new Float32Array(NANODET_BINS);
  one[3] = BIG;
  close(expectedBin(one, 0), 3, 'single peak');
  const two = new Float32Array(NANODET_BINS);
  two[2] = BIG;
  two[7] = BIG;
  close(expectedBin(two, 0), 4.5, 'two equal peaks');
  close(expectedBin(new Float32Array(NANODET_BINS), 0), 5, 'uniform: the middle bin');
  // Huge logits must not overflow (the max is subtracted first).
  close(expectedBin(new Float32Array(NANODET_BINS).fill(1000), 0), 5, 'large equal logits');
});

test('nanodet: distances from the cell centre, in strides, per side', () => {
  const levels = emptyLevels();
  const s16 = levels[1]!; // 26x26 grid
  const cell = 10 * 26 + 7; // row 10, column 7: centre (7.5 * 16, 10.5 * 16) = (120, 168)
  s16.scores[cell * 80 + 47] = 0.8; // apple
  s16.scores[cell * 80 + 49] = 0.4; // orange, same cell: a second candidate with the same box
  s16.scores[cell * 80 + 46] = 0.1; // banana, below the threshold
  setSides(s16, cell, [[3], [1, 2], [10], [0]]); // left 3, top 1.5, right 10, bottom 0 strides

  const found = decodeNanodet(levels, INPUT, 0.3);
  assert.deepEqual(found.map((f) => [f.classId, Math.round(f.score * 100) / 100]), [[47, 0.8], [49, 0.4]]);
  const { box } = found[0]!;
  close(box.x1, 120 - 3 * 16, 'x1');
  close(box.y1, 168 - 1.5 * 16, 'y1');
  close(box.x2, 120 + 10 * 16, 'x2');
  close(box.y2, 168, 'y2');
  assert.deepEqual(found[1]!.box, box);
});

test('nanodet: boxes are clipped to the input and read from the right stride and cell', () => {
  const levels = emptyLevels();
  const s32 = levels[2]!; // 13x13 grid
  const cell = 12 * 13 + 12; // bottom-right cell, centre (400, 400)
  s32.scores[cell * 80] = 0.9;
  setSides(s32, cell, [[2], [2], [5], [5]]); // reaches 160 px past the right and bottom edges
  const s8 = levels[0]!; // 52x52 grid
  s8.scores[0] = 0.6; // top-left cell, centre (4, 4)
  setSides(s8, 0, [[1], [0], [1], [3]]);
  const found = decodeNanodet(levels, INPUT, 0.5);
  assert.equal(found.length, 2);
  const byScore = [...found].sort((a, b) => b.score - a.score);
  const [a, b] = byScore.map((f) => f.box);
  assert.deepEqual([a!.x1, a!.y1, a!.x2, a!.y2].map(Math.round), [336, 336, 416, 416]);
  assert.deepEqual([b!.x1, b!.y1, b!.x2, b!.y2].map(Math.round), [0, 4, 12, 28]);
});

test('nanodet: decoded candidates go back through the letterbox to the photo', () => {
  const levels = emptyLevels();
  const cell = 10 * 26 + 7;
  levels[1]!.scores[cell * 80 + 47] = 0.8;
  setSides(levels[1]!, cell, [[3], [1, 2], [10], [0]]); // input box (72, 144) - (280, 168)
  // An 832x416 photo: scale 0.5, content 416x208 with 104 px of padding above.
  const g = computeGeometry({ width: 832, height: 416 }, INPUT, 'letterbox');
  const [d] = finishDetections(decodeNanodet(levels, INPUT, 0.3), g, DEFAULT_DETECT_OPTIONS);
  assert.ok(d);
  assert.equal(d.class, 'apple');
  [144, 80, 416, 48].forEach((v, i) => close(d.box[i]!, v, `box[${i}]`));
});

test('nanodet: malformed outputs are refused, and the candidate cap keeps the best', () => {
  const bad = emptyLevels();
  bad[0] = { ...bad[0]!, scores: new Float32Array(10) };
  assert.throws(() => decodeNanodet(bad, INPUT, 0.3), (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid');

  const levels = emptyLevels();
  for (let cell = 0; cell < 20; cell++) levels[0]!.scores[cell * 80] = 0.5 + cell / 100;
  const capped = decodeNanodet(levels, INPUT, 0.3, 5);
  assert.equal(capped.length, 5);
  assert.ok(capped.every((c) => c.score >= 0.65 - 1e-6));
});

test('centernet: rows of [x1, y1, x2, y2, score, class] become candidates', () => {
  const rows = new Float32Array([
    10, 20, 110, 220, 0.9, 0.0000001, // person (class travels as a float)
    50, 50, 80, 90, 0.6, 67, // cell phone
    5, 5, 6, 6, 0.1, 2, // below the score
    30, 30, 30, 60, 0.8, 3, // no width
  ]);
  const found = decodeCenternet(rows, 0.3);
  assert.deepEqual(found, [
    { box: { x1: 10, y1: 20, x2: 110, y2: 220 }, score: Math.fround(0.9), classId: 0 },
    { box: { x1: 50, y1: 50, x2: 80, y2: 90 }, score: Math.fround(0.6), classId: 67 },
  ]);
  assert.throws(() => decodeCenternet(new Float32Array(7)), (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid');
});
