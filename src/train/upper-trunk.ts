// Fine-tunes the upper trunk (block 16 + Conv_1, src/model/upper-trunk/block16.ts) on cached
// block-15 maps. Its forward pass and gradients are ONNX Runtime graphs: TF.js-wasm trains
// dense layers at ~1-3 GFLOP/s here, ONNX Runtime's MatMul/Conv kernels reach 70-90 (see
// BENCHMARKS.md, "Trainable upper trunk"); TF.js keeps the heads and hands back the gradient
// of the loss with respect to the pooled features. Hand-written backward graphs because
// ONNX Runtime's training API is not in onnxruntime-node; they are checked against finite
// differences in test/train/upper-trunk.test.ts. Pooling is the mean (GeM with p = 1).
import { OnnxSession, type NamedTensor } from '../model/backend/onnxruntime.ts';
import { GraphBuilder } from '../model/onnx/graph-builder.ts';
import { BLOCK16, checkUpperTrunkWeights, UPPER_TRUNK_DIMS, UPPER_TRUNK_PARAMS, type UpperTrunkParam, type UpperTrunkWeights } from '../model/upper-trunk/block16.ts';
import { unpackHalf } from '../util/float16.ts';
import type { TrunkTraining } from './fit-heads.ts';

const { in: IN, expand: EXPAND, project: PROJECT, out: OUT } = BLOCK16;

const relu6 = (g: GraphBuilder, x: string) => g.op1('Clip', [x, g.constFloat('zero', [], [0]), g.constFloat('six', [], [6])]);
/** ReLU6's derivative: 1 where 0 < z < 6. */
const gate = (g: GraphBuilder, z: string) =>
  g.op1('Cast', [g.op1('And', [g.op1('Greater', [z, g.constFloat('zero', [], [0])]), g.op1('Less', [z, g.constFloat('six', [], [6])])])], { to: 1 });
const sumRows = (g: GraphBuilder, x: string, out: string) => g.opInto('ReduceSum', [x, g.constInt64('axis0', [1], [0])], [out], { keepdims: 0 });
const transposed = (g: GraphBuilder, x: string) => g.op1('Transpose', [x], { perm: [1, 0] });

/** Graphs work on rows: [images * positions, channels], positions of one image consecutive (NHWC order). */
function layout(height: number, width: number) {
  const toNchw = (g: GraphBuilder, rows: string, channels: number) =>
    g.op1('Transpose', [g.op1('Reshape', [rows, g.constInt64(`nhwc${channels}`, [4], [-1, height, width, channels])])], { perm: [0, 3, 1, 2] });
  const toRows = (g: GraphBuilder, nchw: string, channels: number) => g.op1('Reshape', [g.op1('Transpose', [nchw], { perm: [0, 2, 3, 1] }), g.constInt64(`rows${channels}`, [2], [-1, channels])]);
  return { toNchw, toRows };
}

