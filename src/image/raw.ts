// Work on raw pixels (interleaved 8-bit, no container) with sharp: resizing a decoded photo,
// colour changes for augmentation, reading a file's pixels as they are stored.
import sharp from 'sharp';
import { GroknetError } from '../errors.ts';
import type { DecodedImage } from './decode.ts';

/** Interleaved RGB pixels, 8 bits per channel, row-major. */
export interface RgbPixels {
  data: Buffer;
  width: number;
  height: number;
}

/** The image with its long side at most `maxSide` (the same image when it already fits). */
export async function shrinkToFit(image: DecodedImage, maxSide: number): Promise<DecodedImage> {
  if (Math.max(image.width, image.height) <= maxSide) return image;
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize({ width: maxSide, height: maxSide, fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new GroknetError('internal', `resize returned ${info.channels} channels`);
  return { data, width: info.width, height: info.height, format: image.format };
}

/**
 * The pixels as a thumbnail: long side `maxSide`, through a JPEG of `quality` and back, so
 * the detail and the compression artefacts of a small listing photo are both there.
 */
export async function thumbnailPixels(pixels: RgbPixels, maxSide: number, quality: number): Promise<RgbPixels> {
  const jpeg = await sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } })
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality })
    .toBuffer();
  const { data, info } = await sharp(jpeg).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new GroknetError('internal', `thumbnail returned ${info.channels} channels`);
  return { data, width: info.width, height: info.height };
}

/** Colour changes: brightness, saturation (multipliers), hue rotation (degrees), contrast about mid-grey. */
export interface ColourChange {
  brightness: number;
  saturation: number;
  hue: number;
  contrast: number;
}

/**
 * The pixels with `change` applied, same size: sharp's modulate (brightness, saturation,
 * hue rotation in its LCh space) then a linear contrast about 128, so no hand-written
 * colour-space code.
 */
export async function changeColours(pixels: RgbPixels, change: ColourChange): Promise<RgbPixels> {
  const { data, width, height } = pixels;
  const out = await sharp(data, { raw: { width, height, channels: 3 } })
    .modulate({ brightness: change.brightness, saturation: change.saturation, hue: change.hue })
    .linear(change.contrast, 128 * (1 - change.contrast))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (out.info.width !== width || out.info.height !== height || out.info.channels !== 3) {
    throw new Error(`colour change altered the image's shape (${out.info.width}x${out.info.height}x${out.info.channels})`);
  }
  return { data: out.data, width, height };
}

/**
 * An image file's pixels as stored, interleaved with as many channels as it has (no
 * orientation, colour conversion or limits: for the project's own dataset files, such as masks).
 */
export async function readStoredPixels(file: string): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
