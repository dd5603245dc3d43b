// The segmentation decoder: an FPN-lite over three backbone maps, coarse to fine. Each
// level reduces its map with a 1x1 conv (the lateral), adds the coarser level brought to
// its size (1x1 projection, then 2x bilinear upsampling), applies ReLU and optionally a
// 3x3 conv for spatial context; a level may also add the map's global mean through a 1x1
// conv (image-level context); a 1x1 conv on the finest level gives the class logits.
// TF.js trains exactly this function (decoder-tf.ts); buildDecoderGraph writes it as ONNX
// reading the backbone tensors by their TF names, in TF's NHWC layout.
import type { DenseWeights } from '../model/heads/heads-graph.ts';
import { GraphBuilder } from '../model/onnx/graph-builder.ts';
import { appendBlock15, checkBlock15Weights, type Block15Weights } from '../model/upper-trunk/block15.ts';
import { appendUpperTrunk, BLOCK16, checkUpperTrunkWeights, type UpperTrunkWeights } from '../model/upper-trunk/block16.ts';

export const DECODER_OUTPUT = 'segment_logits';

export interface DecoderLevel {
  /** Backbone tensor read at this level (TF node name), NHWC. */
  node: string;
  channels: number;
  /** Map size [height, width]; each level is exactly twice the previous one. */
  size: [number, number];
  /** Per-channel standardisation of the backbone map, from the training maps. */
  mean: Float32Array;
  std: Float32Array;
  /** 1x1 conv: channels -> width. */
  lateral: DenseWeights;
  /** 1x1 conv of the coarser level's output before upsampling (absent on the coarsest). */
  fromCoarser?: DenseWeights;
  /** Optional 3x3 conv (same padding) after the sum: kernel [9 * width, width], rows ordered (dy, dx, channel) as TF's [3,3,in,out]. */
  mix?: DenseWeights;
  /**
   * Optional image-level context (the image pooling of ParseNet and DeepLab): the map's
   * spatial mean through a 1x1 conv (channels -> width), added at every position. Which
   * garment a region is (blouse, shirt or top) is a property of the whole photo.
   */
  global?: DenseWeights;
}

export interface DecoderWeights {
  /** Coarse to fine. */
  levels: DecoderLevel[];
  /** 1x1 conv on the finest level: width -> classes. */
  classifier: DenseWeights;
  /**
   * A fine-tuned block 16 + Conv_1 in front of the coarsest level: the graph then reads
   * `input` (block 15's map) and computes the coarsest level's map itself. With `block15`,
   * a fine-tuned block 15 in front of those: `input` is then block 14's map.
   */
  upperTrunk?: { input: string; weights: UpperTrunkWeights; block15?: Block15Weights };
}

export function decoderClasses(weights: DecoderWeights): number {
  return weights.classifier.outDim;
}

/** Checks the shapes fit together, so a bad decoder fails before it is written. */
export function checkDecoder(weights: DecoderWeights): void {
  const fail = (why: string): never => {
    throw new Error(`decoder: ${why}`);
  };
  if (weights.levels.length === 0) fail('no levels');
  let width = 0;
  weights.levels.forEach((level, i) => {
    const { lateral } = level;
    if (lateral.inDim !== level.channels) fail(`level ${i} lateral reads ${lateral.inDim} channels, the map has ${level.channels}`);
    if (level.mean.length !== level.channels || level.std.length !== level.channels) fail(`level ${i} standardisation has the wrong length`);
    if (i === 0 && level.fromCoarser) fail('the coarsest level has no coarser level');
    if (i > 0) {
      const prev = weights.levels[i - 1]!;
      if (!level.fromCoarser) fail(`level ${i} lacks its projection from the coarser level`);
      if (level.fromCoarser!.inDim !== width || level.fromCoarser!.outDim !== lateral.outDim) fail(`level ${i} projection is ${level.fromCoarser!.inDim}->${level.fromCoarser!.outDim}`);
      if (level.size[0] !== prev.size[0] * 2 || level.size[1] !== prev.size[1] * 2) fail(`level ${i} is not twice level ${i - 1}`);
    }
    if (level.mix && (level.mix.inDim !== 9 * lateral.outDim || level.mix.outDim !== lateral.outDim)) fail(`level ${i} 3x3 conv has the wrong shape`);
    if (level.global && (level.global.inDim !== level.channels || level.global.outDim !== lateral.outDim)) fail(`level ${i} context conv has the wrong shape`);
    width = lateral.outDim;
  });
  if (weights.upperTrunk) {
    checkUpperTrunkWeights(weights.upperTrunk.weights);
    if (weights.upperTrunk.block15) checkBlock15Weights(weights.upperTrunk.block15);
    if (weights.levels[0]!.channels !== BLOCK16.out) fail(`the upper trunk writes ${BLOCK16.out} channels, the coarsest level reads ${weights.levels[0]!.channels}`);
  }
  if (weights.classifier.inDim !== width) fail(`the classifier reads ${weights.classifier.inDim} channels, the last level has ${width}`);
}

