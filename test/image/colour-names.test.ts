import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COLOUR_NAMES, colourName, dominantColours, rgbToLab } from '../../src/image/colour-names.ts';
import type { HeadResult } from '../../src/model/types.ts';
import { tensorToRgb } from '../../src/image/tensor.ts';
import { measureColour } from '../../src/pipelines/measure-colour.ts';

test('palette names follow perception', () => {
  assert.equal(colourName(250, 250, 250), 'white');
  assert.equal(colourName(5, 5, 5), 'black');
  assert.equal(colourName(230, 40, 40), 'red');
  assert.equal(colourName(250, 220, 60), 'yellow');
  assert.equal(colourName(30, 60, 220), 'blue');
  assert.equal(colourName(20, 30, 80), 'navy');
  assert.equal(colourName(140, 28, 55), 'maroon');
  // Mustard and gold are yellow to a shopper (a mustard sofa was named olive before its own shade).
  assert.equal(colourName(205, 168, 50), 'yellow');
  assert.equal(colourName(200, 172, 90), 'yellow');
  assert.equal(colourName(110, 112, 40), 'olive');
  const [L, a, b] = rgbToLab(255, 255, 255);
  assert.ok(Math.abs(L - 100) < 0.05 && Math.abs(a) < 0.05 && Math.abs(b) < 0.05, 'white is L=100, a=b=0');
});

function picture(width: number, height: number, background: [number, number, number], object: [number, number, number]): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x > width / 4 && x < (3 * width) / 4 && y > height / 4 && y < (3 * height) / 4;
      rgb.set(inside ? object : background, (y * width + x) * 3);
    }
  }
  return rgb;
}

test('the shades of one name add up to one share, and each name is listed once', () => {
  const rgb = new Uint8Array(64 * 64 * 3);
  for (let p = 0; p < 64 * 64; p++) rgb.set(p % 2 === 0 ? [245, 215, 40] : [210, 170, 45], p * 3);
  const shares = dominantColours(rgb, 64, 64);
  assert.deepEqual(shares.map((s) => s.name), ['yellow']);
  assert.ok(Math.abs(shares[0]!.share - 1) < 1e-9);
  assert.equal(new Set(COLOUR_NAMES).size, COLOUR_NAMES.length);
});

test('the backdrop is left out and the product colour wins', () => {
  const shares = dominantColours(picture(64, 64, [245, 245, 245], [245, 215, 40]), 64, 64);
  assert.equal(shares[0]!.name, 'yellow');
  assert.ok(!shares.some((s) => s.name === 'white'));
  // A mask restricts the count to the garment's pixels.
  const masked = dominantColours(picture(64, 64, [35, 75, 200], [200, 30, 35]), 64, 64, (x, y) => x < 8 && y < 8);
  assert.deepEqual(masked.map((s) => s.name), ['blue']);
});

/** The measured colour as a single-label result; failing (not skipping) when it is anything else. */
function single(result: HeadResult): Extract<HeadResult, { kind: 'single' }> {
  assert.ok(result.kind === 'single', `colour is a single-label head, got ${result.kind}`);
  return result;
}

test('measureColour reads the model tensor, in either layout and channel order', () => {
  const rgb = picture(32, 32, [245, 245, 245], [200, 30, 35]);
  const nhwc = Float32Array.from(rgb, (v) => v / 255);
  const spec = { size: [32, 32] as [number, number], mode: 'center-crop' as const, layout: 'NHWC' as const, channelOrder: 'RGB' as const, scale: 1 / 255, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
  const result = single(measureColour(nhwc, spec));
  assert.equal(result.top[0]!.label, 'red');
  assert.equal(result.source, 'pixels');

  // Caffe-style input: planes in B, G, R order, each normalised by its own mean and std (listed in
  // tensor order). Red read with the channels swapped would be blue (35, 30, 200).
  const mean: [number, number, number] = [104, 117, 124];
  const std: [number, number, number] = [57, 58, 59];
  const nchwBgr = new Float32Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) nchwBgr[(2 - c) * 1024 + p] = (rgb[p * 3 + c]! - mean[2 - c]!) / std[2 - c]!;
  const bgrSpec = { ...spec, layout: 'NCHW' as const, channelOrder: 'BGR' as const, scale: 1, mean, std };
  assert.deepEqual(tensorToRgb(nchwBgr, bgrSpec).rgb, rgb, 'the pixels come back exactly, in RGB order');
  const bgr = single(measureColour(nchwBgr, bgrSpec));
  assert.equal(bgr.top[0]!.label, 'red');
  assert.equal(bgr.abstain, false);
});