function forwardGraph(height: number, width: number): Uint8Array {
  const { toNchw, toRows } = layout(height, width);
  const g = new GraphBuilder('upper_trunk_forward');
  g.input('x', ['n', IN]);
  for (const p of UPPER_TRUNK_PARAMS) g.input(p, UPPER_TRUNK_DIMS[p]);
  g.opInto('Add', [g.op1('MatMul', ['x', 'we']), 'be'], ['ze']);
  const depthwise = g.op1('Conv', [toNchw(g, relu6(g, 'ze'), EXPAND), 'wd', 'bd'], { group: EXPAND, kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.opInto('Identity', [toRows(g, depthwise, EXPAND)], ['zd']);
  g.opInto('Add', [g.op1('MatMul', [relu6(g, 'zd'), 'wp']), 'bp'], ['p']);
  g.opInto('Add', [g.op1('MatMul', ['p', 'w1']), 'b1'], ['z1']);
  g.opInto('Identity', [relu6(g, 'z1')], ['a1']);
  const grouped = g.op1('Reshape', ['a1', g.constInt64('grouped', [3], [-1, height * width, OUT])]);
  g.opInto('ReduceMean', [grouped], ['f'], { axes: [1], keepdims: 0 });
  g.output('f', ['batch', OUT]);
  for (const [name, channels] of [['ze', EXPAND], ['zd', EXPAND], ['p', PROJECT], ['z1', OUT], ['a1', OUT]] as const) g.output(name, ['n', channels]);
  return g.toModel();
}

/**
 * What the loss's gradient arrives for: 'pooled', the mean-pooled features [images, 1792]
 * (the product heads); 'map', every position of the Conv_1 map [images * positions, 1792]
 * (the segmentation decoder).
 */
export type Upstream = 'pooled' | 'map';

function gradientGraph(height: number, width: number, upstream: Upstream): Uint8Array {
  const { toNchw, toRows } = layout(height, width);
  const positions = height * width;
  const g = new GraphBuilder('upper_trunk_gradient');
  g.input('x', ['n', IN]);
  g.input('ze', ['n', EXPAND]);
  g.input('zd', ['n', EXPAND]);
  g.input('p', ['n', PROJECT]);
  g.input('z1', ['n', OUT]);
  g.input(upstream === 'pooled' ? 'df' : 'da1', upstream === 'pooled' ? ['batch', OUT] : ['n', OUT]);
  g.input('w1', UPPER_TRUNK_DIMS.w1);
  g.input('wp', UPPER_TRUNK_DIMS.wp);
  // The depthwise kernel turned 180 degrees: its transposed convolution carries the gradient to its input.
  g.input('wd_flipped', UPPER_TRUNK_DIMS.wd);
  // d mean / d activation = 1/positions at every position; ReLU6 passes the gradient where 0 < z < 6.
  const da1 =
    upstream === 'pooled'
      ? g.op1('Reshape', [
          g.op1('Expand', [g.op1('Unsqueeze', [g.op1('Mul', ['df', g.constFloat('inv', [], [1 / positions])]), g.constInt64('axis1', [1], [1])]), g.constInt64('spread', [3], [1, positions, 1])]),
          g.constInt64('flat', [2], [-1, OUT]),
        ])
      : 'da1';
  const dz1 = g.op1('Mul', [da1, gate(g, 'z1')]);
  g.opInto('MatMul', [transposed(g, 'p'), dz1], ['g_w1']);
  sumRows(g, dz1, 'g_b1');
  const dp = g.op1('MatMul', [dz1, transposed(g, 'w1')]);
  g.opInto('MatMul', [transposed(g, relu6(g, 'zd')), dp], ['g_wp']);
  sumRows(g, dp, 'g_bp');
  const dzd = g.op1('Mul', [g.op1('MatMul', [dp, transposed(g, 'wp')]), gate(g, 'zd')]);
  sumRows(g, dzd, 'g_bd');
  // Depthwise kernel gradient: per tap (ky, kx), the padded input shifted by the tap times the output gradient, summed.
  const dzdMap = toNchw(g, dzd, EXPAND);
  const padded = g.op1('Pad', [toNchw(g, relu6(g, 'ze'), EXPAND), g.constInt64('pads', [8], [0, 0, 1, 1, 0, 0, 1, 1])]);
  const taps: string[] = [];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) {
      const shifted = g.op1('Slice', [padded, g.constInt64('starts', [2], [ky, kx]), g.constInt64('ends', [2], [ky + height, kx + width]), g.constInt64('axes', [2], [2, 3])]);
      taps.push(g.op1('ReduceSum', [g.op1('Mul', [shifted, dzdMap]), g.constInt64('nhw', [3], [0, 2, 3])], { keepdims: 0 }));
    }
  }
  const stacked = g.op1('Concat', taps.map((t) => g.op1('Unsqueeze', [t, g.constInt64('last', [1], [1])])), { axis: 1 });
  g.opInto('Reshape', [stacked, g.constInt64('kernel', [4], [EXPAND, 1, 3, 3])], ['g_wd']);
  const de = toRows(g, g.op1('Conv', [dzdMap, 'wd_flipped'], { group: EXPAND, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), EXPAND);
  const dze = g.op1('Mul', [de, gate(g, 'ze')]);
  g.opInto('MatMul', [transposed(g, 'x'), dze], ['g_we']);
  sumRows(g, dze, 'g_be');
  for (const p of UPPER_TRUNK_PARAMS) g.output(`g_${p}`, UPPER_TRUNK_DIMS[p]);
  return g.toModel();
}

function flipKernel(wd: Float32Array): Float32Array {
  const out = new Float32Array(wd.length);
  for (let c = 0; c < wd.length / 9; c++) for (let k = 0; k < 9; k++) out[c * 9 + k] = wd[c * 9 + 8 - k]!;
  return out;
}

export interface UpperTrunkGradients {
  /** Pooled features [images, 1792]. */
  features: Float32Array;
  /** The Conv_1 map, rows [images * positions, 1792] (NHWC order). */
  map: Float32Array;
  /**
   * Gradient of sum(output * upstream) with respect to each parameter, where the output
   * is the pooled features or the map, as the graphs were created for.
   */
  gradients: (upstream: Float32Array) => Promise<UpperTrunkWeights>;
}

/** The upper trunk as two ONNX Runtime sessions (forward, gradients) over given weights. */
export class UpperTrunkGraphs {
  private constructor(
    private readonly forwardSession: OnnxSession,
    private readonly gradientSession: OnnxSession,
    readonly height: number,
    readonly width: number,
    readonly upstream: Upstream,
  ) {}

  static async create(height: number, width: number, upstream: Upstream = 'pooled'): Promise<UpperTrunkGraphs> {
    return new UpperTrunkGraphs(
      await OnnxSession.create(forwardGraph(height, width)),
      await OnnxSession.create(gradientGraph(height, width, upstream)),
      height,
      width,
      upstream,
    );
  }

  get valuesPerImage(): number {
    return this.height * this.width * IN;
  }

  private weightFeeds(weights: UpperTrunkWeights): Record<string, NamedTensor> {
    return Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, { data: weights[p], dims: UPPER_TRUNK_DIMS[p] }]));
  }

  /** Pooled features of NHWC maps [images, h, w, 224], flattened. */
  async pool(maps: Float32Array, weights: UpperTrunkWeights): Promise<Float32Array> {
    return (await this.forward(maps, weights)).features;
  }

  async forward(maps: Float32Array, weights: UpperTrunkWeights): Promise<UpperTrunkGradients> {
    const x: NamedTensor = { data: maps, dims: [maps.length / IN, IN] };
    const out = await this.forwardSession.runMany({ x, ...this.weightFeeds(weights) });
    const features = out.f!.data;
    return {
      features,
      map: out.a1!.data,
      gradients: async (upstream) => {
        const feeds: Record<string, NamedTensor> = {
          x,
          ze: out.ze!,
          zd: out.zd!,
          p: out.p!,
          z1: out.z1!,
          [this.upstream === 'pooled' ? 'df' : 'da1']: { data: upstream, dims: [upstream.length / OUT, OUT] },
          w1: { data: weights.w1, dims: UPPER_TRUNK_DIMS.w1 },
          wp: { data: weights.wp, dims: UPPER_TRUNK_DIMS.wp },
          wd_flipped: { data: flipKernel(weights.wd), dims: UPPER_TRUNK_DIMS.wd },
        };
        const grads = await this.gradientSession.runMany(feeds);
        return Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, grads[`g_${p}`]!.data])) as UpperTrunkWeights;
      },
    };
  }

  async close(): Promise<void> {
    await this.forwardSession.close();
    await this.gradientSession.close();
  }
}

