import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage, readImageFile } from '../../src/image/decode.ts';
import { animatedGif, bombPng, columns, noise, pixelAt, pngHeaderOnly, rejectsWith, solidPng } from './fixtures.ts';

const RED = [200, 30, 30] as const;

function close(actual: readonly number[], expected: readonly number[], tolerance: number, what = ''): void {
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tolerance, `${what} got [${actual.join(',')}], want ~[${expected.join(',')}]`));
}

describe('decodeImage: formats', () => {
  const base = () => sharp({ create: { width: 48, height: 32, channels: 3, background: { r: RED[0], g: RED[1], b: RED[2] } } });
  const encoders: Array<[string, () => Promise<Buffer>, number]> = [
    ['jpeg', () => base().jpeg({ quality: 95 }).toBuffer(), 6],
    ['png', () => base().png().toBuffer(), 0],
    ['webp', () => base().webp({ lossless: true }).toBuffer(), 0],
    ['gif', () => base().gif().toBuffer(), 8],
    ['tiff', () => base().tiff({ compression: 'lzw' }).toBuffer(), 0],
    ['avif', () => base().avif({ lossless: true }).toBuffer(), 8],
  ];
  for (const [format, encode, tolerance] of encoders) {
    it(`decodes ${format} to 8-bit RGB`, async () => {
      const image = await decodeImage(await encode());
      assert.equal(image.format, format);
      assert.equal(image.width, 48);
      assert.equal(image.height, 32);
      assert.equal(image.data.length, 48 * 32 * 3);
      close(pixelAt(image.data, 48, 10, 10), RED, tolerance, format);
    });
  }

  it('applies EXIF orientation (6: rotate 90° clockwise)', async () => {
    // Left half red, right half blue; after a clockwise quarter turn red is on top.
    const jpeg = await columns(64, 32, (x) => (x < 32 ? [255, 0, 0] : [0, 0, 255])).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const meta = await sharp(jpeg).metadata();
    assert.equal(meta.orientation, 6);
    const image = await decodeImage(jpeg);
    assert.deepEqual([image.width, image.height], [32, 64]);
    close(pixelAt(image.data, 32, 16, 8), [255, 0, 0], 30, 'top');
    close(pixelAt(image.data, 32, 16, 56), [0, 0, 255], 30, 'bottom');
  });

  it('flattens alpha onto white', async () => {
    const clear = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    assert.deepEqual(pixelAt((await decodeImage(clear)).data, 8, 3, 3), [255, 255, 255]);
    const half = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    const image = await decodeImage(half);
    assert.equal(image.data.length, 8 * 8 * 3);
    close(pixelAt(image.data, 8, 3, 3), [255, 128, 128], 2, 'half-transparent red');
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const cmyk = await sharp(await solidPng(32, 32, [200, 30, 30])).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    const image = await decodeImage(cmyk);
    assert.equal(image.data.length, 32 * 32 * 3);
    const [r, g, b] = pixelAt(image.data, 32, 16, 16);
    assert.ok(r > 150 && g < 80 && b < 80, `CMYK red decoded as ${r},${g},${b}`);
  });

  it('converts 16-bit PNG (with and without alpha) to 8-bit', async () => {
    const rgb16 = await sharp(await solidPng(16, 16, RED)).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(rgb16).metadata()).depth, 'ushort');
    close(pixelAt((await decodeImage(rgb16)).data, 16, 5, 5), RED, 1, 'rgb16');
    const rgba16 = await sharp({ create: { width: 16, height: 16, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .toColourspace('rgb16').png().toBuffer();
    assert.deepEqual(pixelAt((await decodeImage(rgba16)).data, 16, 5, 5), [255, 255, 255]);
  });

  it('expands greyscale (8-bit, 16-bit, with alpha) to three equal channels', async () => {
    const grey = await sharp(await solidPng(16, 16, [90, 90, 90])).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(grey).metadata()).channels, 1);
    const grey16 = await sharp(await solidPng(16, 16, [90, 90, 90])).toColourspace('grey16').png().toBuffer();
    const greyAlpha = await sharp({ create: { width: 16, height: 16, channels: 4, background: { r: 90, g: 90, b: 90, alpha: 0 } } })
      .toColourspace('b-w').png().toBuffer();
    for (const [input, want] of [[grey, 90], [grey16, 90], [greyAlpha, 255]] as const) {
      const image = await decodeImage(input);
      assert.equal(image.data.length, 16 * 16 * 3);
      const [r, g, b] = pixelAt(image.data, 16, 4, 4);
      assert.ok(r === g && g === b, `channels differ: ${r},${g},${b}`);
      close([r], [want], 1);
    }
  });

  it('decodes only the first frame of an animated GIF with thousands of frames', async () => {
    const gif = await animatedGif(3000);
    assert.equal((await sharp(gif).metadata()).pages, 3000);
    const start = performance.now();
    const image = await decodeImage(gif);
    assert.ok(performance.now() - start < 1000, 'decoding one frame should be quick');
    assert.deepEqual([image.width, image.height], [16, 16]);
    assert.deepEqual(pixelAt(image.data, 16, 5, 5), [255, 0, 0]);
  });

  it('accepts a small real 1-bit PNG built like the bomb fixture', async () => {
    const image = await decodeImage(bombPng(64, 48));
    assert.deepEqual([image.width, image.height], [64, 48]);
    assert.deepEqual(pixelAt(image.data, 64, 10, 10), [0, 0, 0]);
  });
});

