// Block 15 of the backbone, re-created as trainable layers under the upper trunk (block 16 +
// Conv_1, block16.ts): the segmentation trainer may fine-tune it too. It is the last
// inverted-residual block whose input and output widths agree, so it keeps its identity
// shortcut; the backbone is then cut one block lower, at block 14's output.
//
//   block 14 (224 channels) -> expand 1x1 -> 1344, ReLU6 -> depthwise 3x3, ReLU6
//                           -> project 1x1 -> 224, + the block's input
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { loadPackagedTfjsModel } from '../tfjs/packaged-models.ts';
import { decodeTfjsWeights } from '../tfjs/weights.ts';
import { depthwiseToOnnx, mobilenetPrefix, UPPER_TRUNK_BACKBONE } from './block16.ts';

export const BLOCK15 = { in: 224, expand: 1344, out: 224 } as const;

/** Parameter names in a fixed order (the optimiser's state relies on it). */
export const BLOCK15_PARAMS = ['we', 'be', 'wd', 'bd', 'wp', 'bp'] as const;
export type Block15Param = (typeof BLOCK15_PARAMS)[number];
export type Block15Weights = Record<Block15Param, Float32Array>;

export const BLOCK15_DIMS: Record<Block15Param, number[]> = {
  we: [BLOCK15.in, BLOCK15.expand],
  be: [BLOCK15.expand],
  wd: [BLOCK15.expand, 1, 3, 3],
  bd: [BLOCK15.expand],
  wp: [BLOCK15.expand, BLOCK15.out],
  bp: [BLOCK15.out],
};

/** The backbone tensor block 15 reads: block 14's residual sum, NHWC. */
export function block15InputNode(): string {
  return `${mobilenetPrefix()}/expanded_conv_14/add`;
}

/** The packaged backbone's own block 15 (batch norms folded by the TF.js export). */
export function pretrainedBlock15(): Block15Weights {
  const weights = decodeTfjsWeights(loadPackagedTfjsModel(UPPER_TRUNK_BACKBONE));
  const prefix = mobilenetPrefix();
  const take = (name: string, shape: number[]): Float32Array => {
    const w = weights.get(`${prefix}/${name}`);
    if (!w || w.shape.join('x') !== shape.join('x')) throw new Error(`backbone weight ${name} is missing or has shape ${w?.shape.join('x')}, expected ${shape.join('x')}`);
    return Float32Array.from(w.data);
  };
  const { in: inC, expand, out } = BLOCK15;
  return {
    we: take('expanded_conv_15/expand/Conv2D_weights', [1, 1, inC, expand]),
    be: take('expanded_conv_15/expand/Conv2D_bn_offset', [expand]),
    wd: depthwiseToOnnx(take('expanded_conv_15/depthwise/depthwise_weights', [3, 3, expand, 1]), expand),
    bd: take('expanded_conv_15/depthwise/depthwise_bn_offset', [expand]),
    wp: take('expanded_conv_15/project/Conv2D_weights', [1, 1, expand, out]),
    bp: take('expanded_conv_15/project/Conv2D_bn_offset', [out]),
  };
}

export function checkBlock15Weights(weights: Block15Weights): void {
  for (const name of BLOCK15_PARAMS) {
    const expected = BLOCK15_DIMS[name].reduce((a, b) => a * b, 1);
    if (weights[name]?.length !== expected) throw new Error(`block 15 weight ${name} has ${weights[name]?.length} values, expected ${expected}`);
  }
}

/** Appends block 15 to an inference graph: NHWC block-14 map in, NHWC block-15 map out (the upper trunk's input). */
export function appendBlock15(g: GraphBuilder, input: string, weights: Block15Weights): string {
  checkBlock15Weights(weights);
  const c = (name: Block15Param) => g.constFloat(`block15/${name}`, BLOCK15_DIMS[name], weights[name]);
  const relu6 = (x: string, hint: string) => g.op1('Clip', [x, g.constFloat('block15/zero', [], [0]), g.constFloat('block15/six', [], [6])], {}, hint);
  const expanded = relu6(g.op1('Add', [g.op1('MatMul', [input, c('we')]), c('be')]), 'block15/expand');
  const nchw = g.op1('Transpose', [expanded], { perm: [0, 3, 1, 2] });
  const depthwise = g.op1('Conv', [nchw, c('wd'), c('bd')], { group: BLOCK15.expand, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'block15/depthwise');
  const nhwc = relu6(g.op1('Transpose', [depthwise], { perm: [0, 2, 3, 1] }), 'block15/depthwise_relu6');
  const projected = g.op1('Add', [g.op1('MatMul', [nhwc, c('wp')]), c('bp')], {}, 'block15/project');
  return g.op1('Add', [input, projected], {}, 'block15/add');
}
