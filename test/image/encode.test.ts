// src/image's encoders and raw-pixel helpers: what the favicon, the detector's crops, shop
// the look, the trainers' datasets and augmentation, and the segmentation masks use instead
// of importing sharp themselves. And nothing outside src/image imports sharp.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { decodeImage, type DecodedImage } from '../../src/image/decode.ts';
import { cropDecodedToPng, greyPixelsToPng, encodeLabelMaskPng, renderSvgPng } from '../../src/image/encode.ts';
import { changeColours, readStoredPixels, shrinkToFit } from '../../src/image/raw.ts';
import { tempDir } from '../helpers/tmp.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A decoded photo whose pixel (x, y) is (x, y, 100): every pixel says where it is. */
function gradient(width: number, height: number): DecodedImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 100], (y * width + x) * 3);
  return { data, width, height, format: 'png' };
}

describe('encoders', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir();
  });
  after(() => tmp.cleanup());

  test('label masks are 8-bit greyscale PNGs whose values are the indices', async () => {
    const indices = Uint8Array.from({ length: 6 * 4 }, (_, i) => i % 7);
    const png = await encodeLabelMaskPng(indices, 6, 4);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    // IHDR: bit depth 8, colour type 0 (greyscale): no palette, no colours.
    assert.deepEqual([png[24], png[25]], [8, 0]);
    assert.deepEqual(await readBack(png), [...indices]);
  });

  test('grey pixels are a PNG showing the same greys', async () => {
    const greys = Buffer.from(Array.from({ length: 5 * 3 }, (_, i) => i * 17));
    const png = await greyPixelsToPng(greys, 5, 3);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.deepEqual(await readBack(png), [...greys]);
  });

  /** The first channel of each pixel of a PNG, as readStoredPixels reads the file. */
  async function readBack(png: Buffer): Promise<number[]> {
    const file = path.join(tmp.path, 'read-back.png');
    await writeFile(file, png);
    const stored = await readStoredPixels(file);
    return Array.from({ length: stored.width * stored.height }, (_, i) => stored.data[i * stored.channels]!);
  }

  test('a crop of a decoded photo is that rectangle, shrunk to fit the side and never enlarged', async () => {
    const photo = gradient(64, 48);
    const small = await decodeImage(await cropDecodedToPng(photo, { left: 10, top: 5, width: 8, height: 6 }, 100));
    assert.deepEqual([small.width, small.height], [8, 6]);
    assert.deepEqual([...small.data.subarray(0, 3)], [10, 5, 100]);
    assert.deepEqual([...small.data.subarray(small.data.length - 3)], [17, 10, 100]);
    const shrunk = await decodeImage(await cropDecodedToPng(photo, { left: 0, top: 0, width: 64, height: 32 }, 16));
    assert.deepEqual([shrunk.width, shrunk.height], [16, 8]);
  });

  test('an SVG is rendered to a PNG of the side asked for', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16" fill="#f00"/></svg>');
    const png = await decodeImage(await renderSvgPng(svg, 32, 144));
    assert.deepEqual([png.width, png.height], [32, 32]);
    assert.deepEqual([...png.data.subarray(0, 3)], [255, 0, 0]);
  });
});

describe('raw pixels', () => {
  test('shrinkToFit: the long side at most maxSide, the same image when it fits', async () => {
    const photo = gradient(60, 30);
    assert.equal(await shrinkToFit(photo, 60), photo);
    const shrunk = await shrinkToFit(photo, 20);
    assert.deepEqual([shrunk.width, shrunk.height, shrunk.format], [20, 10, 'png']);
    assert.equal(shrunk.data.length, 20 * 10 * 3);
  });

  test('changeColours keeps the size; no change keeps the pixels, more brightness raises them', async () => {
    const { data, width, height } = gradient(8, 8);
    const pixels = { data: Buffer.from(data.map((v) => Math.min(200, v + 40))), width, height };
    const same = await changeColours(pixels, { brightness: 1, saturation: 1, hue: 0, contrast: 1 });
    assert.deepEqual([same.width, same.height, same.data.length], [8, 8, pixels.data.length]);
    assert.ok(same.data.every((v, i) => Math.abs(v - pixels.data[i]!) <= 2), 'no change moved a pixel');
    const brighter = await changeColours(pixels, { brightness: 1.25, saturation: 1, hue: 0, contrast: 1 });
    const mean = (b: Buffer) => b.reduce((sum, v) => sum + v, 0) / b.length;
    assert.ok(mean(brighter.data) > mean(pixels.data) + 5, `${mean(brighter.data)} vs ${mean(pixels.data)}`);
  });
});

describe('the sharp boundary', () => {
  test('no module outside src/image imports sharp', async () => {
    const files = (await readdir(SRC, { recursive: true })).filter((file) => file.endsWith('.ts') && !file.startsWith(`image${path.sep}`));
    const importers: string[] = [];
    for (const file of files) {
      if (/from ['"]sharp['"]|import\(['"]sharp['"]\)/.test(await readFile(path.join(SRC, file), 'utf8'))) importers.push(file);
    }
    assert.deepEqual(importers, []);
  });
});
