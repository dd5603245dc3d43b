// Block 15 of the backbone, re-created as trainable layers under the upper trunk (block 16 +
// Conv_1, block16.ts): the segmentation trainer may fine-tune it too. It is the last
// inverted-residual block whose input and output widths agree, so it keeps its identity
// shortcut; the backbone is then cut one block lower, at block 14's output.
//
//   block 14 (224 channels) -> expand 1x1 -> 1344, ReLU6 -> depthwise 3x3, ReLU6
//                           -> project 1x1 -> 224, + the block's input
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { mobilenetPrefix, packagedWeightReader } from './block16.ts';
import { appendInvertedResidual, readInvertedResidual } from './inverted-residual.ts';

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
  return readInvertedResidual(packagedWeightReader(), 15, { in: BLOCK15.in, expand: BLOCK15.expand, project: BLOCK15.out });
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
  const projected = appendInvertedResidual(g, input, weights, { in: BLOCK15.in, expand: BLOCK15.expand, project: BLOCK15.out }, 'block15');
  return g.op1('Add', [input, projected], {}, 'block15/add');
}
