// How a model wants its input tensor: size, resize mode, layout and normalisation.

import { GroknetError } from '../errors.ts';

export type ResizeMode = 'center-crop' | 'letterbox' | 'stretch';
export type TensorLayout = 'NHWC' | 'NCHW';
export type ChannelOrder = 'RGB' | 'BGR';
export type Triple = readonly [number, number, number];

export interface PreprocessSpec {
  /** Model input size as [height, width]. */
  readonly size: readonly [number, number];
  /**
   * center-crop: scale so the short side fits, crop the centre.
   * letterbox: scale so the whole image fits, pad with `fill`.
   * stretch: scale each axis independently (aspect ratio is lost).
   */
  readonly mode: ResizeMode;
  readonly layout: TensorLayout;
  readonly channelOrder: ChannelOrder;
  /**
   * value = (pixel * scale - mean[c]) / std[c]. mean and std are indexed by tensor channel,
   * i.e. in `channelOrder` (a BGR model lists its means as B, G, R, as Caffe models do).
   */
  readonly mean: Triple;
  readonly std: Triple;
  /** Multiplies the 0..255 pixel first: 1/255 for 0..1 models, 1 for 0..255 models. */
  readonly scale: number;
  /** Letterbox padding colour as RGB 0..255; white when unset. */
  readonly fill?: Triple;
}

const MAX_SIDE = 8192;

function isTriple(value: unknown): value is Triple {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** Specs come from model manifests; a bad one must fail loudly rather than produce garbage tensors. */
export function validatePreprocessSpec(spec: PreprocessSpec): void {
  const bad = (why: string): never => {
    throw new GroknetError('invalid_argument', `preprocess spec: ${why}`);
  };
  if (spec === null || typeof spec !== 'object') bad('must be an object');
  const { size } = spec;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s >= 1 && s <= MAX_SIDE)) {
    bad(`size must be [height, width] with integers from 1 to ${MAX_SIDE}`);
  }
  if (!['center-crop', 'letterbox', 'stretch'].includes(spec.mode)) bad(`unknown mode "${String(spec.mode)}"`);
  if (!['NHWC', 'NCHW'].includes(spec.layout)) bad(`unknown layout "${String(spec.layout)}"`);
  if (!['RGB', 'BGR'].includes(spec.channelOrder)) bad(`unknown channel order "${String(spec.channelOrder)}"`);
  if (!isTriple(spec.mean)) bad('mean must be 3 finite numbers');
  if (!isTriple(spec.std) || !spec.std.every((s) => s > 0)) bad('std must be 3 positive numbers');
  if (typeof spec.scale !== 'number' || !Number.isFinite(spec.scale) || spec.scale <= 0) bad('scale must be a positive number');
  if (spec.fill !== undefined && (!isTriple(spec.fill) || !spec.fill.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))) {
    bad('fill must be 3 integers from 0 to 255');
  }
}
