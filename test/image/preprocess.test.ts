import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../../src/image/decode.ts';
import { boxToOriginal, computeGeometry, planResize } from '../../src/image/geometry.ts';
import { loadForModel, preprocessDecoded } from '../../src/image/preprocess.ts';
import { validatePreprocessSpec, type PreprocessSpec } from '../../src/image/spec.ts';
import { pixelsToTensor, tensorShape, toTensorBatch } from '../../src/image/tensor.ts';
import { bombPng, columns, rejectsWith, solidPng, throwsWith } from './fixtures.ts';

const IMAGENET: PreprocessSpec = {
  size: [8, 12],
  mode: 'stretch',
  layout: 'NCHW',
  channelOrder: 'RGB',
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  scale: 1 / 255,
};

/** Value at channel c, row y, column x of a single-image tensor. */
function at(tensor: Float32Array, spec: PreprocessSpec, c: number, y: number, x: number): number {
  const [h, w] = spec.size;
  return spec.layout === 'NCHW' ? tensor[c * h * w + y * w + x]! : tensor[(y * w + x) * 3 + c]!;
}

const BLUE = [0, 0, 255] as const;
const GREEN = [0, 255, 0] as const;
const RED = [255, 0, 0] as const;

/** 200x100: blue left quarter, green middle half, red right quarter. */
function bands(): Promise<Buffer> {
  return columns(200, 100, (x) => (x < 50 ? BLUE : x < 150 ? GREEN : RED)).png().toBuffer();
}

describe('tensor layout and normalisation', () => {
  const colour = [200, 100, 50] as const;

  it('normalises a solid colour exactly per channel (NCHW, RGB)', async () => {
    const { tensor } = await loadForModel(await solidPng(40, 30, colour), IMAGENET);
    assert.equal(tensor.length, 3 * 8 * 12);
    for (let c = 0; c < 3; c++) {
      const want = (colour[c]! / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!;
      for (const [y, x] of [[0, 0], [4, 6], [7, 11]] as const) assert.ok(Math.abs(at(tensor, IMAGENET, c, y, x) - want) < 1e-5);
    }
  });

  it('NHWC holds the same values as NCHW, interleaved', async () => {
    const png = await solidPng(40, 30, colour);
    const nchw = (await loadForModel(png, IMAGENET)).tensor;
    const nhwcSpec: PreprocessSpec = { ...IMAGENET, layout: 'NHWC' };
    const nhwc = (await loadForModel(png, nhwcSpec)).tensor;
    assert.equal(nhwc.length, nchw.length);
    for (let c = 0; c < 3; c++) assert.equal(at(nhwc, nhwcSpec, c, 3, 5), at(nchw, IMAGENET, c, 3, 5));
    // Interleaved: the first three values are one pixel's three channels.
    assert.deepEqual([...nhwc.subarray(0, 3)], [0, 1, 2].map((c) => nchw[c * 8 * 12]!));
  });

  it('BGR puts blue first, with mean/std in tensor-channel order', async () => {
    const spec: PreprocessSpec = { ...IMAGENET, channelOrder: 'BGR', scale: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1] };
    const { tensor } = await loadForModel(await solidPng(16, 16, colour), spec);
    const want = [50 - 103.939, 100 - 116.779, 200 - 123.68];
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(at(tensor, spec, c, 2, 2) - want[c]!) < 1e-4, `channel ${c}`);
  });

  it('pixelsToTensor is exact on hand-made pixels', () => {
    const spec: PreprocessSpec = { ...IMAGENET, size: [1, 2], layout: 'NHWC', channelOrder: 'BGR', mean: [0, 0, 0], std: [1, 1, 1], scale: 1 };
    const out = pixelsToTensor(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 1, spec);
    assert.deepEqual([...out], [3, 2, 1, 6, 5, 4]);
    const planar = pixelsToTensor(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 1, { ...spec, layout: 'NCHW', channelOrder: 'RGB' });
    assert.deepEqual([...planar], [1, 4, 2, 5, 3, 6]);
    throwsWith(() => pixelsToTensor(new Uint8Array(5), 2, 1, spec), 'invalid_argument');
  });

  it('toTensorBatch concatenates with the right shape', async () => {
    const a = (await loadForModel(await solidPng(10, 10, [0, 0, 0]), IMAGENET)).tensor;
    const b = (await loadForModel(await solidPng(10, 10, [255, 255, 255]), IMAGENET)).tensor;
    const batch = toTensorBatch([a, b, a], IMAGENET);
    assert.deepEqual(batch.shape, [3, 3, 8, 12]);
    assert.equal(batch.data.length, 3 * a.length);
    assert.deepEqual(batch.data.subarray(a.length, 2 * a.length), b);
    assert.deepEqual(toTensorBatch([a], { ...IMAGENET, layout: 'NHWC' }).shape, [1, 8, 12, 3]);
    assert.deepEqual(tensorShape(IMAGENET, 7), [7, 3, 8, 12]);
    throwsWith(() => toTensorBatch([], IMAGENET), 'invalid_argument');
    throwsWith(() => toTensorBatch([a, new Float32Array(3)], IMAGENET), 'invalid_argument');
  });
});

