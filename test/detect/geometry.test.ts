// Boxes found on the letterboxed model input must land on the right pixels of the photo.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { DEFAULT_DETECT_OPTIONS, finishDetections } from '../../src/detect/detector.ts';
import type { ScoredBox } from '../../src/detect/nms.ts';
import { computeGeometry } from '../../src/image/geometry.ts';
import { loadForModel } from '../../src/image/preprocess.ts';
import { BACKBONES } from '../../src/model/backbones/registry.ts';

const options = { ...DEFAULT_DETECT_OPTIONS };
const candidate = (x1: number, y1: number, x2: number, y2: number, score = 0.9, classId = 0): ScoredBox => ({ box: { x1, y1, x2, y2 }, score, classId });

test('a box on the letterbox input maps back to original pixels as [x, y, w, h]', () => {
  // 800x400 into 512x512: scale 0.64, content 512x256 padded 128 px above and below.
  const g = computeGeometry({ width: 800, height: 400 }, { width: 512, height: 512 }, 'letterbox');
  assert.equal(g.offsetY, 128);
  const [d] = finishDetections([candidate(64, 160, 192, 224)], g, options);
  assert.ok(d);
  d.box.forEach((v, i) => assert.ok(Math.abs(v - [100, 50, 200, 100][i]!) < 1e-9, `box ${d.box}`));
  assert.equal(d.class, 'person');
});

test('boxes in the padding are dropped, boxes across the border are clipped to the photo', () => {
  const g = computeGeometry({ width: 800, height: 400 }, { width: 512, height: 512 }, 'letterbox');
  const found = finishDetections([candidate(10, 10, 100, 120, 0.9, 1), candidate(-20, 100, 64, 160, 0.8, 2)], g, options);
  assert.equal(found.length, 1, 'the first box lies entirely in the top padding');
  assert.equal(found[0]!.class, 'car');
  assert.deepEqual(found[0]!.box, [0, 0, 100, 50]);
});

test('threshold, unknown class ids, NMS and the maximum count are applied', () => {
  const g = computeGeometry({ width: 512, height: 512 }, { width: 512, height: 512 }, 'letterbox');
  const found = finishDetections(
    [candidate(0, 0, 100, 100, 0.9), candidate(2, 2, 100, 100, 0.8), candidate(0, 0, 100, 100, 0.7, 47), candidate(200, 200, 300, 300, 0.2), candidate(200, 200, 300, 300, 0.95, 80)],
    g,
    { ...options, minScore: 0.3 },
  );
  assert.deepEqual(found.map((d) => [d.class, d.score]), [['person', 0.9], ['apple', 0.7]]);
  assert.equal(finishDetections([candidate(0, 0, 10, 10, 0.9), candidate(50, 50, 60, 60, 0.8)], g, { ...options, maxDetections: 1 }).length, 1);
});

/** The bounding box of strongly red pixels in an NHWC 0-255 RGB tensor. */
function redBounds(tensor: Float32Array, w: number, h: number): ScoredBox['box'] {
  let [x1, y1, x2, y2] = [w, h, 0, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      if (tensor[i]! > 160 && tensor[i + 1]! < 100 && tensor[i + 2]! < 100) [x1, y1, x2, y2] = [Math.min(x1, x), Math.min(y1, y), Math.max(x2, x + 1), Math.max(y2, y + 1)];
    }
  }
  return { x1, y1, x2, y2 };
}

test('through the real preprocessing: a red rectangle found on the model input maps back to where it was drawn', async () => {
  const spec = BACKBONES['human-models/centernet'].input; // 512x512 letterbox, raw RGB, NHWC
  for (const { width, height, rect } of [
    { width: 300, height: 120, rect: { left: 60, top: 30, width: 80, height: 60 } }, // padded above and below
    { width: 150, height: 400, rect: { left: 20, top: 250, width: 100, height: 120 } }, // padded left and right
  ]) {
    const red = await sharp({ create: { width: rect.width, height: rect.height, channels: 3, background: { r: 230, g: 20, b: 20 } } }).png().toBuffer();
    const image = await sharp({ create: { width, height, channels: 3, background: { r: 40, g: 140, b: 60 } } })
      .composite([{ input: red, left: rect.left, top: rect.top }])
      .png()
      .toBuffer();
    const { tensor, geometry } = await loadForModel(image, spec);
    const [d] = finishDetections([{ box: redBounds(tensor, 512, 512), score: 1, classId: 0 }], geometry, options);
    assert.ok(d);
    const expected = [rect.left, rect.top, rect.width, rect.height];
    // Resampling blurs the edges by about one input pixel, i.e. 1 / scale original pixels.
    const tolerance = 1.5 / geometry.scaleX;
    d.box.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tolerance, `${width}x${height}: got [${d.box.map((b) => b.toFixed(1))}], drew [${expected}]`));
  }
});