describe('decodeImage: refusals', () => {
  it('empty input is empty_file', async () => {
    await rejectsWith(decodeImage(Buffer.alloc(0)), 'empty_file');
  });

  it('text and random bytes are not_an_image', async () => {
    await rejectsWith(decodeImage(Buffer.from('just some text, certainly not a photo\n')), 'not_an_image');
    await rejectsWith(decodeImage(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])), 'not_an_image');
  });

  it('non-Buffer input is invalid_argument', async () => {
    await rejectsWith(decodeImage('photo.jpg' as unknown as Buffer), 'invalid_argument');
  });

  it('SVG (plain, with XML prologue, gzipped) is unsupported_format and never rendered', async () => {
    // An external reference that would be fetched if the SVG were rendered.
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">'
      + '<image xlink:href="http://169.254.169.254/latest/meta-data" width="10" height="10"/></svg>';
    for (const input of [Buffer.from(svg), Buffer.from(`\uFEFF<?xml version="1.0"?>\n${svg}`), gzipSync(svg)]) {
      await rejectsWith(decodeImage(input), 'unsupported_format');
    }
  });

  it('a truncated JPEG is detected, not grey-filled', async () => {
    const jpeg = await noise(256, 256).jpeg().toBuffer();
    await rejectsWith(decodeImage(jpeg.subarray(0, jpeg.length >> 1)), 'truncated');
    await rejectsWith(decodeImage(jpeg.subarray(0, 20)), 'truncated');
  });

  it('a truncated PNG is detected', async () => {
    const png = await noise(256, 256).png().toBuffer();
    await rejectsWith(decodeImage(png.subarray(0, png.length >> 1)), 'truncated');
    await rejectsWith(decodeImage(png.subarray(0, 8)), 'truncated');
  });

  it('a PNG with a corrupted data chunk is truncated', async () => {
    const png = Buffer.from(await noise(64, 64).png().toBuffer());
    for (let i = 100; i < png.length - 20; i += 7) png[i]! ^= 0x5a;
    await rejectsWith(decodeImage(png), 'truncated');
  });

  for (const format of ['webp', 'gif', 'tiff', 'avif'] as const) {
    it(`a truncated ${format} is detected`, async () => {
      const encoded = await noise(64, 64).toFormat(format).toBuffer();
      await rejectsWith(decodeImage(encoded.subarray(0, encoded.length >> 1)), 'truncated');
    });
  }

  it('more bytes than maxInputBytes is too_large', async () => {
    const jpeg = await noise(64, 64).jpeg().toBuffer();
    assert.ok(jpeg.length > 1000);
    await rejectsWith(decodeImage(jpeg, { maxInputBytes: 1000 }), 'too_large');
  });

  it('a PNG header claiming 30000x30000 is refused from the header alone', async () => {
    const png = pngHeaderOnly(30000, 30000);
    assert.ok(png.length < 100);
    const start = performance.now();
    const error = await rejectsWith(decodeImage(png), 'too_large');
    assert.ok(performance.now() - start < 200);
    assert.match(error.message, /30000x30000/);
  });

  it('one side above maxDimension is too_large even with few pixels', async () => {
    await rejectsWith(decodeImage(pngHeaderOnly(25000, 10)), 'too_large');
    await rejectsWith(decodeImage(pngHeaderOnly(100, 100), { maxDimension: 99 }), 'too_large');
  });

  it('a decompression bomb (10000x10000 in a few KB) is too_large, quickly', async () => {
    const bomb = bombPng(10000, 10000);
    assert.ok(bomb.length < 64 * 1024, `bomb is ${bomb.length} bytes`);
    const meta = await sharp(bomb).metadata();
    assert.deepEqual([meta.width, meta.height], [10000, 10000]);
    const before = process.memoryUsage().rss;
    const start = performance.now();
    const error = await rejectsWith(decodeImage(bomb), 'too_large');
    assert.ok(performance.now() - start < 200, 'refused before decoding');
    assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, 'no canvas was allocated');
    assert.match(error.message, /40000000 pixels/);
    // A lowered pixel limit applies to ordinary images as well.
    await rejectsWith(decodeImage(await solidPng(100, 100, RED), { maxPixels: 9999 }), 'too_large');
  });

  it('invalid limits are invalid_argument', async () => {
    await rejectsWith(decodeImage(await solidPng(4, 4, RED), { maxPixels: 0 }), 'invalid_argument');
    await rejectsWith(decodeImage(await solidPng(4, 4, RED), { maxInputBytes: -1 }), 'invalid_argument');
  });
});

