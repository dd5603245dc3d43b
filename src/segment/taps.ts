// Which backbone tensors the segmentation decoder reads, and how photos are prepared for
// it. The trunk is the same MobileNetV2-1.4 as the product model, but run on a tall
// letterboxed input: clothing photos are full-length portraits (about 320x480), and the
// product model's 224x224 centre crop would cut off heads and shoes. 352x224 keeps the
// whole photo (a few rows of padding) and makes every tap an exact 2x of the next, so
// the decoder's upsampling needs no cropping. It is the trainer's default; the shipped
// model is trained at 448x288 (`inputSize`, any multiples of 32), which its manifest records.
import type { PreprocessSpec } from '../model/manifest.ts';

export const SEGMENT_BACKBONE_ID = 'nsfwjs/mobilenet_v2_mid';

const PREFIX = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2';

export const SEGMENT_INPUT: PreprocessSpec = {
  size: [352, 224],
  mode: 'letterbox',
  layout: 'NHWC',
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

export interface Tap {
  /** TF node name, which is also the tensor name in the converted backbone and the decoder's input. */
  node: string;
  channels: number;
  /** Input pixels per feature-map cell. */
  stride: number;
}

/**
 * Coarse to fine. 1/32: the last 1x1 conv (what the product heads pool), the most semantic
 * map. 1/16: the expansion of the block that then downsamples, the deepest 1/16 tensor
 * (where LR-ASPP taps MobileNetV3). 1/8: a block output with only 48 channels, for
 * boundaries (DeepLabV3+'s low-level branch is as narrow).
 */
export const SEGMENT_TAPS: readonly Tap[] = [
  { node: `${PREFIX}/Conv_1/Relu6`, channels: 1792, stride: 32 },
  { node: `${PREFIX}/expanded_conv_13/expand/Relu6`, channels: 816, stride: 16 },
  { node: `${PREFIX}/expanded_conv_5/add`, channels: 48, stride: 8 },
];

/** [height, width] of a tap's map for an input of `size` ([height, width]); TF 'SAME' convs round up. */
export function tapSize(size: readonly [number, number], stride: number): [number, number] {
  return [Math.ceil(size[0] / stride), Math.ceil(size[1] / stride)];
}

/**
 * The taps with the coarsest one read elsewhere at the same stride: from a fine-tuned upper
 * trunk instead of the packaged Conv_1 (trunk.ts), or block 15's map below it.
 */
export function tapsWithUpperTrunk(node: string, channels = SEGMENT_TAPS[0]!.channels): Tap[] {
  return SEGMENT_TAPS.map((t, i) => (i === 0 ? { ...t, node, channels } : t));
}
