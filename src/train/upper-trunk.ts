// Fine-tunes the upper trunk (block 16 + Conv_1, src/model/upper-trunk/block16.ts) on cached
// block-15 maps, or with block 15 below it (block15.ts) on cached block-14 maps. Its forward
// pass and gradients are ONNX Runtime graphs: TF.js-wasm trains dense layers at ~10 GFLOP/s
// on one core here, ONNX Runtime's MatMul/Conv kernels reach 70-90 (see
// BENCHMARKS.md, "Trainable upper trunk"); TF.js keeps the heads and hands back the gradient
// of the loss with respect to the pooled features. Hand-written backward graphs because
// ONNX Runtime's training API is not in onnxruntime-node; they are checked against finite
// differences in test/train/upper-trunk.test.ts. Pooling is the mean (GeM with p = 1), or GeM
// with a fixed or learned exponent (`gem`), whose gradient the graphs compute too.
import { OnnxSession, type NamedTensor } from '../model/backend/onnxruntime.ts';
import { GEM_EPS } from '../model/heads/heads-graph.ts';
import { GraphBuilder } from '../model/onnx/graph-builder.ts';
import { BLOCK16, checkUpperTrunkWeights, UPPER_TRUNK_DIMS, UPPER_TRUNK_PARAMS, type UpperTrunkParam, type UpperTrunkWeights } from '../model/upper-trunk/block16.ts';
import { unpackHalf } from '../util/float16.ts';
import { blockBackward, blockForward, column, kernelGradient, NO_GRADIENT, relu6, sumColumns, throughRelu6, toColumns, toRows, type ForwardOptions } from './block-graphs.ts';
import { Block15AdamW, type Block15Forward, type Block15Graphs } from './block15.ts';
import { BLOCK15_PARAMS, type Block15Weights } from '../model/upper-trunk/block15.ts';
import { ParamAdamW } from './param-adamw.ts';
import type { TrunkTraining } from './fit-heads.ts';

const { in: IN, expand: EXPAND, project: PROJECT, out: OUT } = BLOCK16;

function forwardGraph(height: number, width: number, upstream: Upstream, gem: boolean): Uint8Array {
  const positions = height * width;
  const g = new GraphBuilder('upper_trunk_forward');
  g.input('x', ['n', IN]);
  for (const p of UPPER_TRUNK_PARAMS) g.input(p, UPPER_TRUNK_DIMS[p]);
  g.opInto('Identity', [blockForward(g, height, width, EXPAND, PROJECT, toColumns(g, 'x'))], ['p']);
  g.opInto('Gemm', ['w1', 'p', column(g, 'b1', OUT)], ['z1'], { transA: 1 });
  const a1 = relu6(g, 'z1');
  // Channel-major [OUT, images * positions] -> [OUT, images, positions]; pooled over the positions, then [images, OUT].
  const grouped = (columns: string) => g.op1('Reshape', [columns, g.constInt64('grouped', [3], [OUT, -1, positions])]);
  const pooled = (columns: string) => g.op1('Transpose', [g.op1('ReduceMean', [grouped(columns)], { axes: [2], keepdims: 0 })], { perm: [1, 0] });
  if (gem) {
    // GeM with a learned exponent: f = mean(max(a1, eps)^q)^(1/q); m (the mean) is kept for the gradient.
    g.input('gem_q', [1]);
    g.opInto('Identity', [pooled(g.op1('Pow', [g.op1('Max', [a1, g.constFloat('gem_eps', [], [GEM_EPS])]), 'gem_q']))], ['m']);
    g.opInto('Pow', ['m', g.op1('Reciprocal', ['gem_q'])], ['f']);
    g.output('m', ['batch', OUT]);
  } else {
    g.opInto('Identity', [pooled(a1)], ['f']);
  }
  g.output('f', ['batch', OUT]);
  // The map in rows only where the loss reads it (segmentation): a transpose of every position.
  if (upstream === 'map') {
    g.opInto('Identity', [toRows(g, a1)], ['a1']);
    g.output('a1', ['n', OUT]);
  }
  // Channel-major [channels, n]: what the gradient graph reads back.
  for (const [name, channels] of [['ze', EXPAND], ['zd', EXPAND], ['p', PROJECT], ['z1', OUT]] as const) g.output(name, [channels, 'n']);
  return g.toModel();
}

/**
 * What the loss's gradient arrives for: 'pooled', the mean-pooled features [images, 1792]
 * (the product heads); 'map', every position of the Conv_1 map [images * positions, 1792]
 * (the segmentation decoder).
 */
export type Upstream = 'pooled' | 'map';