describe('readImageFile', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'groknet-image-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and decodes a file', async () => {
    const path = join(dir, 'photo.png');
    await writeFile(path, await solidPng(20, 10, RED));
    const image = await readImageFile(path);
    assert.deepEqual([image.width, image.height, image.format], [20, 10, 'png']);
  });

  it('a missing file is file_not_found, without the folder in the message', async () => {
    const error = await rejectsWith(readImageFile(join(dir, 'missing.jpg')), 'file_not_found');
    assert.ok(!error.message.includes(dir), error.message);
    assert.match(error.message, /missing\.jpg/);
  });

  it('a directory is refused', async () => {
    await rejectsWith(readImageFile(dir), 'not_an_image');
  });

  it('an empty file is empty_file', async () => {
    const path = join(dir, 'empty.jpg');
    await writeFile(path, Buffer.alloc(0));
    await rejectsWith(readImageFile(path), 'empty_file');
  });

  it('an oversized file is refused from its size, without reading it', async () => {
    // A sparse 4 GiB file: reading it would take seconds and allocate gigabytes.
    const path = join(dir, 'huge.jpg');
    const handle = await open(path, 'w');
    await handle.truncate(4 * 1024 ** 3);
    await handle.close();
    const start = performance.now();
    await rejectsWith(readImageFile(path), 'too_large');
    assert.ok(performance.now() - start < 200);
  });

  it('a FIFO is refused without blocking', async (t) => {
    const path = join(dir, 'pipe.jpg');
    try {
      execFileSync('mkfifo', [path]);
    } catch {
      t.skip('mkfifo is not available');
      return;
    }
    await rejectsWith(readImageFile(path), 'not_an_image');
  });
});