/**
 * The standardisation folded into the lateral conv: W' = W / std (per input row),
 * b' = b - (mean / std) W. Exact in real arithmetic, and one op less per level.
 */
export function foldStandardisation(level: DecoderLevel, lateral: DenseWeights = level.lateral): DenseWeights {
  const { mean, std } = level;
  const kernel = new Float32Array(lateral.kernel.length);
  const bias = Float32Array.from(lateral.bias);
  for (let i = 0; i < lateral.inDim; i++) {
    const s = std[i]!;
    const m = mean[i]!;
    for (let o = 0; o < lateral.outDim; o++) {
      const w = lateral.kernel[i * lateral.outDim + o]! / s;
      kernel[i * lateral.outDim + o] = w;
      bias[o]! -= m * w;
    }
  }
  return { kernel, bias, inDim: lateral.inDim, outDim: lateral.outDim };
}

/** A 1x1 conv on an NHWC tensor: MatMul over the last axis, then the bias. */
function conv1x1(g: GraphBuilder, x: string, w: DenseWeights, hint: string): string {
  const kernel = g.constFloat(`${hint}/kernel`, [w.inDim, w.outDim], w.kernel);
  const bias = g.constFloat(`${hint}/bias`, [w.outDim], w.bias);
  return g.op1('Add', [g.op1('MatMul', [x, kernel], {}, `${hint}/matmul`), bias], {}, `${hint}/out`);
}

/** A 3x3 conv with zero padding on an NHWC tensor, via ONNX's NCHW Conv. */
function conv3x3(g: GraphBuilder, x: string, w: DenseWeights, hint: string): string {
  const width = w.outDim;
  const inDim = w.inDim / 9;
  // TF rows (dy, dx, in) x columns out -> ONNX [out, in, dy, dx].
  const kernel = new Float32Array(width * inDim * 9);
  for (let dy = 0; dy < 3; dy++) {
    for (let dx = 0; dx < 3; dx++) {
      for (let c = 0; c < inDim; c++) {
        const row = (dy * 3 + dx) * inDim + c;
        for (let o = 0; o < width; o++) kernel[((o * inDim + c) * 3 + dy) * 3 + dx] = w.kernel[row * width + o]!;
      }
    }
  }
  const nchw = g.op1('Transpose', [x], { perm: [0, 3, 1, 2] }, `${hint}/nchw`);
  const conv = g.op1(
    'Conv',
    [nchw, g.constFloat(`${hint}/kernel`, [width, inDim, 3, 3], kernel), g.constFloat(`${hint}/bias`, [width], w.bias)],
    { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] },
    `${hint}/conv`,
  );
  return g.op1('Transpose', [conv], { perm: [0, 2, 3, 1] }, `${hint}/nhwc`);
}