function gradientGraph(height: number, width: number, upstream: Upstream, inputGradient: boolean, gem: boolean): Uint8Array {
  const positions = height * width;
  const g = new GraphBuilder('upper_trunk_gradient');
  g.input('x', ['n', IN]);
  g.input('ze', [EXPAND, 'n']);
  g.input('zd', [EXPAND, 'n']);
  g.input('p', [PROJECT, 'n']);
  g.input('z1', [OUT, 'n']);
  g.input(upstream === 'pooled' ? 'df' : 'da1', upstream === 'pooled' ? ['batch', OUT] : ['n', OUT]);
  g.input('w1', UPPER_TRUNK_DIMS.w1);
  g.input('wp', UPPER_TRUNK_DIMS.wp);
  g.input('wd', UPPER_TRUNK_DIMS.wd);
  if (inputGradient) g.input('we', UPPER_TRUNK_DIMS.we);
  if (gem) {
    g.input('gem_q', [1]);
    g.input('m', ['batch', OUT]);
    g.input('f', ['batch', OUT]);
  }
  // d mean / d activation = 1/positions at every position; ReLU6 passes the gradient where 0 < z < 6.
  const da1 = gem
    ? gemBackward(g, positions)
    : upstream === 'pooled'
      ? spreadOverPositions(g, g.op1('Mul', ['df', g.constFloat('inv', [], [1 / positions])]), positions)
      : toColumns(g, 'da1');
  const dz1 = throughRelu6(g, da1, 'z1');
  kernelGradient(g, 'p', dz1, 'g_w1');
  sumColumns(g, dz1, 'g_b1');
  const dx = blockBackward(g, height, width, EXPAND, g.op1('MatMul', ['w1', dz1]), toColumns(g, 'x'), inputGradient);
  for (const p of UPPER_TRUNK_PARAMS) g.output(`g_${p}`, UPPER_TRUNK_DIMS[p]);
  if (dx) {
    g.opInto('Identity', [toRows(g, dx)], ['dx']);
    g.output('dx', ['n', IN]);
  }
  if (gem) g.output('g_gem_q', [1]);
  return g.toModel();
}

/** Per-image values [images, OUT] repeated at each of the image's positions: channel-major [OUT, images * positions]. */
function spreadOverPositions(g: GraphBuilder, perImage: string, positions: number): string {
  const columns = g.op1('Unsqueeze', [g.op1('Transpose', [perImage], { perm: [1, 0] }), g.constInt64('axis2', [1], [2])]);
  return g.op1('Reshape', [g.op1('Expand', [columns, g.constInt64('spread', [3], [1, 1, positions])]), g.constInt64('flat', [2], [OUT, -1])]);
}

/**
 * GeM's backward from the pooled features' gradient 'df' (inputs 'z1', 'gem_q' = q, 'm' =
 * mean(c^q) and 'f' = m^(1/q), with c = max(a1, eps)); returns the gradient at a1 (channel-major)
 * and writes 'g_gem_q'. With S positions:
 *   df/dc = f c^(q-1) / (S m)           (0 where a1 is at the floor)
 *   df/dq = f (-ln m / q^2 + mean(c^q ln c) / (q m))
 */
function gemBackward(g: GraphBuilder, positions: number): string {
  const eps = g.constFloat('gem_eps', [], [GEM_EPS]);
  const a1 = relu6(g, 'z1');
  const c = g.op1('Max', [a1, eps]);
  const aboveFloor = g.op1('Cast', [g.op1('Greater', [a1, eps])], { to: 1 });
  // df * f / (S m), [batch, OUT], spread over the positions.
  const scale = g.op1('Div', [g.op1('Mul', ['df', 'f']), g.op1('Mul', ['m', g.constFloat('gem_positions', [], [positions])])]);
  const cPowQMinus1 = g.op1('Mul', [g.op1('Pow', [c, g.op1('Sub', ['gem_q', g.constFloat('gem_one', [], [1])])]), aboveFloor]);
  const da1 = g.op1('Mul', [cPowQMinus1, spreadOverPositions(g, scale, positions)]);
  const grouped = g.op1('Reshape', [g.op1('Mul', [g.op1('Pow', [c, 'gem_q']), g.op1('Log', [c])]), g.constInt64('gem_grouped', [3], [OUT, -1, positions])]);
  const meanPowLog = g.op1('Transpose', [g.op1('ReduceMean', [grouped], { axes: [2], keepdims: 0 })], { perm: [1, 0] });
  const dfdq = g.op1('Mul', [
    'f',
    g.op1('Sub', [g.op1('Div', [meanPowLog, g.op1('Mul', ['gem_q', 'm'])]), g.op1('Div', [g.op1('Log', ['m']), g.op1('Mul', ['gem_q', 'gem_q'])])]),
  ]);
  g.opInto('Reshape', [g.op1('ReduceSum', [g.op1('Mul', ['df', dfdq])], { keepdims: 0 }), g.constInt64('gem_one_value', [1], [1])], ['g_gem_q']);
  return da1;
}

