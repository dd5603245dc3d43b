// Block 15 (src/model/upper-trunk/block15.ts) as trainable layers under the upper trunk:
// its forward pass and weight gradients as ONNX Runtime graphs over cached block-14 maps,
// like the upper trunk's (upper-trunk.ts). The gradient arrives at its output, the
// upper trunk's input (UpperTrunkGraphs created with `inputGradient`); the shortcut passes
// it on to block 14, which stays frozen, so no input gradient is computed here.
import { OnnxSession, type NamedTensor } from '../model/backend/onnxruntime.ts';
import { GraphBuilder } from '../model/onnx/graph-builder.ts';
import { BLOCK15, BLOCK15_DIMS, BLOCK15_PARAMS, checkBlock15Weights, type Block15Param, type Block15Weights } from '../model/upper-trunk/block15.ts';
import { blockBackward, blockForward, NO_GRADIENT, toColumns, toRows, type ForwardOptions } from './block-graphs.ts';
import { ParamAdamW } from './param-adamw.ts';

const { in: IN, expand: EXPAND, out: OUT } = BLOCK15;

function forwardGraph(height: number, width: number): Uint8Array {
  const g = new GraphBuilder('block15_forward');
  g.input('x', ['n', IN]);
  for (const p of BLOCK15_PARAMS) g.input(p, BLOCK15_DIMS[p]);
  const x = toColumns(g, 'x');
  g.opInto('Identity', [toRows(g, g.op1('Add', [x, blockForward(g, height, width, EXPAND, OUT, x)]))], ['y']);
  g.output('y', ['n', OUT]);
  // Channel-major [channels, n]: what the gradient graph reads back.
  for (const name of ['ze', 'zd'] as const) g.output(name, [EXPAND, 'n']);
  return g.toModel();
}

function gradientGraph(height: number, width: number): Uint8Array {
  const g = new GraphBuilder('block15_gradient');
  g.input('x', ['n', IN]);
  g.input('ze', [EXPAND, 'n']);
  g.input('zd', [EXPAND, 'n']);
  g.input('dy', ['n', OUT]);
  g.input('wp', BLOCK15_DIMS.wp);
  g.input('wd', BLOCK15_DIMS.wd);
  // The shortcut adds the input unchanged: the projection's output gets dy as it is.
  blockBackward(g, height, width, EXPAND, toColumns(g, 'dy'), toColumns(g, 'x'), false);
  for (const p of BLOCK15_PARAMS) g.output(`g_${p}`, BLOCK15_DIMS[p]);
  return g.toModel();
}

export interface Block15Forward {
  /** Block 15's output, rows [images * positions, 224] (NHWC order): the upper trunk's input. */
  output: Float32Array;
  /** Gradient of sum(output * upstream) with respect to each parameter. */
  gradients: (upstream: Float32Array) => Promise<Block15Weights>;
}

export class Block15Graphs {
  private constructor(
    private readonly forwardSession: OnnxSession,
    private readonly gradientSession: OnnxSession,
    readonly height: number,
    readonly width: number,
  ) {}

  static async create(height: number, width: number): Promise<Block15Graphs> {
    return new Block15Graphs(await OnnxSession.create(forwardGraph(height, width)), await OnnxSession.create(gradientGraph(height, width)), height, width);
  }

  get valuesPerImage(): number {
    return this.height * this.width * IN;
  }

  /** `maps`: block-14 maps [images, h, w, 224], flattened. */
  /** `gradients: false` (inference) copies out only the output, not what the gradient graph reads. */
  async forward(maps: Float32Array, weights: Block15Weights, options: ForwardOptions = {}): Promise<Block15Forward> {
    checkBlock15Weights(weights);
    if (maps.length % this.valuesPerImage !== 0) throw new Error(`block 15: ${maps.length} values are not whole ${this.height}x${this.width}x${IN} maps`);
    const x: NamedTensor = { data: maps, dims: [maps.length / IN, IN] };
    const keep = options.gradients ?? true;
    const out = await this.forwardSession.runMany({ x, ...Object.fromEntries(BLOCK15_PARAMS.map((p) => [p, { data: weights[p], dims: BLOCK15_DIMS[p] }])) }, keep ? undefined : ['y']);
    return {
      output: out.y!.data,
      gradients: async (upstream) => {
        if (!keep) throw new Error(NO_GRADIENT);
        if (upstream.length !== maps.length) throw new Error(`block 15: ${upstream.length} gradient values for an output of ${maps.length}`);
        const grads = await this.gradientSession.runMany({
          x,
          ze: out.ze!,
          zd: out.zd!,
          dy: { data: upstream, dims: [upstream.length / OUT, OUT] },
          wp: { data: weights.wp, dims: BLOCK15_DIMS.wp },
          wd: { data: weights.wd, dims: BLOCK15_DIMS.wd },
        });
        return Object.fromEntries(BLOCK15_PARAMS.map((p) => [p, grads[`g_${p}`]!.data])) as Block15Weights;
      },
    };
  }

  async close(): Promise<void> {
    await this.forwardSession.close();
    await this.gradientSession.close();
  }
}

export class Block15AdamW extends ParamAdamW<Block15Param> {
  constructor(initial: Block15Weights, weightDecay: number) {
    checkBlock15Weights(initial);
    super(BLOCK15_PARAMS, initial, weightDecay);
  }
}
