// Pieces of the hand-written ONNX training graphs shared by the trainable backbone blocks
// (block 15 in block15.ts; block 16 + Conv_1 in upper-trunk.ts). Inside the graphs tensors
// are channel-major, [channels, images * positions] (the positions of one image consecutive,
// row-major): every 1x1 conv is then one GEMM and every depthwise conv one batched MatMul per
// channel (class Depthwise), with no layout transposes between them. The row-major layout this
// replaced spent ~45% of a training step on NCHW transposes, ONNX Runtime's grouped Conv and
// sliced copies for the depthwise kernel's gradient (BENCHMARKS.md, "Trainable upper trunk").
// The graphs' inputs and outputs stay rows, [images * positions, channels]: `toColumns` and
// `toRows` convert at the edges. Hand-written because ONNX Runtime's training API is not in
// onnxruntime-node; every gradient is checked against finite differences in test/train.
import type { GraphBuilder } from '../model/onnx/graph-builder.ts';

/** How a training graph's forward pass runs: `gradients: false` (inference) keeps nothing for a gradient. */
export interface ForwardOptions {
  gradients?: boolean;
}

export const NO_GRADIENT = 'this forward pass ran without gradients ({ gradients: false }): it kept nothing to differentiate';

export const relu6 = (g: GraphBuilder, x: string) => g.op1('Clip', [x, g.constFloat('zero', [], [0]), g.constFloat('six', [], [6])]);
/** The gradient `dy` through ReLU6 at its input `z`: dy where 0 < z < 6, else 0 (a mask times dy: ONNX Runtime's Where was slower). */
export const throughRelu6 = (g: GraphBuilder, dy: string, z: string) =>
  g.op1('Mul', [dy, g.op1('Cast', [g.op1('And', [g.op1('Greater', [z, g.constFloat('zero', [], [0])]), g.op1('Less', [z, g.constFloat('six', [], [6])])])], { to: 1 })]);
/** Sum over the images and positions of a channel-major tensor: [channels]. */
export const sumColumns = (g: GraphBuilder, x: string, out: string) => g.opInto('ReduceSum', [x, g.constInt64('axis1', [1], [1])], [out], { keepdims: 0 });
/** Rows [n, c] <-> channel-major [c, n]. */
export const toColumns = (g: GraphBuilder, rows: string) => g.op1('Transpose', [rows], { perm: [1, 0] });
export const toRows = toColumns;
/** A bias [c] as a column [c, 1], to add to a channel-major tensor. */
export const column = (g: GraphBuilder, bias: string, channels: number) => g.op1('Reshape', [bias, g.constInt64(`column${channels}`, [2], [channels, 1])]);
/** kernel^T x + bias for a kernel [in, out] and a channel-major x [in, n]: [out, n]. */
const linear = (g: GraphBuilder, kernel: string, x: string, bias: string, out: number) => g.op1('Gemm', [kernel, x, column(g, bias, out)], { transA: 1 });
/** The gradient of `linear`'s kernel, x dy^T: [in, out]. */
export const kernelGradient = (g: GraphBuilder, x: string, dy: string, out: string) => g.opInto('Gemm', [x, dy], [out], { transB: 1 });

/**
 * The 3x3 same-padded conv on an h x w map as 9 band matrices: S[k][i * P + j] = 1 where output
 * position j reads input position i through tap k (k = ky * 3 + kx, as a [C, 1, 3, 3] kernel is
 * laid out), P = h * w positions.
 */
export function tapMatrices(height: number, width: number): Float32Array {
  const positions = height * width;
  const s = new Float32Array(9 * positions * positions);
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const [iy, ix] = [y + ky - 1, x + kx - 1];
          if (iy >= 0 && iy < height && ix >= 0 && ix < width) s[(ky * 3 + kx) * positions * positions + (iy * width + ix) * positions + y * width + x] = 1;
        }
      }
    }
  }
  return s;
}

/**
 * A depthwise 3x3 conv as one batched product per channel: the map of each image [P] times the
 * channel's [P, P] band matrix (its 9 taps placed by tapMatrices). ONNX Runtime's grouped Conv
 * runs a depthwise conv at ~3 GFLOP/s here (one tiny GEMM per channel and image); the batched
 * MatMul does ~5x the multiply-adds at GEMM speed, 3-5x faster at 7x7 (the cost grows with P^2:
 * at 14x9, the segmentation maps, a fifth to a quarter of the block's 1x1 convs' multiply-adds).
 */