export interface UpperTrunkGradients {
  /** Pooled features [images, 1792]. */
  features: Float32Array;
  /** The Conv_1 map, rows [images * positions, 1792] (NHWC order); graphs created for the 'map' upstream only. */
  map: Float32Array;
  /**
   * Gradient of sum(output * upstream) with respect to each parameter, where the output
   * is the pooled features or the map, as the graphs were created for; and with respect to
   * the input map (rows [images * positions, 224]) where they were created with `inputGradient`.
   */
  gradients: (upstream: Float32Array) => Promise<UpperTrunkParamGradients>;
}

/** The upper trunk's weight gradients, and where computed, its input's and GeM's exponent's. */
export type UpperTrunkParamGradients = UpperTrunkWeights & { input?: Float32Array; gemQ?: Float32Array };

/** The upper trunk as two ONNX Runtime sessions (forward, gradients) over given weights. */
export class UpperTrunkGraphs {
  private constructor(
    private readonly forwardSession: OnnxSession,
    private readonly gradientSession: OnnxSession,
    readonly height: number,
    readonly width: number,
    readonly upstream: Upstream,
    readonly inputGradient: boolean,
    readonly gem: boolean,
  ) {}

  /**
   * `inputGradient`: also the gradient with respect to the block-15 map, for a trainable
   * block below. `gem`: pool by GeM with an exponent that is an input and gets a gradient
   * (pooled upstream only) instead of the mean.
   */
  static async create(height: number, width: number, upstream: Upstream = 'pooled', inputGradient = false, gem = false): Promise<UpperTrunkGraphs> {
    if (gem && upstream !== 'pooled') throw new Error('a learned GeM exponent pools: it needs the pooled upstream');
    return new UpperTrunkGraphs(
      await OnnxSession.create(forwardGraph(height, width, upstream, gem)),
      await OnnxSession.create(gradientGraph(height, width, upstream, inputGradient, gem)),
      height,
      width,
      upstream,
      inputGradient,
      gem,
    );
  }

  get valuesPerImage(): number {
    return this.height * this.width * IN;
  }

  private weightFeeds(weights: UpperTrunkWeights): Record<string, NamedTensor> {
    return Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, { data: weights[p], dims: UPPER_TRUNK_DIMS[p] }]));
  }

  /** Pooled features of NHWC maps [images, h, w, 224], flattened. */
  async pool(maps: Float32Array, weights: UpperTrunkWeights, gemQ?: number): Promise<Float32Array> {
    return (await this.forward(maps, weights, gemQ, { gradients: false })).features;
  }

  /**
   * `gemQ`: the GeM exponent, for graphs created with `gem`. `gradients: false` (inference, e.g.
   * features of every row) copies out only the features and the map, not the intermediate
   * activations the gradient graph reads (~30% of a forward pass's time at 256 images).
   */
  async forward(maps: Float32Array, weights: UpperTrunkWeights, gemQ?: number, options: ForwardOptions = {}): Promise<UpperTrunkGradients> {
    if (this.gem !== (gemQ !== undefined)) throw new Error(this.gem ? 'these graphs pool by GeM: pass its exponent' : 'these graphs pool by the mean: no GeM exponent');
    const x: NamedTensor = { data: maps, dims: [maps.length / IN, IN] };
    const q: NamedTensor | undefined = gemQ !== undefined ? { data: Float32Array.of(gemQ), dims: [1] } : undefined;
    const keep = options.gradients ?? true;
    const outputs = keep ? undefined : this.upstream === 'map' ? ['f', 'a1'] : ['f'];
    const out = await this.forwardSession.runMany({ x, ...this.weightFeeds(weights), ...(q ? { gem_q: q } : {}) }, outputs);
    const features = out.f!.data;
    return {
      features,
      get map(): Float32Array {
        if (!out.a1) throw new Error('the Conv_1 map is kept only by graphs created for the map upstream');
        return out.a1.data;
      },
      gradients: async (upstream) => {
        if (!keep) throw new Error(NO_GRADIENT);
        const feeds: Record<string, NamedTensor> = {
          x,
          ze: out.ze!,
          zd: out.zd!,
          p: out.p!,
          z1: out.z1!,
          [this.upstream === 'pooled' ? 'df' : 'da1']: { data: upstream, dims: [upstream.length / OUT, OUT] },
          w1: { data: weights.w1, dims: UPPER_TRUNK_DIMS.w1 },
          wp: { data: weights.wp, dims: UPPER_TRUNK_DIMS.wp },
          wd: { data: weights.wd, dims: UPPER_TRUNK_DIMS.wd },
          ...(this.inputGradient ? { we: { data: weights.we, dims: UPPER_TRUNK_DIMS.we } } : {}),
          ...(q ? { gem_q: q, m: out.m!, f: out.f! } : {}),
        };
        const grads = await this.gradientSession.runMany(feeds);
        const params = Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, grads[`g_${p}`]!.data])) as UpperTrunkWeights;
        return { ...params, ...(this.inputGradient ? { input: grads.dx!.data } : {}), ...(q ? { gemQ: grads.g_gem_q!.data } : {}) };
      },
    };
  }

  async close(): Promise<void> {
    await this.forwardSession.close();
    await this.gradientSession.close();
  }
}

