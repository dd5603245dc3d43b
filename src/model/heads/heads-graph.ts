// Writes the trained part of the model (GeM pooling -> feature standardisation ->
// shared layers -> heads, embedding and code projection) as an ONNX graph whose input
// is a backbone feature map (or, with a fine-tuned upper trunk, the map below it). The
// trainer computes exactly this function (TF.js, and ONNX Runtime for the upper trunk).
import { GraphBuilder } from '../onnx/graph-builder.ts';
import { appendBlock15, type Block15Weights } from '../upper-trunk/block15.ts';
import { appendUpperTrunk, BLOCK16, type UpperTrunkWeights } from '../upper-trunk/block16.ts';

export interface DenseWeights {
  /** Row-major [inDim, outDim]. */
  kernel: Float32Array;
  bias: Float32Array;
  inDim: number;
  outDim: number;
}

export interface TrainedHeads {
  /** Backbone tensor feeding the heads, NHWC [batch, h, w, channels]. */
  inputNode: string;
  channels: number;
  /** Fine-tuned last backbone layers (block 16 + Conv_1); the input node is then block 15's output. */
  upperTrunk?: UpperTrunkWeights;
  /** Fine-tuned block 15 under the upper trunk; the input node is then block 14's output. */
  block15?: Block15Weights;
  /**
   * More backbone tensors (NHWC), each GeM-pooled with its own exponent and concatenated after
   * the first, in this order: e.g. a fused backbone's second trunk. `channels` counts them all.
   */
  extraInputs?: Array<{ node: string; channels: number; gemP: number }>;
  /** GeM exponent (1 = average pooling). */
  gemP: number;
  featureMean: Float32Array;
  featureStd: Float32Array;
  /** Shared layers, each followed by ReLU. */
  shared: DenseWeights[];
  heads: Array<{ name: string; kind: 'single' | 'multi'; dense: DenseWeights }>;
  /** Code = sign((embedding - codeMean) x rotation), an ITQ-style learned rotation. */
  embedding: { dense: DenseWeights; codeMean: Float32Array; rotation: Float32Array; bits: number };
}

export const EMBEDDING_OUTPUT = 'embedding';
export const CODE_OUTPUT = 'code_projection';
export const headOutputName = (name: string): string => `head_${name}`;

export const GEM_EPS = 1e-6;

function dense(g: GraphBuilder, x: string, w: DenseWeights, hint: string): string {
  const kernel = g.constFloat(`${hint}/kernel`, [w.inDim, w.outDim], w.kernel);
  const bias = g.constFloat(`${hint}/bias`, [w.outDim], w.bias);
  const product = g.op1('MatMul', [x, kernel], {}, `${hint}/matmul`);
  return g.op1('Add', [product, bias], {}, `${hint}/out`);
}

export function buildHeadsGraph(heads: TrainedHeads): GraphBuilder {
  const g = new GraphBuilder('groknet_heads');
  const extras = heads.extraInputs ?? [];
  const firstChannels = heads.channels - extras.reduce((sum, e) => sum + e.channels, 0);
  if (heads.upperTrunk && firstChannels !== BLOCK16.out) throw new Error(`the upper trunk gives ${BLOCK16.out} features, the heads expect ${firstChannels} before the extra inputs`);
  const input = g.input(heads.inputNode, ['batch', 'height', 'width', heads.upperTrunk ? BLOCK16.in : firstChannels]);
  if (heads.block15 && !heads.upperTrunk) throw new Error('block 15 is trained only with the upper trunk above it');
  const trunkInput = heads.block15 ? appendBlock15(g, input, heads.block15) : input;
  const x = heads.upperTrunk ? appendUpperTrunk(g, trunkInput, heads.upperTrunk) : input;

  // GeM pooling over the spatial axes: (mean(clip(x, eps)^p))^(1/p).
  const gem = (map: string, p: number, hint: string): string => {
    const clipped = g.op1('Clip', [map, g.constFloat(`${hint}/eps`, [], [GEM_EPS])], {}, `${hint}/clip`);
    const powered = g.op1('Pow', [clipped, g.constFloat(`${hint}/p`, [], [p])], {}, `${hint}/pow`);
    const mean = g.op1('ReduceMean', [powered], { axes: [1, 2], keepdims: 0 }, `${hint}/mean`);
    return g.op1('Pow', [mean, g.constFloat(`${hint}/inv_p`, [], [1 / p])], {}, `${hint}/root`);
  };
  const pooledParts = [gem(x, heads.gemP, 'gem')];
  extras.forEach((extra, i) => pooledParts.push(gem(g.input(extra.node, ['batch', `extra_${i}_height`, `extra_${i}_width`, extra.channels]), extra.gemP, `gem_extra_${i}`)));
  const pooled = pooledParts.length === 1 ? pooledParts[0]! : g.op1('Concat', pooledParts, { axis: 1 }, 'features/joined');

  const centred = g.op1('Sub', [pooled, g.constFloat('features/mean', [heads.channels], heads.featureMean)], {}, 'features/centred');
  let h = g.op1('Div', [centred, g.constFloat('features/std', [heads.channels], heads.featureStd)], {}, 'features/standard');

  heads.shared.forEach((layer, i) => {
    h = g.op1('Relu', [dense(g, h, layer, `shared_${i}`)], {}, `shared_${i}/relu`);
  });

  for (const head of heads.heads) {
    const logits = dense(g, h, head.dense, `head_${head.name}`);
    g.opInto(head.kind === 'single' ? 'Softmax' : 'Sigmoid', [logits], [headOutputName(head.name)], head.kind === 'single' ? { axis: -1 } : {});
    g.output(headOutputName(head.name), ['batch', head.dense.outDim]);
  }

  const raw = dense(g, h, heads.embedding.dense, 'embedding');
  g.opInto('LpNormalization', [raw], [EMBEDDING_OUTPUT], { axis: -1, p: 2 });
  g.output(EMBEDDING_OUTPUT, ['batch', heads.embedding.dense.outDim]);
  const rotation = g.constFloat('code/rotation', [heads.embedding.dense.outDim, heads.embedding.bits], heads.embedding.rotation);
  const dim = heads.embedding.dense.outDim;
  const codeCentred = g.op1('Sub', [EMBEDDING_OUTPUT, g.constFloat('code/mean', [dim], heads.embedding.codeMean)], {}, 'code/centred');
  g.opInto('MatMul', [codeCentred, rotation], [CODE_OUTPUT]);
  g.output(CODE_OUTPUT, ['batch', heads.embedding.bits]);
  return g;
}