export interface UpperTrunkTrainingOptions {
  graphs: UpperTrunkGraphs;
  initial: UpperTrunkWeights;
  /** Block-15 maps of every row, float16, row-major [rows, h * w * 224]. */
  maps: Uint16Array;
  fromEpoch: number;
  learningRate: number;
  weightDecay: number;
}

/**
 * The upper trunk as the trainer's TrunkTraining: gathers a batch's maps, runs the forward
 * graph, and on backward applies AdamW (decoupled weight decay) to its own weights.
 */
export function upperTrunkTraining(options: UpperTrunkTrainingOptions): TrunkTraining & { weights: () => UpperTrunkWeights } {
  checkUpperTrunkWeights(options.initial);
  const { graphs, maps } = options;
  const per = graphs.valuesPerImage;
  const rowCount = maps.length / per;
  const optimiser = new UpperTrunkAdamW(options.initial, options.weightDecay);
  const current = optimiser.weights;
  let pending: UpperTrunkGradients | undefined;
  const gather = (rows: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(rows.length * per);
    for (let i = 0; i < rows.length; i++) unpackHalf(maps.subarray(rows[i]! * per, (rows[i]! + 1) * per), out, i * per);
    return out;
  };
  return {
    fromEpoch: options.fromEpoch,
    learningRate: options.learningRate,
    async forward(rows) {
      pending = await graphs.forward(gather(rows), current);
      return pending.features;
    },
    async backward(gradient, learningRate) {
      if (!pending) throw new Error('upper trunk: backward without a forward pass');
      const grads = await pending.gradients(gradient);
      pending = undefined;
      optimiser.step(grads, learningRate);
    },
    async poolAll() {
      const out = new Float32Array(rowCount * OUT);
      for (let start = 0; start < rowCount; start += 256) {
        const rows = Array.from({ length: Math.min(256, rowCount - start) }, (_, i) => start + i);
        out.set(await graphs.pool(gather(rows), current), start * OUT);
      }
      return out;
    },
    state: () => optimiser.state(),
    restore: (state) => optimiser.restore(state),
    weights: () => current,
  };
}

