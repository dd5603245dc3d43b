// The layers the joint fit trains, as TF.js variables: the features standardised with the
// training rows' statistics, the shared layers (ReLU, dropout while training), one dense
// layer per head, the L2-normalised embedding and ArcFace's class centres. The exported
// graph (src/model/heads/heads-graph.ts) computes what `predict` computes.
import type { DenseWeights } from '../model/heads/heads-graph.ts';
import type { FitInput, FitResult, MultiTask, SingleTask } from './fit-types.ts';
import { matMul } from './mat-mul.ts';
import { tf } from './tf.ts';

export interface DenseVariables {
  w: tf.Variable<tf.Rank.R2>;
  b: tf.Variable;
}

export type HeadVariables<Task> = DenseVariables & { task: Task };

/** Per-column mean and standard deviation of the features over the training rows. */
export interface Standardisation {
  mean: Float32Array;
  std: Float32Array;
}

export function featureStandardisation(features: Float32Array, dim: number, trainRows: Int32Array): Standardisation {
  const mean = new Float32Array(dim);
  const std = new Float32Array(dim);
  for (const r of trainRows) for (let j = 0; j < dim; j++) mean[j]! += features[r * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= trainRows.length;
  for (const r of trainRows) for (let j = 0; j < dim; j++) std[j]! += (features[r * dim + j]! - mean[j]!) ** 2;
  for (let j = 0; j < dim; j++) std[j] = Math.sqrt(std[j]! / trainRows.length) + 1e-6;
  return { mean, std };
}

export function gatherRows(features: Float32Array, dim: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(features.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
  return out;
}

function glorot(random: () => number, inDim: number, outDim: number): Float32Array {
  const limit = Math.sqrt(6 / (inDim + outDim));
  return Float32Array.from({ length: inDim * outDim }, () => (random() * 2 - 1) * limit);
}

// Unnamed variables: names are global in TF.js and would clash between runs.
const variable = (shape: number[], values: Float32Array): tf.Variable => tf.variable(tf.tensor(values, shape), true);

function dense(random: () => number, inDim: number, outDim: number): DenseVariables {
  return { w: variable([inDim, outDim], glorot(random, inDim, outDim)) as tf.Variable<tf.Rank.R2>, b: variable([outDim], new Float32Array(outDim)) };
}

function denseWeights({ w, b }: DenseVariables): DenseWeights {
  return { kernel: w.dataSync() as Float32Array, bias: b.dataSync() as Float32Array, inDim: w.shape[0]!, outDim: w.shape[1]! };
}

/** Dropout seeds a training step may use (one per layer it drops on). */
const DROPOUT_SEEDS_PER_STEP = 16;

export class HeadNetwork {
  /** Every trainable variable, in a fixed order: Adam keys its moments by position. */
  readonly trainable: readonly tf.Variable[];
  /** The kernels weight decay applies to (not biases, not the ArcFace centres). */
  readonly kernels: readonly tf.Variable[];
  private readonly meanT: tf.Tensor1D;
  private readonly stdT: tf.Tensor1D;

  private constructor(
    readonly standardisation: Standardisation,
    readonly shared: readonly DenseVariables[],
    readonly singleHeads: ReadonlyArray<HeadVariables<SingleTask>>,
    readonly multiHeads: ReadonlyArray<HeadVariables<MultiTask>>,
    readonly embedding: DenseVariables,
    readonly centres: tf.Variable,
    private readonly dropout: number,
    private readonly seed: number,
  ) {
    this.meanT = tf.tensor1d(standardisation.mean);
    this.stdT = tf.tensor1d(standardisation.std);
    this.trainable = [...shared.flatMap((l) => [l.w, l.b]), ...singleHeads.flatMap((h) => [h.w, h.b]), ...multiHeads.flatMap((h) => [h.w, h.b]), embedding.w, embedding.b, centres];
    this.kernels = [...shared.map((l) => l.w), ...singleHeads.map((h) => h.w), ...multiHeads.map((h) => h.w), embedding.w];
  }

  /** Glorot-initialised from `input.seed`, layer by layer in a fixed order (shared, heads, embedding, centres). */
  static create(input: FitInput, standardisation: Standardisation, random: () => number): HeadNetwork {
    const shared: DenseVariables[] = [];
    let width = input.dim;
    for (const size of input.sharedSizes) {
      shared.push(dense(random, width, size));
      width = size;
    }
    const singleHeads = input.tasks.map((task) => ({ task, ...dense(random, width, task.labels.length) }));
    const multiHeads = (input.multiTasks ?? []).map((task) => ({ task, ...dense(random, width, task.labels.length) }));
    const embedding = dense(random, width, input.embeddingDim);
    const products = Math.max(1, input.productCount);
    const centres = variable([input.embeddingDim, products], glorot(random, input.embeddingDim, products));
    return new HeadNetwork(standardisation, shared, singleHeads, multiHeads, embedding, centres, input.dropout ?? 0, input.seed);
  }

  /**
   * The last shared layer's activations. While `training`, dropout is on, seeded per step and
   * layer so a resumed run drops the same units as an uninterrupted one; `featureGradient`
   * keeps the gradient with respect to the features (a trainable trunk below wants it).
   */
  hidden(x: tf.Tensor2D, training?: { step: number; featureGradient: boolean }): tf.Tensor2D {
    let dropoutSeed = (training?.step ?? 0) * DROPOUT_SEEDS_PER_STEP;
    const drop = (h: tf.Tensor2D): tf.Tensor2D => (training && this.dropout > 0 ? (tf.dropout(h, this.dropout, undefined, this.seed * 100003 + dropoutSeed++) as tf.Tensor2D) : h);
    let h = drop(tf.div(tf.sub(x, this.meanT), this.stdT) as tf.Tensor2D);
    for (const [i, layer] of this.shared.entries()) {
      h = drop(tf.relu(tf.add(matMul(h, layer.w, i === 0 && !training?.featureGradient), layer.b)) as tf.Tensor2D);
    }
    return h;
  }

  /** The L2-normalised embedding of hidden activations. */
  embed(h: tf.Tensor2D): tf.Tensor2D {
    const raw = tf.add(matMul(h, this.embedding.w), this.embedding.b) as tf.Tensor2D;
    return tf.div(raw, tf.add(tf.norm(raw, 2, 1, true), 1e-12)) as tf.Tensor2D;
  }

  /** Scores per head (softmax or sigmoid) and the embedding for `rows` of `features`, as the exported graph computes them. */
  predict(features: Float32Array, rows: Int32Array): ReturnType<FitResult['predict']> {
    const dim = this.standardisation.mean.length;
    const probs: Record<string, Float32Array> = {};
    for (const t of [...this.singleHeads, ...this.multiHeads]) probs[t.task.name] = new Float32Array(rows.length * t.task.labels.length);
    const embeddingDim = this.embedding.w.shape[1]!;
    const embedding = new Float32Array(rows.length * embeddingDim);
    // In chunks, so predicting every row never builds one giant tensor.
    for (let start = 0; start < rows.length; start += 1024) {
      const chunk = rows.subarray(start, start + 1024);
      tf.tidy(() => {
        const h = this.hidden(tf.tensor2d(gatherRows(features, dim, Array.from(chunk)), [chunk.length, dim]));
        for (const { task, w, b } of this.singleHeads) probs[task.name]!.set(tf.softmax(tf.add(tf.matMul(h, w), b)).dataSync(), start * task.labels.length);
        for (const { task, w, b } of this.multiHeads) probs[task.name]!.set(tf.sigmoid(tf.add(tf.matMul(h, w), b)).dataSync(), start * task.labels.length);
        embedding.set(this.embed(h).dataSync(), start * embeddingDim);
      });
    }
    return { probs, embedding };
  }

  /** The trained weights, as the heads graph takes them. */
  weights(): Pick<FitResult, 'shared' | 'heads' | 'embedding'> {
    return {
      shared: this.shared.map(denseWeights),
      heads: [
        ...this.singleHeads.map((h) => ({ name: h.task.name, kind: 'single' as const, dense: denseWeights(h) })),
        ...this.multiHeads.map((h) => ({ name: h.task.name, kind: 'multi' as const, dense: denseWeights(h) })),
      ],
      embedding: denseWeights(this.embedding),
    };
  }

  dispose(): void {
    tf.dispose([...this.trainable, this.meanT, this.stdT]);
  }
}
