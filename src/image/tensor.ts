// Turns model-sized RGB pixels into normalised Float32 tensors, and tensors into batches.

import { GroknetError } from '../errors.ts';
import type { PreprocessSpec } from './spec.ts';

export type TensorShape = [number, number, number, number];

/** Shape of a batch of `n` images for this spec: [N,3,H,W] or [N,H,W,3]. */
export function tensorShape(spec: PreprocessSpec, n: number): TensorShape {
  const [h, w] = spec.size;
  return spec.layout === 'NCHW' ? [n, 3, h, w] : [n, h, w, 3];
}

/**
 * `rgb` is interleaved RGB of exactly the spec size. A 3x256 lookup table does the
 * arithmetic once per possible value instead of once per pixel.
 */
export function pixelsToTensor(rgb: Uint8Array, width: number, height: number, spec: PreprocessSpec): Float32Array {
  const [h, w] = spec.size;
  if (width !== w || height !== h || rgb.length !== w * h * 3) {
    throw new GroknetError('invalid_argument', `pixels are ${width}x${height} (${rgb.length} bytes), the spec wants ${w}x${h} RGB`);
  }
  // Tensor channel c reads source channel src[c] and is normalised with mean[c] / std[c].
  const src = spec.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * spec.scale - spec.mean[c]!) / spec.std[c]!;
  }
  const pixels = w * h;
  const out = new Float32Array(pixels * 3);
  for (let c = 0; c < 3; c++) {
    const s = src[c]!;
    const base = c * 256;
    if (spec.layout === 'NCHW') {
      const plane = c * pixels;
      for (let i = 0; i < pixels; i++) out[plane + i] = lut[base + rgb[i * 3 + s]!]!;
    } else {
      for (let i = 0; i < pixels; i++) out[i * 3 + c] = lut[base + rgb[i * 3 + s]!]!;
    }
  }
  return out;
}

/** Concatenates per-image tensors (each the output of pixelsToTensor for `spec`) into one batch. */
export function toTensorBatch(images: readonly Float32Array[], spec: PreprocessSpec): { data: Float32Array; shape: TensorShape } {
  if (images.length === 0) throw new GroknetError('invalid_argument', 'a batch needs at least one image');
  const [h, w] = spec.size;
  const per = h * w * 3;
  const data = new Float32Array(per * images.length);
  images.forEach((image, i) => {
    if (image.length !== per) {
      throw new GroknetError('invalid_argument', `image ${i} has ${image.length} values, the spec wants ${per}`);
    }
    data.set(image, i * per);
  });
  return { data, shape: tensorShape(spec, images.length) };
}

/** RGB pixels recovered from a model input tensor, keeping every `stride`-th pixel each way. */
export function tensorToRgb(tensor: Float32Array, spec: PreprocessSpec, stride = 1): { rgb: Uint8Array; width: number; height: number } {
  const [fullHeight, fullWidth] = spec.size;
  const width = Math.ceil(fullWidth / stride);
  const height = Math.ceil(fullHeight / stride);
  const rgb = new Uint8Array(width * height * 3);
  const plane = fullWidth * fullHeight;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * stride * fullWidth + x * stride;
      for (let c = 0; c < 3; c++) {
        // Tensor channel k holds RGB channel c (BGR order reverses them).
        const k = spec.channelOrder === 'BGR' ? 2 - c : c;
        const value = spec.layout === 'NHWC' ? tensor[p * 3 + k]! : tensor[k * plane + p]!;
        rgb[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round((value * spec.std[k]! + spec.mean[k]!) / spec.scale)));
      }
    }
  }
  return { rgb, width, height };
}