/** AdamW over the upper trunk's weights (decoupled decay on the kernels only, as for the heads). */
export class UpperTrunkAdamW {
  readonly weights: UpperTrunkWeights;
  private readonly m: UpperTrunkWeights;
  private readonly v: UpperTrunkWeights;
  private t = 0;

  constructor(
    initial: UpperTrunkWeights,
    private readonly weightDecay: number,
  ) {
    checkUpperTrunkWeights(initial);
    this.weights = Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, Float32Array.from(initial[p])])) as UpperTrunkWeights;
    this.m = Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, new Float32Array(initial[p].length)])) as UpperTrunkWeights;
    this.v = Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, new Float32Array(initial[p].length)])) as UpperTrunkWeights;
  }

  step(grads: UpperTrunkWeights, learningRate: number): void {
    this.t++;
    const c1 = 1 - 0.9 ** this.t;
    const c2 = 1 - 0.999 ** this.t;
    for (const name of UPPER_TRUNK_PARAMS) {
      const [w, g, mm, vv] = [this.weights[name], grads[name], this.m[name], this.v[name]];
      const decay = name.startsWith('w') ? this.weightDecay : 0;
      for (let i = 0; i < w.length; i++) {
        mm[i] = 0.9 * mm[i]! + 0.1 * g[i]!;
        vv[i] = 0.999 * vv[i]! + 0.001 * g[i]! * g[i]!;
        w[i] = w[i]! - learningRate * (mm[i]! / c1 / (Math.sqrt(vv[i]! / c2) + 1e-8) + decay * w[i]!);
      }
    }
  }

  state(): Float32Array[] {
    return [...UPPER_TRUNK_PARAMS.flatMap((p) => [this.weights[p], this.m[p], this.v[p]]), Float32Array.of(this.t)];
  }

  restore(state: readonly Float32Array[]): void {
    if (state.length !== UPPER_TRUNK_PARAMS.length * 3 + 1) throw new Error('the checkpoint does not match this upper trunk');
    UPPER_TRUNK_PARAMS.forEach((p: UpperTrunkParam, i) => {
      this.weights[p].set(state[i * 3]!);
      this.m[p].set(state[i * 3 + 1]!);
      this.v[p].set(state[i * 3 + 2]!);
    });
    this.t = state.at(-1)![0]!;
  }
}
