// One MobileNetV2 inverted-residual block as the trainable layers see it: expand 1x1,
// ReLU6, depthwise 3x3, ReLU6, project 1x1 (batch norms folded by the TF.js export).
// Shared by block 15 (block15.ts) and block 16 (block16.ts): reading a block's weights
// out of the packaged backbone, and appending the block to an inference graph.
import type { GraphBuilder } from '../onnx/graph-builder.ts';

export interface InvertedResidualDims {
  in: number;
  expand: number;
  project: number;
}

export interface InvertedResidualWeights {
  we: Float32Array;
  be: Float32Array;
  wd: Float32Array;
  bd: Float32Array;
  wp: Float32Array;
  bp: Float32Array;
}

/** TF's depthwise kernel [3, 3, C, 1] as ONNX Conv's [C, 1, 3, 3]. */
export function depthwiseToOnnx(hwc: Float32Array, channels: number): Float32Array {
  const out = new Float32Array(channels * 9);
  for (let k = 0; k < 9; k++) for (let c = 0; c < channels; c++) out[c * 9 + k] = hwc[k * channels + c]!;
  return out;
}

/** A weight of the packaged backbone by its name under the MobileNetV2 scope, checked against its shape. */
export type TakeWeight = (name: string, shape: number[]) => Float32Array;

/** Block `block` (expanded_conv_N) of the packaged backbone, as ONNX-shaped weights. */
export function readInvertedResidual(take: TakeWeight, block: number, dims: InvertedResidualDims): InvertedResidualWeights {
  const scope = `expanded_conv_${block}`;
  return {
    we: take(`${scope}/expand/Conv2D_weights`, [1, 1, dims.in, dims.expand]),
    be: take(`${scope}/expand/Conv2D_bn_offset`, [dims.expand]),
    wd: depthwiseToOnnx(take(`${scope}/depthwise/depthwise_weights`, [3, 3, dims.expand, 1]), dims.expand),
    bd: take(`${scope}/depthwise/depthwise_bn_offset`, [dims.expand]),
    wp: take(`${scope}/project/Conv2D_weights`, [1, 1, dims.expand, dims.project]),
    bp: take(`${scope}/project/Conv2D_bn_offset`, [dims.project]),
  };
}

/**
 * Appends the block (without a shortcut) to an inference graph: NHWC map in, NHWC projection
 * out. Initializers are named `${scope}/we`, ... (the readers of exported graphs rely on it).
 */
export function appendInvertedResidual(g: GraphBuilder, input: string, weights: InvertedResidualWeights, dims: InvertedResidualDims, scope: string): string {
  const c = (name: keyof InvertedResidualWeights, shape: number[]) => g.constFloat(`${scope}/${name}`, shape, weights[name]);
  const relu6 = (x: string, hint: string) => g.op1('Clip', [x, g.constFloat(`${scope}/zero`, [], [0]), g.constFloat(`${scope}/six`, [], [6])], {}, hint);
  const expanded = relu6(g.op1('Add', [g.op1('MatMul', [input, c('we', [dims.in, dims.expand])]), c('be', [dims.expand])]), `${scope}/expand`);
  const nchw = g.op1('Transpose', [expanded], { perm: [0, 3, 1, 2] });
  const depthwise = g.op1('Conv', [nchw, c('wd', [dims.expand, 1, 3, 3]), c('bd', [dims.expand])], { group: dims.expand, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, `${scope}/depthwise`);
  const nhwc = relu6(g.op1('Transpose', [depthwise], { perm: [0, 2, 3, 1] }), `${scope}/depthwise_relu6`);
  return g.op1('Add', [g.op1('MatMul', [nhwc, c('wp', [dims.expand, dims.project])]), c('bp', [dims.project])], {}, `${scope}/project`);
}
