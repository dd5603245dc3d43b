// Test images, all generated here with sharp or by hand: no binary fixtures in the repo.

import { crc32 } from '../../src/util/crc32.ts';
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { GroknetError, type ErrorCode } from '../../src/errors.ts';

export type Rgb = readonly [number, number, number];

/** A lossless single-colour PNG. */
export async function solidPng(width: number, height: number, [r, g, b]: Rgb): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).png().toBuffer();
}

/** Deterministic noise: compresses badly, so cutting the file loses real image data. */
export function noisePixels(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  let x = 12345;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

export function noise(width: number, height: number): Sharp {
  return sharp(noisePixels(width, height), { raw: { width, height, channels: 3 } });
}

/** Raw RGB pixels whose columns are painted by `colourAt(x)`. */
export function columns(width: number, height: number, colourAt: (x: number) => Rgb): Sharp {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colourAt(x), (y * width + x) * 3);
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

// --- hand-made PNGs: only a header, or a real file with a huge canvas ---


function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = bitDepth;
  data[9] = colourType;
  return chunk('IHDR', data);
}

/** A valid IHDR claiming width x height, followed by a tiny IDAT that holds almost nothing. */
export function pngHeaderOnly(width: number, height: number): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 8, 2), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * A complete, valid 1-bit greyscale PNG of one colour: every row is a filter byte and
 * zero bits, which deflate squeezes ~1000:1. A 10000x10000 canvas fits in ~15 KB.
 */
export function bombPng(width: number, height: number): Buffer {
  const rowBytes = 1 + Math.ceil(width / 8);
  const idat = deflateSync(Buffer.alloc(rowBytes * height), { level: 9 });
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 1, 0), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** An animated GIF of `frames` distinct frames; frame 0 is red, the rest black with one green pixel. */
export async function animatedGif(frames: number, side = 16): Promise<Buffer> {
  const page = side * side;
  const data = Buffer.alloc(page * frames * 4);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < page; i++) {
      const o = (f * page + i) * 4;
      data[o] = f === 0 ? 255 : 0;
      data[o + 3] = 255;
    }
    if (f > 0) data[(f * page + (f % page)) * 4 + 1] = 255; // keeps frames distinct
  }
  return sharp(data, { raw: { width: side, height: side * frames, channels: 4, pageHeight: side } })
    .gif({ effort: 1, dither: 0 })
    .toBuffer();
}

/** Asserts a promise rejects with a GroknetError of the given code; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<GroknetError> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof GroknetError)) throw new Error(`expected GroknetError(${code}), got ${String(error)}`);
    if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  throw new Error(`expected GroknetError(${code}), but it resolved`);
}

export function throwsWith(fn: () => unknown, code: ErrorCode): GroknetError {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof GroknetError)) throw new Error(`expected GroknetError(${code}), got ${String(error)}`);
    if (error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  throw new Error(`expected GroknetError(${code}), but nothing was thrown`);
}

/** The RGB triple at (x, y) of interleaved RGB pixels. */
export function pixelAt(data: Uint8Array, width: number, x: number, y: number): [number, number, number] {
  const o = (y * width + x) * 3;
  return [data[o]!, data[o + 1]!, data[o + 2]!];
}
