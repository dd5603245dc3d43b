// From image bytes (or decoded pixels) to a model-ready tensor. For encoded input the
// decode, EXIF rotation, flatten, resize and crop/pad run as one sharp pipeline: one
// decode per image, and JPEG shrink-on-load can skip most of the full-size work.

import sharp, { type Sharp } from 'sharp';
import { GroknetError } from '../errors.ts';
import { openImage, readImageHeader, toRawRgb, type DecodedImage } from './decode.ts';
import type { ImageFormat } from './formats.ts';
import { planResize, type Geometry, type ResizePlan, type Size } from './geometry.ts';
import { resolveImageLimits, type ImageLimits } from './limits.ts';
import { validatePreprocessSpec, type PreprocessSpec } from './spec.ts';
import { pixelsToTensor } from './tensor.ts';

export interface ModelInput {
  /** One image, shaped per spec.layout without the batch axis ([3,H,W] or [H,W,3]). */
  tensor: Float32Array;
  /** Size after EXIF orientation, the frame boxes are mapped back into. */
  original: Size;
  geometry: Geometry;
}

export interface LoadedModelInput extends ModelInput {
  format: ImageFormat;
}

const WHITE = [255, 255, 255] as const;

/** Decodes, checks and preprocesses encoded image bytes for a model. */
export async function loadForModel(input: Buffer, spec: PreprocessSpec, limits?: Partial<ImageLimits>): Promise<LoadedModelInput> {
  validatePreprocessSpec(spec);
  const resolved = resolveImageLimits(limits);
  const header = await readImageHeader(input, resolved);
  const original = { width: header.width, height: header.height };
  const { geometry, plan } = planResize(original, specSize(spec), spec.mode);
  const raw = await toRawRgb(applyPlan(openImage(input, resolved), plan, spec), header.family);
  return { tensor: pixelsToTensor(raw.data, raw.width, raw.height, spec), original, geometry, format: header.format };
}

/** Preprocesses an image decodeImage already returned (e.g. one also used for a thumbnail). */
export async function preprocessDecoded(image: DecodedImage, spec: PreprocessSpec): Promise<ModelInput> {
  validatePreprocessSpec(spec);
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * 3) {
    throw new GroknetError('invalid_argument', 'decoded image must hold width * height * 3 bytes of RGB');
  }
  const original = { width, height };
  const { geometry, plan } = planResize(original, specSize(spec), spec.mode);
  const pipeline = sharp(data, { raw: { width, height, channels: 3 } });
  const raw = await toRawRgb(applyPlan(pipeline, plan, spec), undefined);
  return { tensor: pixelsToTensor(raw.data, raw.width, raw.height, spec), original, geometry };
}

function specSize(spec: PreprocessSpec): Size {
  return { width: spec.size[1], height: spec.size[0] };
}

/** Adds the crop, resize and padding the plan describes. */
function applyPlan(pipeline: Sharp, plan: ResizePlan, spec: PreprocessSpec): Sharp {
  // sharp applies extract() before or after the resize depending on the call order.
  let p = plan.preCrop ? pipeline.extract(plan.preCrop) : pipeline;
  p = p.resize(plan.resize.width, plan.resize.height, { fit: 'fill' });
  if (plan.postCrop) p = p.extract(plan.postCrop);
  if (plan.pad) {
    const [r, g, b] = spec.fill ?? WHITE;
    p = p.extend({ ...plan.pad, background: { r, g, b, alpha: 1 } });
  }
  return p;
}