/** One forward pass through a TrunkStack, kept for its step. */
export interface StackForward {
  upper: UpperTrunkGradients;
  block15?: Block15Forward;
}

/**
 * The trained blocks as one stack, shared by the product trainer (pooled upstream,
 * upperTrunkTraining below) and the segmentation trainer (map upstream,
 * src/train/segmentation/trunk-training.ts): block 16 + Conv_1 and, where trained, block 15 below it,
 * each with its own AdamW. A forward pass runs block 15, then the upper trunk, over the cached
 * input maps; a step carries the upper trunk's input gradient down to block 15 and moves both.
 */
export class TrunkStack {
  readonly upper: UpperTrunkAdamW;
  /** Block 15's optimiser, where it is trained. */
  readonly block15?: Block15AdamW;

  /**
   * `block15`: train block 15 too, from `initial` (its packaged weights); `graphs` must then be
   * created with `inputGradient` (the gradient at block 15's output), for the same map size.
   */
  constructor(
    readonly graphs: UpperTrunkGraphs,
    initial: UpperTrunkWeights,
    weightDecay: number,
    private readonly block15Stage?: { graphs: Block15Graphs; initial: Block15Weights },
  ) {
    if (block15Stage && !graphs.inputGradient) throw new Error('training block 15 needs upper-trunk graphs created with inputGradient');
    if (block15Stage && (block15Stage.graphs.height !== graphs.height || block15Stage.graphs.width !== graphs.width)) throw new Error('block 15 and the upper trunk must be built for the same map size');
    this.upper = new UpperTrunkAdamW(initial, weightDecay);
    if (block15Stage) this.block15 = new Block15AdamW(block15Stage.initial, weightDecay);
  }

  /** `input`: rows [images * positions, 224] of block 14's maps where block 15 is trained, else of block 15's. */
  async forward(input: Float32Array, gemQ?: number, options: ForwardOptions = {}): Promise<StackForward> {
    const below = this.block15Stage && this.block15 ? await this.block15Stage.graphs.forward(input, this.block15.weights, options) : undefined;
    const upper = await this.graphs.forward(below?.output ?? input, this.upper.weights, gemQ, options);
    return { upper, ...(below ? { block15: below } : {}) };
  }

  /**
   * One AdamW step of the blocks from `upstream`, the loss's gradient at the upper trunk's
   * output in `pending`; block 15 steps at `block15Rate`. Returns the upper trunk's gradients
   * (a learned GeM exponent is stepped by the caller).
   */
  async step(pending: StackForward, upstream: Float32Array, rate: number, block15Rate = rate): Promise<UpperTrunkParamGradients> {
    const grads = await pending.upper.gradients(upstream);
    // Block 15's output is the upper trunk's input: the gradient there is what block 15 gets.
    if (this.block15 && pending.block15) this.block15.step(await pending.block15.gradients(grads.input!), block15Rate);
    this.upper.step(grads, rate);
    return grads;
  }

  async close(): Promise<void> {
    await this.graphs.close();
    await this.block15Stage?.graphs.close();
  }
}

export interface UpperTrunkTrainingOptions {
  graphs: UpperTrunkGraphs;
  initial: UpperTrunkWeights;
  /**
   * The trunk's input map of every row, float16, row-major [rows, h * w * 224]: block 15's
   * output, or with `block15` block 14's.
   */
  maps: Uint16Array;
  /**
   * Train block 15 too, below block 16, from `initial` (its packaged weights), at the trunk's
   * rate; `graphs` must then be created with `inputGradient` (the gradient at block 15's output).
   */
  block15?: { graphs: Block15Graphs; initial: Block15Weights };
  fromEpoch: number;
  learningRate: number;
  weightDecay: number;
  /**
   * Pool by GeM (graphs created with `gem`) from `initial` (the exponent the heads-only
   * epochs' cached features were pooled with), learning it at `learningRateRatio` times the
   * trunk's rate (one scalar moves far less per Adam step than it needs to; 0 keeps it),
   * within [1, 8].
   */
  gem?: { initial: number; learningRateRatio: number };
}

