// Decodes untrusted image bytes into 8-bit sRGB pixels. Every size check happens on the
// bytes and on the header before sharp allocates a single pixel buffer.

import { constants as fsConstants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { fromFsError, GroknetError } from '../errors.ts';
import { printablePath, type FsPath } from '../util/file-names.ts';
import { formatName, sniffFormat, type ImageFamily, type ImageFormat } from './formats.ts';
import { resolveImageLimits, type ImageLimits } from './limits.ts';
import { fromSharpError } from './sharp-errors.ts';

export interface DecodedImage {
  /** Interleaved RGB, 8 bits per channel, row-major, no alpha: width * height * 3 bytes. */
  data: Buffer;
  width: number;
  height: number;
  format: ImageFormat;
}

/** What the header says, after the checks; width and height already follow EXIF orientation. */
export interface ImageHeader {
  family: ImageFamily;
  format: ImageFormat;
  width: number;
  height: number;
}

/** Alpha is composited onto white: product photos with transparency are cut-outs on white. */
export const FLATTEN_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

// Backstop against pathological inputs the header checks cannot foresee.
const DECODE_TIMEOUT_SECONDS = 30;

/** Checks the bytes and header only; throws a GroknetError for anything refused. */
export async function readImageHeader(input: Buffer, limits: ImageLimits): Promise<ImageHeader> {
  if (!Buffer.isBuffer(input)) throw new GroknetError('invalid_argument', 'image input must be a Buffer');
  if (input.length === 0) throw new GroknetError('empty_file');
  if (input.length > limits.maxInputBytes) {
    throw new GroknetError('too_large', `${input.length} bytes exceeds the limit of ${limits.maxInputBytes} bytes`);
  }
  const sniffed = sniffFormat(input);
  if (sniffed.kind === 'unsupported') throw new GroknetError('unsupported_format', sniffed.name);
  if (sniffed.kind === 'unknown') throw new GroknetError('not_an_image');
  const family = sniffed.family;

  let meta: Metadata;
  try {
    // Header only: no pixels are decoded, so the pixel limit is off here and checked below
    // with the real numbers (sharp would only say "exceeds pixel limit").
    meta = await sharp(input, { limitInputPixels: false, pages: 1 }).metadata();
  } catch (error) {
    throw fromSharpError(error, family);
  }
  // Defence in depth: the decoder sharp picked must be the one the magic bytes named.
  if (meta.format !== family) throw new GroknetError('unsupported_format', `${meta.format} data in a ${family} file`);

  const { width, height } = meta;
  if (!(width > 0 && height > 0)) throw new GroknetError('truncated', 'the header has no valid size');
  if (width > limits.maxDimension || height > limits.maxDimension) {
    throw new GroknetError('too_large', `${width}x${height} exceeds the limit of ${limits.maxDimension} pixels per side`);
  }
  if (width * height > limits.maxPixels) {
    throw new GroknetError('too_large', `${width}x${height} exceeds the limit of ${limits.maxPixels} pixels`);
  }
  const oriented = meta.autoOrient ?? { width, height };
  return { family, format: formatName(family, meta.compression), width: oriented.width, height: oriented.height };
}

/**
 * The decoding half of every pipeline: first frame only (an animated GIF with thousands of
 * frames costs one frame), EXIF orientation applied, damaged data refused rather than
 * grey-filled. Call only after readImageHeader accepted the same input.
 */
export function openImage(input: Buffer, limits: ImageLimits): Sharp {
  return sharp(input, {
    // 'error' catches truncation and hard decoder errors; 'warning' would also refuse the
    // many real camera JPEGs that carry harmless libjpeg warnings.
    failOn: 'error',
    limitInputPixels: limits.maxPixels,
    pages: 1,
    page: 0,
    autoOrient: true,
  }).timeout({ seconds: DECODE_TIMEOUT_SECONDS });
}

export interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
}

/** Finishes a pipeline as flattened 8-bit sRGB (CMYK, 16-bit and grey all end up here). */
export async function toRawRgb(pipeline: Sharp, family: ImageFamily | undefined): Promise<RawRgb> {
  let result: { data: Buffer; info: OutputInfo };
  try {
    result = await pipeline
      .flatten({ background: FLATTEN_BACKGROUND })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw fromSharpError(error, family);
  }
  const { data, info } = result;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new GroknetError('internal', `decoder returned ${info.channels} channels`);
  }
  return { data, width: info.width, height: info.height };
}

/** Decodes encoded image bytes into RGB pixels at full resolution. */
export async function decodeImage(input: Buffer, limits?: Partial<ImageLimits>): Promise<DecodedImage> {
  const resolved = resolveImageLimits(limits);
  const header = await readImageHeader(input, resolved);
  const raw = await toRawRgb(openImage(input, resolved), header.family);
  return { ...raw, format: header.format };
}

/** Reads a file with the size checked first, then decodes it. */
export async function readImageFile(path: string, limits?: Partial<ImageLimits>): Promise<DecodedImage> {
  const resolved = resolveImageLimits(limits);
  return decodeImage(await readLimitedFile(path, resolved.maxInputBytes), resolved);
}

/**
 * Reads a regular file of at most `maxBytes`. Only the file name goes into errors, never
 * the full path. FIFOs and devices are refused: reading them can block or never end. A
 * Buffer path is a name that is not UTF-8, opened byte for byte.
 */
export async function readLimitedFile(path: FsPath, maxBytes: number): Promise<Buffer> {
  if (!(typeof path === 'string' || Buffer.isBuffer(path)) || path.length === 0) throw new GroknetError('invalid_argument', 'path must be a non-empty string or Buffer');
  const name = basename(printablePath(path));
  const before = await stat(path).catch((error: unknown) => {
    throw fromFsError(error, name);
  });
  if (before.isDirectory()) throw new GroknetError('not_an_image', `${name} is a directory`);
  if (!before.isFile()) throw new GroknetError('not_an_image', `${name} is not a regular file`);
  if (before.size > maxBytes) throw new GroknetError('too_large', `${before.size} bytes exceeds the limit of ${maxBytes} bytes`);

  // O_NONBLOCK: if the path was swapped for a FIFO since stat, open must not wait for a writer.
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).catch((error: unknown) => {
    throw fromFsError(error, name);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new GroknetError('not_an_image', `${name} is not a regular file`);
    if (info.size > maxBytes) throw new GroknetError('too_large', `${info.size} bytes exceeds the limit of ${maxBytes} bytes`);
    if (info.size === 0) throw new GroknetError('empty_file', name);
    const buffer = Buffer.alloc(info.size);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled).catch((error: unknown) => {
        throw fromFsError(error, name); // EIO and the like: this file's error line, not a crash
      });
      if (bytesRead === 0) break; // the file shrank while being read
      filled += bytesRead;
    }
    return filled === buffer.length ? buffer : buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
