// Pixels and vector art to PNG bytes: what the rest of groknet writes as images without
// importing sharp itself (the favicon, dataset samples, segmentation masks, product crops).
import sharp from 'sharp';
import type { DecodedImage } from './decode.ts';
import type { Rect } from './geometry.ts';

/** An SVG rendered at `density` DPI and scaled to `side` x `side` pixels, as PNG. */
export async function renderSvgPng(svg: Buffer, side: number, density: number): Promise<Buffer> {
  return sharp(svg, { density }).resize(side, side).png().toBuffer();
}

/**
 * Grey pixels, one byte each (row-major), as a PNG with sharp's defaults: an 8-bit RGB PNG
 * with the grey in each channel (what the Fashion-MNIST samples have always been written as).
 */
export async function greyPixelsToPng(pixels: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(pixels, { raw: { width, height, channels: 1 } }).png().toBuffer();
}

/** RGB pixels, three bytes each (row-major), as a PNG (the model switch's probe images). */
export async function rgbPixelsToPng(pixels: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/**
 * Label indices (one byte per pixel) as an 8-bit greyscale PNG whose values are the
 * indices: no palette, no colour profile, most compressed (masks are written once, read often).
 */
export async function encodeLabelMaskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 9, palette: false })
    .toBuffer();
}

/**
 * `rect` of a decoded photo, shrunk to fit `maxSide` (never enlarged), as a fast lossless PNG:
 * for bytes that only live until the analyser decodes them again.
 */
export async function cropDecodedToPng(image: DecodedImage, rect: Rect, maxSide: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract(rect)
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .png({ compressionLevel: 1 })
    .toBuffer();
}
