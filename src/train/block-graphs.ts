// Pieces of the hand-written ONNX training graphs shared by the trainable backbone blocks
// (block 15 in block15.ts; block 16 + Conv_1 in upper-trunk.ts). Tensors are rows:
// [images * positions, channels], the positions of one image consecutive (NHWC order).
// Hand-written because ONNX Runtime's training API is not in onnxruntime-node; every
// gradient is checked against finite differences in test/train.
import type { GraphBuilder } from '../model/onnx/graph-builder.ts';

export const relu6 = (g: GraphBuilder, x: string) => g.op1('Clip', [x, g.constFloat('zero', [], [0]), g.constFloat('six', [], [6])]);
/** ReLU6's derivative: 1 where 0 < z < 6. */
export const gate = (g: GraphBuilder, z: string) =>
  g.op1('Cast', [g.op1('And', [g.op1('Greater', [z, g.constFloat('zero', [], [0])]), g.op1('Less', [z, g.constFloat('six', [], [6])])])], { to: 1 });
export const sumRows = (g: GraphBuilder, x: string, out: string) => g.opInto('ReduceSum', [x, g.constInt64('axis0', [1], [0])], [out], { keepdims: 0 });
export const transposed = (g: GraphBuilder, x: string) => g.op1('Transpose', [x], { perm: [1, 0] });

/** Rows <-> NCHW maps of a fixed spatial size (the depthwise conv needs the map). */
export function layout(height: number, width: number) {
  const toNchw = (g: GraphBuilder, rows: string, channels: number) =>
    g.op1('Transpose', [g.op1('Reshape', [rows, g.constInt64(`nhwc${channels}`, [4], [-1, height, width, channels])])], { perm: [0, 3, 1, 2] });
  const toRows = (g: GraphBuilder, nchw: string, channels: number) => g.op1('Reshape', [g.op1('Transpose', [nchw], { perm: [0, 2, 3, 1] }), g.constInt64(`rows${channels}`, [2], [-1, channels])]);
  return { toNchw, toRows };
}

/**
 * Forward through one inverted-residual block without its shortcut: writes 'ze' (expand,
 * before ReLU6), 'zd' (depthwise, before ReLU6) and returns the projection's output.
 * Reads graph inputs 'x', 'we', 'be', 'wd', 'bd', 'wp', 'bp'.
 */
export function blockForward(g: GraphBuilder, height: number, width: number, expand: number): string {
  const { toNchw, toRows } = layout(height, width);
  g.opInto('Add', [g.op1('MatMul', ['x', 'we']), 'be'], ['ze']);
  const depthwise = g.op1('Conv', [toNchw(g, relu6(g, 'ze'), expand), 'wd', 'bd'], { group: expand, kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.opInto('Identity', [toRows(g, depthwise, expand)], ['zd']);
  return g.op1('Add', [g.op1('MatMul', [relu6(g, 'zd'), 'wp']), 'bp']);
}

/**
 * Backward through one inverted-residual block from `dp`, the gradient at its projection's
 * output: writes g_wp, g_bp, g_wd, g_bd, g_we, g_be and, with `inputGradient`, 'dx' (the
 * gradient reaching the block's input through its layers; a shortcut adds its own part).
 * Reads graph inputs 'x', 'ze', 'zd', 'wp', 'wd_flipped' and, with `inputGradient`, 'we'.
 */
export function blockBackward(g: GraphBuilder, height: number, width: number, expand: number, dp: string, inputGradient: boolean): void {
  const { toNchw, toRows } = layout(height, width);
  g.opInto('MatMul', [transposed(g, relu6(g, 'zd')), dp], ['g_wp']);
  sumRows(g, dp, 'g_bp');
  const dzd = g.op1('Mul', [g.op1('MatMul', [dp, transposed(g, 'wp')]), gate(g, 'zd')]);
  sumRows(g, dzd, 'g_bd');
  // Depthwise kernel gradient: per tap (ky, kx), the padded input shifted by the tap times the output gradient, summed.
  const dzdMap = toNchw(g, dzd, expand);
  const padded = g.op1('Pad', [toNchw(g, relu6(g, 'ze'), expand), g.constInt64('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1])]);
  const taps: string[] = [];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      const shifted = g.op1('Slice', [padded, g.constInt64('starts', [2], [ky, kx]), g.constInt64('ends', [2], [ky + height, kx + width]), g.constInt64('axes', [2], [2, 3])]);
      taps.push(g.op1('ReduceSum', [g.op1('Mul', [shifted, dzdMap]), g.constInt64('nhw', [3], [0, 2, 3])], { keepdims: 0 }));
    }
  }
  const stacked = g.op1('Concat', taps.map((t) => g.op1('Unsqueeze', [t, g.constInt64('last', [1], [1])])), { axis: 1 });
  g.opInto('Reshape', [stacked, g.constInt64('kernel', [4], [expand, 1, 3, 3])], ['g_wd']);
  // The depthwise kernel turned 180 degrees: its transposed convolution carries the gradient to its input.
  const de = toRows(g, g.op1('Conv', [dzdMap, 'wd_flipped'], { group: expand, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), expand);
  const dze = g.op1('Mul', [de, gate(g, 'ze')]);
  g.opInto('MatMul', [transposed(g, 'x'), dze], ['g_we']);
  sumRows(g, dze, 'g_be');
  if (inputGradient) g.opInto('MatMul', [dze, transposed(g, 'we')], ['dx']);
}

/** A depthwise kernel [C, 1, 3, 3] turned 180 degrees. */
export function flipKernel(wd: Float32Array): Float32Array {
  const out = new Float32Array(wd.length);
  for (let c = 0; c < wd.length / 9; c++) for (let k = 0; k < 9; k++) out[c * 9 + k] = wd[c * 9 + 8 - k]!;
  return out;
}