describe('resize modes and geometry', () => {
  const square = (mode: PreprocessSpec['mode'], fill?: readonly [number, number, number]): PreprocessSpec => ({
    size: [64, 64], mode, layout: 'NHWC', channelOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], scale: 1, ...(fill ? { fill } : {}),
  });
  const rgbAt = (t: Float32Array, spec: PreprocessSpec, x: number, y: number): number[] => [0, 1, 2].map((c) => Math.round(at(t, spec, c, y, x)));

  it('center-crop scales the short side to fit and keeps the centre', async () => {
    const spec = square('center-crop');
    const { tensor, geometry, original } = await loadForModel(await bands(), spec);
    assert.deepEqual(original, { width: 200, height: 100 });
    assert.deepEqual(geometry.content, { left: 0, top: 0, width: 64, height: 64 });
    assert.equal(geometry.scaleX, 0.64);
    assert.equal(geometry.scaleY, 0.64);
    assert.equal(geometry.offsetX, -32);
    assert.equal(geometry.offsetY, 0);
    // Resized 128 wide, crop 32..96 = original 50..150: only the green band (away from
    // the edges, where the resampling kernel reaches across the band boundary).
    for (const x of [5, 32, 58]) assert.deepEqual(rgbAt(tensor, spec, x, 32), [...GREEN]);
    const [r, g, b] = rgbAt(tensor, spec, 0, 32);
    assert.ok(r! < 20 && g! > 220 && b! < 40, `edge pixel ${r},${g},${b}`);
  });

  it('letterbox fits the whole image and pads with the fill colour', async () => {
    const spec = square('letterbox', [0, 0, 0]);
    const { tensor, geometry } = await loadForModel(await bands(), spec);
    assert.deepEqual(geometry.content, { left: 0, top: 16, width: 64, height: 32 });
    assert.equal(geometry.scaleX, 0.32);
    assert.equal(geometry.offsetX, 0);
    assert.equal(geometry.offsetY, 16);
    assert.deepEqual(rgbAt(tensor, spec, 32, 2), [0, 0, 0]); // top padding
    assert.deepEqual(rgbAt(tensor, spec, 32, 61), [0, 0, 0]); // bottom padding
    assert.deepEqual(rgbAt(tensor, spec, 4, 32), [...BLUE]);
    assert.deepEqual(rgbAt(tensor, spec, 32, 32), [...GREEN]);
    assert.deepEqual(rgbAt(tensor, spec, 60, 32), [...RED]);
    // The padding defaults to white.
    const white = await loadForModel(await bands(), square('letterbox'));
    assert.deepEqual(rgbAt(white.tensor, spec, 32, 2), [255, 255, 255]);
  });

  it('letterbox keeps transparent areas white while padding with the fill', async () => {
    const spec = square('letterbox', [0, 0, 255]);
    const clear = await sharp({ create: { width: 100, height: 50, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const { tensor } = await loadForModel(clear, spec);
    assert.deepEqual(rgbAt(tensor, spec, 32, 2), [0, 0, 255]);
    assert.deepEqual(rgbAt(tensor, spec, 32, 32), [255, 255, 255]);
  });

  it('stretch fills the input and scales each axis alone', async () => {
    const { geometry } = await loadForModel(await bands(), square('stretch'));
    assert.deepEqual(geometry.content, { left: 0, top: 0, width: 64, height: 64 });
    assert.equal(geometry.scaleX, 0.32);
    assert.equal(geometry.scaleY, 0.64);
  });

  it('maps boxes back to the original image', async () => {
    const letterbox = (await loadForModel(await bands(), square('letterbox'))).geometry;
    assert.deepEqual(boxToOriginal({ x1: 0, y1: 16, x2: 64, y2: 48 }, letterbox), { x1: 0, y1: 0, x2: 200, y2: 100 });
    // Padding maps outside the image and is clipped.
    assert.deepEqual(boxToOriginal({ x1: 0, y1: 0, x2: 32, y2: 64 }, letterbox), { x1: 0, y1: 0, x2: 100, y2: 100 });
    const crop = (await loadForModel(await bands(), square('center-crop'))).geometry;
    assert.deepEqual(boxToOriginal({ x1: 0, y1: 0, x2: 64, y2: 64 }, crop), { x1: 50, y1: 0, x2: 150, y2: 100 });
  });

  it('geometry handles extreme aspect ratios without zero sizes or huge canvases', () => {
    const g = computeGeometry({ width: 1, height: 20000 }, { width: 224, height: 224 }, 'letterbox');
    assert.deepEqual(g.content, { left: 111, top: 0, width: 1, height: 224 });
    assert.equal(g.offsetX, 111);
    // Resizing first would need a 4480000x224 canvas, so the original is cropped first.
    const { geometry, plan } = planResize({ width: 20000, height: 1 }, { width: 224, height: 224 }, 'center-crop');
    assert.deepEqual(plan, { preCrop: { left: 9999, top: 0, width: 1, height: 1 }, resize: { width: 224, height: 224 } });
    assert.equal(geometry.scaleX, 224);
    assert.equal(geometry.offsetX, -9999 * 224);
    // Ordinary photos are resized first (JPEG shrink-on-load), then cropped.
    assert.deepEqual(planResize({ width: 4000, height: 3000 }, { width: 224, height: 224 }, 'center-crop').plan,
      { resize: { width: 299, height: 224 }, postCrop: { left: 37, top: 0, width: 224, height: 224 } });
  });

  it('center-crop of a thin banner crops the original first and keeps its centre', async () => {
    // 1000x10: only columns 495..504 are green; the 64x64 centre crop must be all green.
    const png = await columns(1000, 10, (x) => (x < 495 ? BLUE : x < 505 ? GREEN : RED)).png().toBuffer();
    const spec = square('center-crop');
    const { tensor, geometry } = await loadForModel(png, spec);
    assert.equal(geometry.scaleX, 6.4);
    assert.equal(geometry.offsetX, -495 * 6.4);
    for (const x of [0, 31, 63]) assert.deepEqual(rgbAt(tensor, spec, x, 32), [...GREEN]);
    assert.deepEqual(boxToOriginal({ x1: 0, y1: 0, x2: 64, y2: 64 }, geometry), { x1: 495, y1: 0, x2: 505, y2: 10 });
  });

  it('uses the EXIF-oriented size', async () => {
    const jpeg = await columns(64, 32, (x) => (x < 32 ? RED : BLUE)).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const spec = square('letterbox', [0, 0, 0]);
    const { original, geometry, tensor } = await loadForModel(jpeg, spec);
    assert.deepEqual(original, { width: 32, height: 64 });
    assert.deepEqual(geometry.content, { left: 16, top: 0, width: 32, height: 64 });
    const [r, , b] = rgbAt(tensor, spec, 32, 10);
    assert.ok(r! > 200 && b! < 60, 'red on top after rotation');
  });
});

describe('loadForModel checks and preprocessDecoded', () => {
  it('applies the decode checks', async () => {
    await rejectsWith(loadForModel(Buffer.alloc(0), IMAGENET), 'empty_file');
    await rejectsWith(loadForModel(Buffer.from('<svg/>'), IMAGENET), 'unsupported_format');
    await rejectsWith(loadForModel(bombPng(10000, 10000), IMAGENET), 'too_large');
    await rejectsWith(loadForModel(await solidPng(50, 50, [1, 2, 3]), IMAGENET, { maxPixels: 100 }), 'too_large');
    const jpeg = await columns(64, 64, () => RED).jpeg().toBuffer();
    await rejectsWith(loadForModel(jpeg.subarray(0, jpeg.length - 40), IMAGENET), 'truncated');
  });

  it('refuses invalid specs', async () => {
    const png = await solidPng(4, 4, [1, 2, 3]);
    const bad: Array<Partial<Record<keyof PreprocessSpec, unknown>>> = [
      { size: [0, 10] }, { size: [10] }, { size: [10.5, 10] }, { mode: 'cover' }, { layout: 'CHW' }, { channelOrder: 'RGBA' },
      { mean: [0, 0] }, { std: [1, 0, 1] }, { std: [1, Number.NaN, 1] }, { scale: 0 }, { fill: [0, 0, 256] },
    ];
    for (const patch of bad) {
      const spec = { ...IMAGENET, ...patch } as PreprocessSpec;
      throwsWith(() => validatePreprocessSpec(spec), 'invalid_argument');
      await rejectsWith(loadForModel(png, spec), 'invalid_argument');
    }
  });

  it('preprocessDecoded matches loadForModel', async () => {
    const png = await bands();
    const spec: PreprocessSpec = { ...IMAGENET, size: [32, 32], mode: 'letterbox' };
    const direct = await loadForModel(png, spec);
    const viaDecode = await preprocessDecoded(await decodeImage(png), spec);
    assert.deepEqual(viaDecode.geometry, direct.geometry);
    let maxDiff = 0;
    for (let i = 0; i < direct.tensor.length; i++) maxDiff = Math.max(maxDiff, Math.abs(direct.tensor[i]! - viaDecode.tensor[i]!));
    assert.ok(maxDiff < 0.05, `max difference ${maxDiff}`);
    await rejectsWith(preprocessDecoded({ data: Buffer.alloc(5), width: 2, height: 2, format: 'png' }, spec), 'invalid_argument');
  });
});
