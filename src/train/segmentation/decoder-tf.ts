// The decoder of decoder.ts in TensorFlow.js, for training. Convolutions are written as
// matrix products (a 1x1 conv is one; a 3x3 conv is one over the nine shifted copies of
// its input): the wasm backend has no kernel for a conv's filter gradient, and on maps
// this small the matrix products are as fast.
import type { DenseWeights } from '../../model/heads/heads-graph.ts';
import { tf } from '../tf.ts';
import { matMul } from '../mat-mul.ts';
import type { DecoderLevel, DecoderWeights } from '../../segment/decoder.ts';

export interface DenseVars {
  w: tf.Variable;
  b: tf.Variable;
}

export interface LevelVars {
  level: Omit<DecoderLevel, 'lateral' | 'fromCoarser' | 'mix' | 'global'>;
  meanT: tf.Tensor1D;
  stdT: tf.Tensor1D;
  lateral: DenseVars;
  fromCoarser?: DenseVars;
  mix?: DenseVars;
  global?: DenseVars;
}

export interface DecoderVars {
  levels: LevelVars[];
  classifier: DenseVars;
}

/** Unnamed variables: TF.js names are global and would clash between runs in one process. */
export function denseVars(weights: DenseWeights): DenseVars {
  return {
    w: tf.variable(tf.tensor2d(weights.kernel, [weights.inDim, weights.outDim]), true),
    b: tf.variable(tf.tensor1d(weights.bias), true),
  };
}

export function decoderVars(weights: DecoderWeights): DecoderVars {
  return {
    levels: weights.levels.map(({ lateral, fromCoarser, mix, global, ...level }) => ({
      level,
      meanT: tf.tensor1d(level.mean),
      stdT: tf.tensor1d(level.std),
      lateral: denseVars(lateral),
      ...(fromCoarser ? { fromCoarser: denseVars(fromCoarser) } : {}),
      ...(mix ? { mix: denseVars(mix) } : {}),
      ...(global ? { global: denseVars(global) } : {}),
    })),
    classifier: denseVars(weights.classifier),
  };
}

/** Trainable variables in a fixed order (Adam keys its moments by position). */
export function trainableOf(vars: DecoderVars): tf.Variable[] {
  const list: tf.Variable[] = [];
  for (const l of vars.levels) {
    list.push(l.lateral.w, l.lateral.b);
    if (l.fromCoarser) list.push(l.fromCoarser.w, l.fromCoarser.b);
    if (l.mix) list.push(l.mix.w, l.mix.b);
    if (l.global) list.push(l.global.w, l.global.b);
  }
  list.push(vars.classifier.w, vars.classifier.b);
  return list;
}

/** Kernels only: weight decay leaves biases alone. */
export function kernelsOf(vars: DecoderVars): tf.Variable[] {
  return [
    ...vars.levels.flatMap((l) => [l.lateral.w, ...(l.fromCoarser ? [l.fromCoarser.w] : []), ...(l.mix ? [l.mix.w] : []), ...(l.global ? [l.global.w] : [])]),
    vars.classifier.w,
  ];
}

function conv1x1(x: tf.Tensor4D, d: DenseVars, xIsData = false): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const out = tf.add(matMul(tf.reshape(x, [n * h * w, c]), d.w as tf.Tensor2D, xIsData), d.b);
  return tf.reshape(out, [n, h, w, d.w.shape[1]!]);
}

function conv3x3(x: tf.Tensor4D, d: DenseVars): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const shifted: tf.Tensor4D[] = [];
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) shifted.push(tf.slice(padded, [0, dy, dx, 0], [n, h, w, c]));
  const columns = tf.reshape(tf.concat(shifted, 3), [n * h * w, 9 * c]) as tf.Tensor2D;
  return tf.reshape(tf.add(matMul(columns, d.w as tf.Tensor2D), d.b), [n, h, w, d.w.shape[1]!]);
}

export interface ForwardOptions {
  /** The maps are already standardised (the trainer does it while unpacking its cache). */
  standardised?: boolean;
  /**
   * Training only: drops whole standardised input channels per image. 900 photos are few
   * for 2,600 input channels.
   */
  dropout?: number;
  seed?: number;
}

/** Logits [n, h, w, classes] at the finest level from the backbone maps (coarse to fine). */
export function decoderForward(vars: DecoderVars, maps: readonly tf.Tensor4D[], options: ForwardOptions = {}): tf.Tensor4D {
  const dropout = options.dropout ?? 0;
  let previous: tf.Tensor4D | undefined;
  vars.levels.forEach((l, i) => {
    let x = options.standardised ? maps[i]! : (tf.div(tf.sub(maps[i]!, l.meanT), l.stdT) as tf.Tensor4D);
    if (dropout > 0) x = tf.dropout(x, dropout, [x.shape[0], 1, 1, x.shape[3]], (options.seed ?? 0) * 31 + i) as tf.Tensor4D;
    let sum = conv1x1(x, l.lateral, true);
    if (l.global) sum = tf.add(sum, conv1x1(tf.mean(x, [1, 2], true) as tf.Tensor4D, l.global));
    if (previous && l.fromCoarser) {
      const up = tf.image.resizeBilinear(conv1x1(previous, l.fromCoarser), [l.level.size[0], l.level.size[1]], false, true);
      sum = tf.add(sum, up);
    }
    let out = tf.relu(sum);
    if (l.mix) out = tf.relu(conv3x3(out, l.mix));
    previous = out;
  });
  return conv1x1(previous!, vars.classifier);
}

function toDense(d: DenseVars): DenseWeights {
  return { kernel: d.w.dataSync() as Float32Array, bias: d.b.dataSync() as Float32Array, inDim: d.w.shape[0]!, outDim: d.w.shape[1]! };
}

export function weightsOf(vars: DecoderVars): DecoderWeights {
  return {
    levels: vars.levels.map((l) => ({
      ...l.level,
      lateral: toDense(l.lateral),
      ...(l.fromCoarser ? { fromCoarser: toDense(l.fromCoarser) } : {}),
      ...(l.mix ? { mix: toDense(l.mix) } : {}),
      ...(l.global ? { global: toDense(l.global) } : {}),
    })),
    classifier: toDense(vars.classifier),
  };
}

export function disposeVars(vars: DecoderVars): void {
  tf.dispose([...trainableOf(vars), ...vars.levels.flatMap((l) => [l.meanT, l.stdT])]);
}