/** Where a learned GeM exponent may go: 1 is the mean, 8 close to the max. */
export const GEM_RANGE = [1, 8] as const;

/**
 * The upper trunk as the trainer's TrunkTraining: gathers a batch's maps, runs the forward
 * graph, and on backward applies AdamW (decoupled weight decay) to its own weights, and to
 * GeM's exponent where it is learned.
 */
export function upperTrunkTraining(
  options: UpperTrunkTrainingOptions,
): TrunkTraining & { weights: () => UpperTrunkWeights; block15Weights: () => Block15Weights | undefined; gemP: () => number | undefined } {
  checkUpperTrunkWeights(options.initial);
  const { graphs, maps, gem } = options;
  if (graphs.gem !== (gem !== undefined)) throw new Error('learned GeM needs graphs created with gem, and only those');
  if (gem && !(gem.initial >= GEM_RANGE[0] && gem.initial <= GEM_RANGE[1] && gem.learningRateRatio >= 0)) throw new Error(`GeM exponent must start within [${GEM_RANGE.join(', ')}] and learn at a rate >= 0`);
  const per = graphs.valuesPerImage;
  const rowCount = maps.length / per;
  const stack = new TrunkStack(graphs, options.initial, options.weightDecay, options.block15);
  const exponent = gem ? new ParamAdamW(['q'] as const, { q: Float32Array.of(gem.initial) }, 0) : undefined;
  const q = (): number | undefined => exponent?.weights.q[0];
  let pending: StackForward | undefined;
  const gather = (rows: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(rows.length * per);
    for (let i = 0; i < rows.length; i++) unpackHalf(maps.subarray(rows[i]! * per, (rows[i]! + 1) * per), out, i * per);
    return out;
  };
  return {
    fromEpoch: options.fromEpoch,
    learningRate: options.learningRate,
    async forward(rows) {
      pending = await stack.forward(gather(rows), q());
      return pending.upper.features;
    },
    async backward(gradient, learningRate) {
      if (!pending) throw new Error('upper trunk: backward without a forward pass');
      const step = pending;
      pending = undefined;
      const grads = await stack.step(step, gradient, learningRate);
      if (exponent && gem && gem.learningRateRatio > 0 && grads.gemQ) {
        exponent.step({ q: grads.gemQ }, learningRate * gem.learningRateRatio);
        exponent.weights.q[0] = Math.min(GEM_RANGE[1], Math.max(GEM_RANGE[0], exponent.weights.q[0]!));
      }
    },
    async poolAll() {
      const out = new Float32Array(rowCount * OUT);
      for (let start = 0; start < rowCount; start += 256) {
        const rows = Array.from({ length: Math.min(256, rowCount - start) }, (_, i) => start + i);
        out.set((await stack.forward(gather(rows), q(), { gradients: false })).upper.features, start * OUT);
      }
      return out;
    },
    // The exponent's and block 15's states follow the trunk's: a checkpoint restores only into its own kind.
    state: () => [...stack.upper.state(), ...(exponent?.state() ?? []), ...(stack.block15?.state() ?? [])],
    restore: (state) => {
      const own = UPPER_TRUNK_PARAMS.length * 3 + 1;
      const exponentLength = exponent ? 4 : 0;
      const lowerLength = stack.block15 ? BLOCK15_PARAMS.length * 3 + 1 : 0;
      if (state.length !== own + exponentLength + lowerLength) throw new Error('the checkpoint does not match these layers');
      stack.upper.restore(state.slice(0, own));
      exponent?.restore(state.slice(own, own + exponentLength));
      stack.block15?.restore(state.slice(own + exponentLength));
    },
    weights: () => stack.upper.weights,
    block15Weights: () => stack.block15?.weights,
    gemP: q,
  };
}

/** AdamW over the upper trunk's weights (decoupled decay on the kernels only, as for the heads). */
export class UpperTrunkAdamW extends ParamAdamW<UpperTrunkParam> {
  constructor(initial: UpperTrunkWeights, weightDecay: number) {
    checkUpperTrunkWeights(initial);
    super(UPPER_TRUNK_PARAMS, initial, weightDecay);
  }
}