export function buildDecoderGraph(weights: DecoderWeights): GraphBuilder {
  checkDecoder(weights);
  const g = new GraphBuilder('groknet_segment_decoder');
  // Inputs first, so the graph's input list is in level order.
  const inputs = weights.levels.map((level, i) => {
    const upper = i === 0 ? weights.upperTrunk : undefined;
    if (!upper) return g.input(level.node, ['batch', level.size[0], level.size[1], level.channels]);
    return g.input(upper.input, ['batch', level.size[0], level.size[1], BLOCK16.in]);
  });
  if (weights.upperTrunk) {
    const { block15 } = weights.upperTrunk;
    inputs[0] = appendUpperTrunk(g, block15 ? appendBlock15(g, inputs[0]!, block15) : inputs[0]!, weights.upperTrunk.weights);
  }
  let previous: string | undefined;
  weights.levels.forEach((level, i) => {
    const hint = `level_${i}`;
    let sum = conv1x1(g, inputs[i]!, foldStandardisation(level), `${hint}/lateral`);
    if (level.global) {
      // The spatial mean commutes with the standardisation (both affine), so it folds the same way.
      const pooled = g.op1('ReduceMean', [inputs[i]!], { axes: [1, 2], keepdims: 1 }, `${hint}/pool`);
      sum = g.op1('Add', [sum, conv1x1(g, pooled, foldStandardisation(level, level.global), `${hint}/global`)], {}, `${hint}/with_context`);
    }
    if (previous !== undefined && level.fromCoarser) {
      const projected = conv1x1(g, previous, level.fromCoarser, `${hint}/from_coarser`);
      // half_pixel linear with edge clamping is TF's resizeBilinear(halfPixelCenters = true).
      const up = g.op1(
        'Resize',
        [projected, '', g.constFloat(`${hint}/scales`, [4], [1, 2, 2, 1])],
        { mode: 'linear', coordinate_transformation_mode: 'half_pixel' },
        `${hint}/upsample`,
      );
      sum = g.op1('Add', [sum, up], {}, `${hint}/sum`);
    }
    let out = g.op1('Relu', [sum], {}, `${hint}/relu`);
    if (level.mix) out = g.op1('Relu', [conv3x3(g, out, level.mix, `${hint}/mix`)], {}, `${hint}/mix_relu`);
    previous = out;
  });
  const finest = weights.levels[weights.levels.length - 1]!;
  const logits = conv1x1(g, previous!, weights.classifier, 'classifier');
  g.opInto('Identity', [logits], [DECODER_OUTPUT]);
  g.output(DECODER_OUTPUT, ['batch', finest.size[0], finest.size[1], weights.classifier.outDim]);
  return g;
}

export interface DecoderShape {
  levels: Array<{ node: string; channels: number; size: [number, number]; width: number; mix: boolean; global?: boolean }>;
  classes: number;
}

/** He-uniform kernels for the ReLU layers, zero biases; the classifier starts small. */
export function initDecoder(shape: DecoderShape, random: () => number): DecoderWeights {
  const dense = (inDim: number, outDim: number, gain = 1): DenseWeights => {
    const limit = gain * Math.sqrt(6 / inDim);
    return { kernel: Float32Array.from({ length: inDim * outDim }, () => (random() * 2 - 1) * limit), bias: new Float32Array(outDim), inDim, outDim };
  };
  const levels = shape.levels.map((l, i): DecoderLevel => {
    const previous = shape.levels[i - 1];
    return {
      node: l.node,
      channels: l.channels,
      size: l.size,
      mean: new Float32Array(l.channels),
      std: new Float32Array(l.channels).fill(1),
      lateral: dense(l.channels, l.width),
      ...(previous ? { fromCoarser: dense(previous.width, l.width) } : {}),
      ...(l.mix ? { mix: dense(9 * l.width, l.width) } : {}),
      ...(l.global ? { global: dense(l.channels, l.width) } : {}),
    };
  });
  const last = shape.levels[shape.levels.length - 1]!;
  return { levels, classifier: dense(last.width, shape.classes, 0.1) };
}
