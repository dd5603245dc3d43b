// How a model wants its input tensor: size, resize mode, layout and normalisation. One Zod
// schema for every place a spec comes from: the product model's model.json, the segmentation
// artifact's model.json, and the specs code builds (backbones, detectors, the trainers).

import { z } from 'zod';
import { GroknetError, zodIssuesText } from '../errors.ts';

/**
 * Largest input side a spec may ask for. A float32 tensor of 2048x2048x3 is 48 MiB per image
 * (8192, the old limit of code-built specs, was 768 MiB, enough to exhaust memory with one
 * batch from a mistyped model.json); the shipped models use 224 and 448x288, the detectors 512.
 */
export const MAX_INPUT_SIDE = 2048;

const inputSide = z.number().int().min(1).max(MAX_INPUT_SIDE);
// Zod 4 numbers refuse NaN and the infinities.
const finite = z.number();
const positive = finite.positive();
const channelValue = z.number().int().min(0).max(255);

export const ResizeModeSchema = z.enum(['center-crop', 'letterbox', 'stretch']);
export const TensorLayoutSchema = z.enum(['NHWC', 'NCHW']);
export const ChannelOrderSchema = z.enum(['RGB', 'BGR']);

export const PreprocessSpecSchema = z.strictObject({
  /** Model input size as [height, width]. */
  size: z.tuple([inputSide, inputSide]).readonly(),
  /**
   * center-crop: scale so the short side fits, crop the centre.
   * letterbox: scale so the whole image fits, pad with `fill`.
   * stretch: scale each axis independently (aspect ratio is lost).
   */
  mode: ResizeModeSchema,
  layout: TensorLayoutSchema,
  channelOrder: ChannelOrderSchema,
  /** Multiplies the 0..255 pixel first: 1/255 for 0..1 models, 1 for 0..255 models. */
  scale: positive,
  /**
   * value = (pixel * scale - mean[c]) / std[c]. mean and std are indexed by tensor channel,
   * i.e. in `channelOrder` (a BGR model lists its means as B, G, R, as Caffe models do).
   */
  mean: z.tuple([finite, finite, finite]).readonly(),
  std: z.tuple([positive, positive, positive]).readonly(),
  /** Letterbox padding colour as RGB 0..255; white when unset. */
  fill: z.tuple([channelValue, channelValue, channelValue]).readonly().optional(),
});

export type PreprocessSpec = z.infer<typeof PreprocessSpecSchema>;
export type ResizeMode = z.infer<typeof ResizeModeSchema>;
export type TensorLayout = z.infer<typeof TensorLayoutSchema>;
export type ChannelOrder = z.infer<typeof ChannelOrderSchema>;
export type Triple = readonly [number, number, number];

/** Specs come from model manifests; a bad one must fail loudly rather than produce garbage tensors. */
export function validatePreprocessSpec(spec: PreprocessSpec): void {
  const parsed = PreprocessSpecSchema.safeParse(spec);
  if (!parsed.success) throw new GroknetError('invalid_argument', `preprocess spec: ${zodIssuesText(parsed.error)}`);
}
