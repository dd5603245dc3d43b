// The trainable upper trunk: MobileNetV2's last inverted-residual block (block 16) and its
// final 1x1 conv (Conv_1), re-created from the packaged backbone's weights (batch norms
// are folded by the TF.js export) so the trainer can fine-tune them and the exported heads
// graph can run them. The backbone is then cut at block 15's output, which feeds this.
//
//   block 15 (7x7x224) -> expand 1x1 -> 1344, ReLU6 -> depthwise 3x3, ReLU6
//                      -> project 1x1 -> 448 (no residual: widths differ) -> Conv_1 1x1 -> 1792, ReLU6
import { GroknetError } from '../../errors.ts';
import { BACKBONES, backboneSpec, type BackboneSpec } from '../backbones/registry.ts';
import type { GraphBuilder } from '../onnx/graph-builder.ts';
import { loadPackagedTfjsModel } from '../tfjs/packaged-models.ts';
import { decodeTfjsWeights } from '../tfjs/weights.ts';
import { appendInvertedResidual, readInvertedResidual, type TakeWeight } from './inverted-residual.ts';

export const UPPER_TRUNK_BACKBONE = 'nsfwjs/mobilenet_v2_mid';
export const BLOCK16 = { in: 224, expand: 1344, project: 448, out: 1792 } as const;

/** Parameter names in a fixed order (checkpoints and the export rely on it). */
export const UPPER_TRUNK_PARAMS = ['we', 'be', 'wd', 'bd', 'wp', 'bp', 'w1', 'b1'] as const;
export type UpperTrunkParam = (typeof UPPER_TRUNK_PARAMS)[number];
export type UpperTrunkWeights = Record<UpperTrunkParam, Float32Array>;

/** ONNX shapes: 1x1 kernels as [in, out] MatMul weights, the depthwise kernel as Conv's [C, 1, 3, 3]. */
export const UPPER_TRUNK_DIMS: Record<UpperTrunkParam, number[]> = {
  we: [BLOCK16.in, BLOCK16.expand],
  be: [BLOCK16.expand],
  wd: [BLOCK16.expand, 1, 3, 3],
  bd: [BLOCK16.expand],
  wp: [BLOCK16.expand, BLOCK16.project],
  bp: [BLOCK16.project],
  w1: [BLOCK16.project, BLOCK16.out],
  b1: [BLOCK16.out],
};

export function mobilenetPrefix(): string {
  return backboneSpec(UPPER_TRUNK_BACKBONE).tensors.conv_1!.node.replace('/MobilenetV2/Conv_1/Relu6', '/MobilenetV2');
}

/** The backbone tensor the upper trunk reads: block 15's residual sum, NHWC. */
export function upperTrunkInputNode(): string {
  return `${mobilenetPrefix()}/expanded_conv_15/add`;
}

/** Whether a backbone has MobileNetV2's block 16 + Conv_1 to fine-tune: MobileNetV2 itself, or a fused backbone whose first part it is. */
export function hasUpperTrunk(backboneId: string): boolean {
  const spec = (BACKBONES as Record<string, BackboneSpec | undefined>)[backboneId];
  return (spec?.fused?.first ?? spec?.id) === UPPER_TRUNK_BACKBONE;
}

/** The backbones the trainer can fine-tune the upper trunk of. */
export function upperTrunkBackbones(): string[] {
  return Object.keys(BACKBONES).filter(hasUpperTrunk);
}

/** The backbone's own weights for the upper trunk, the starting point of fine-tuning. */
export function pretrainedUpperTrunk(backboneId: string): UpperTrunkWeights {
  if (!hasUpperTrunk(backboneId)) {
    throw new GroknetError('invalid_config', `a trainable upper trunk is available for ${upperTrunkBackbones().join(', ')} only, not ${backboneId}`);
  }
  const take = packagedWeightReader();
  return {
    ...readInvertedResidual(take, 16, BLOCK16),
    w1: take('Conv_1/Conv2D_weights', [1, 1, BLOCK16.project, BLOCK16.out]),
    b1: take('Conv_1/Conv2D_bn_offset', [BLOCK16.out]),
  };
}

/** Reads weights of the packaged backbone by their names under the MobileNetV2 scope, checking shapes. */
export function packagedWeightReader(): TakeWeight {
  const weights = decodeTfjsWeights(loadPackagedTfjsModel(UPPER_TRUNK_BACKBONE));
  const prefix = mobilenetPrefix();
  return (name, shape) => {
    const w = weights.get(`${prefix}/${name}`);
    if (!w || w.shape.join('x') !== shape.join('x')) throw new Error(`backbone weight ${name} is missing or has shape ${w?.shape.join('x')}, expected ${shape.join('x')}`);
    return Float32Array.from(w.data);
  };
}

export function checkUpperTrunkWeights(weights: UpperTrunkWeights): void {
  for (const name of UPPER_TRUNK_PARAMS) {
    const expected = UPPER_TRUNK_DIMS[name].reduce((a, b) => a * b, 1);
    if (weights[name]?.length !== expected) throw new Error(`upper trunk weight ${name} has ${weights[name]?.length} values, expected ${expected}`);
  }
}

/**
 * Appends the upper trunk to an inference graph: NHWC block-15 map [batch, h, w, 224] in,
 * NHWC Conv_1 map [batch, h, w, 1792] out (any spatial size; the depthwise conv pads by 1).
 */
export function appendUpperTrunk(g: GraphBuilder, input: string, weights: UpperTrunkWeights): string {
  checkUpperTrunkWeights(weights);
  const projected = appendInvertedResidual(g, input, weights, BLOCK16, 'upper');
  const c = (name: 'w1' | 'b1') => g.constFloat(`upper/${name}`, UPPER_TRUNK_DIMS[name], weights[name]);
  const relu6 = (x: string, hint: string) => g.op1('Clip', [x, g.constFloat('upper/zero', [], [0]), g.constFloat('upper/six', [], [6])], {}, hint);
  return relu6(g.op1('Add', [g.op1('MatMul', [projected, c('w1')]), c('b1')]), 'upper/conv_1');
}
