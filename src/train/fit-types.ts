// What the joint fit of the heads takes and gives back: the tasks each loss supervises,
// the trainable trunk below the pooled features, the run's settings, and the fitted weights.
import type { DenseWeights } from '../model/heads/heads-graph.ts';

export interface SingleTask {
  name: string;
  labels: string[];
  /** Class index per row, -1 where the row has no label for this task. */
  targets: Int32Array;
  weight: number;
  labelSmoothing?: number;
}

export interface MultiTask {
  name: string;
  labels: string[];
  /** Row-major [rows, labels] 0/1 targets. */
  targets: Float32Array;
  /** 1 where the row is labelled for this task, 0 where unknown. */
  labelled: Uint8Array;
  weight: number;
  loss?: 'bce' | 'multilabel-softmax';
}

export interface PairLoss {
  /** Row of the same product or instance to pair with each row (-1: none). */
  partner: Int32Array;
  /** Rows of one group show the same product; pairs across groups are negatives. */
  group: Int32Array;
  positiveMargin: number;
  negativeMargin: number;
  weight: number;
}

/**
 * Trainable layers below the pooled features (the upper trunk), trained from `fromEpoch` on
 * with the heads: forward gives a batch's pooled features, backward takes the loss's
 * gradient with respect to them and updates the layers' own weights.
 */
export interface TrunkTraining {
  fromEpoch: number;
  learningRate: number;
  forward(rows: readonly number[]): Promise<Float32Array>;
  backward(gradient: Float32Array, learningRate: number): Promise<void>;
  /** Pooled features of every row with the current weights. */
  poolAll(): Promise<Float32Array>;
  /** Weights and optimiser state, for checkpoints. */
  state(): Float32Array[];
  restore(state: Float32Array[]): void;
}

export interface FitInput {
  /** Row-major [rows, dim] pooled features. */
  features: Float32Array;
  dim: number;
  trainRows: Int32Array;
  tasks: SingleTask[];
  multiTasks?: MultiTask[];
  /** Product index per row for ArcFace (-1 where unknown). */
  productIds: Int32Array;
  productCount: number;
  pairs?: PairLoss;
  /** Sampling weight of each training row (e.g. its dataset's weight / its dataset's size). */
  rowWeights?: Float32Array;
  sharedSizes: number[];
  /** Dropout rate on the standardised features and after each shared layer (training only). */
  dropout?: number;
  embeddingDim: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  warmupEpochs?: number;
  labelSmoothing: number;
  arcface: { scale: number; margin: number; weight: number };
  seed: number;
  checkpoint?: { file: string; everySteps: number; resume: boolean };
  /** Layers below the features to fine-tune; `features` must be their output before training. */
  trunk?: TrunkTraining;
  /** Stop (with a checkpoint) after this many steps in total, e.g. to split a run across sessions. */
  stopAfterSteps?: number;
  /**
   * Stops between steps once aborted (Ctrl-C): writes a checkpoint, then throws an `interrupted`
   * error. Resuming from that checkpoint ends bit for bit like an uninterrupted run, as after stopAfterSteps.
   */
  signal?: AbortSignal;
  onEpoch?: (epoch: number, losses: Record<string, number>, seconds: number) => void;
}

export interface FitResult {
  featureMean: Float32Array;
  featureStd: Float32Array;
  /** Pooled features of every row as the fitted model sees them (recomputed when a trunk was trained). */
  features: Float32Array;
  shared: DenseWeights[];
  heads: Array<{ name: string; kind: 'single' | 'multi'; dense: DenseWeights }>;
  embedding: DenseWeights;
  /** Scores per task and the embedding for given rows, computed like the exported graph. */
  predict: (rows: Int32Array) => { probs: Record<string, Float32Array>; embedding: Float32Array };
  steps: number;
  dispose: () => void;
}