class Depthwise {
  private readonly positions: number;
  private readonly taps: string;
  constructor(
    private readonly g: GraphBuilder,
    height: number,
    width: number,
    private readonly channels: number,
  ) {
    this.positions = height * width;
    this.taps = g.constFloat(`taps${height}x${width}`, [9, this.positions * this.positions], tapMatrices(height, width));
  }

  /** [C, images, P] of a channel-major [C, n]. */
  private perImage(x: string): string {
    return this.g.op1('Reshape', [x, this.g.constInt64(`per_image${this.channels}`, [3], [this.channels, -1, this.positions])]);
  }

  private flat(x: string): string {
    return this.g.op1('Reshape', [x, this.g.constInt64(`columns${this.channels}`, [2], [this.channels, -1])]);
  }

  /** The band matrices [C, P, P] of a kernel [C, 1, 3, 3]. */
  band(kernel: string): string {
    const g = this.g;
    const perTap = g.op1('Reshape', [kernel, g.constInt64(`taps_of${this.channels}`, [2], [this.channels, 9])]);
    return g.op1('Reshape', [g.op1('MatMul', [perTap, this.taps]), g.constInt64(`band${this.channels}`, [3], [this.channels, this.positions, this.positions])]);
  }

  /** The conv of a channel-major x [C, n] by the band [C, P, P]: [C, n]. */
  apply(x: string, band: string): string {
    return this.flat(this.g.op1('MatMul', [this.perImage(x), band]));
  }

  /** The gradient at the conv's input from the gradient at its output: by the transposed band. */
  inputGradient(dy: string, band: string): string {
    return this.flat(this.g.op1('MatMul', [this.perImage(dy), this.g.op1('Transpose', [band], { perm: [0, 2, 1] })]));
  }

  /** The kernel's gradient [C, 1, 3, 3]: per channel x^T dy [P, P], read back at each tap's places. */
  kernelGradient(x: string, dy: string, out: string): void {
    const g = this.g;
    const perBand = g.op1('MatMul', [g.op1('Transpose', [this.perImage(x)], { perm: [0, 2, 1] }), this.perImage(dy)]);
    const flatBand = g.op1('Reshape', [perBand, g.constInt64(`band_flat${this.channels}`, [2], [this.channels, this.positions * this.positions])]);
    const perTap = g.op1('MatMul', [flatBand, g.op1('Transpose', [this.taps], { perm: [1, 0] })]);
    g.opInto('Reshape', [perTap, g.constInt64(`kernel${this.channels}`, [4], [this.channels, 1, 3, 3])], [out]);
  }
}

/**
 * Forward through one inverted-residual block without its shortcut, from the channel-major
 * input `x`: writes 'ze' (expand, before ReLU6) and 'zd' (depthwise, before ReLU6) and returns
 * the projection's output, all channel-major. Reads graph inputs 'we', 'be', 'wd', 'bd', 'wp', 'bp'.
 */
export function blockForward(g: GraphBuilder, height: number, width: number, expand: number, project: number, x: string): string {
  const depthwise = new Depthwise(g, height, width, expand);
  g.opInto('Gemm', ['we', x, column(g, 'be', expand)], ['ze'], { transA: 1 });
  g.opInto('Add', [depthwise.apply(relu6(g, 'ze'), depthwise.band('wd')), column(g, 'bd', expand)], ['zd']);
  return linear(g, 'wp', relu6(g, 'zd'), 'bp', project);
}

/**
 * Backward through one inverted-residual block from `dp`, the gradient at its projection's
 * output (channel-major): writes g_wp, g_bp, g_wd, g_bd, g_we, g_be and, with `inputGradient`,
 * returns the gradient reaching the block's input through its layers (channel-major; a shortcut
 * adds its own part). Reads the channel-major input `x`, 'ze', 'zd', and graph inputs 'wp',
 * 'wd' and, with `inputGradient`, 'we'.
 */
export function blockBackward(g: GraphBuilder, height: number, width: number, expand: number, dp: string, x: string, inputGradient: boolean): string | undefined {
  kernelGradient(g, relu6(g, 'zd'), dp, 'g_wp');
  sumColumns(g, dp, 'g_bp');
  const dzd = throughRelu6(g, g.op1('MatMul', ['wp', dp]), 'zd');
  sumColumns(g, dzd, 'g_bd');
  const depthwise = new Depthwise(g, height, width, expand);
  depthwise.kernelGradient(relu6(g, 'ze'), dzd, 'g_wd');
  const dze = throughRelu6(g, depthwise.inputGradient(dzd, depthwise.band('wd')), 'ze');
  kernelGradient(g, x, dze, 'g_we');
  sumColumns(g, dze, 'g_be');
  return inputGradient ? g.op1('MatMul', ['we', dze]) : undefined;
}
