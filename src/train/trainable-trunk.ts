// The upper trunk a unified-trainer run fine-tunes under the heads (block 16 + Conv_1, and
// block 15 with layers "block_15"): its training graphs over the cached trunk-input maps, the
// backbone tensor those maps are, and the frozen second trunk of a fused backbone beside it.
import { backboneSpec } from '../model/backbones/registry.ts';
import { block15InputNode, pretrainedBlock15, type Block15Weights } from '../model/upper-trunk/block15.ts';
import { BLOCK16, pretrainedUpperTrunk, upperTrunkInputNode, type UpperTrunkWeights } from '../model/upper-trunk/block16.ts';
import { Block15Graphs } from './block15.ts';
import type { TrainConfig } from './config.ts';
import type { TrunkTraining } from './fit-types.ts';
import { UpperTrunkGraphs, upperTrunkTraining } from './upper-trunk.ts';

type UpperTrunkConfig = NonNullable<TrainConfig['model']['upperTrunk']>;

/** A learned GeM exponent's rate against the trunk's (2e-4 in the shipped config: 1e-2 at the peak). */
const GEM_LEARNING_RATE_RATIO = 50;

/** The fine-tuned layers the exported graph carries, and the GeM exponent it pools with. */
export interface TrainedTrunk {
  weights: UpperTrunkWeights;
  block15Weights?: Block15Weights;
  /** Learned, or the config's where it is not. */
  gemP: number;
}

export interface UpperTrunkRun {
  /** What fitHeads trains: the trunk, followed by the frozen columns of a fused backbone's second trunk. */
  trunk: TrunkTraining;
  /** The trained layers; readable after close(). */
  trained(): TrainedTrunk;
  close(): Promise<void>;
}

/** What startUpperTrunk reads of a prepared run. */
export interface TrunkSources {
  config: TrainConfig;
  /** The trunk-input maps per row (float16). */
  maps: Uint16Array;
  rows: { rows: readonly unknown[] };
  features: Float32Array;
  dim: number;
}

export async function startUpperTrunk(prepared: TrunkSources, options: UpperTrunkConfig, weightDecay: number): Promise<UpperTrunkRun> {
  const spec = backboneSpec(prepared.config.model.backbone);
  // MobileNetV2's block 15 is at stride 32.
  // GeM graphs where the exponent is learned or is not 1; the plain mean otherwise (cheaper).
  const gem = options.learnGemP || prepared.config.model.gemP !== 1;
  const [height, width] = [Math.ceil(spec.input.size[0] / 32), Math.ceil(spec.input.size[1] / 32)];
  // Block 15 trains where asked: the upper trunk then hands back the gradient at its input.
  const block15Graphs = options.layers === 'block_15' ? await Block15Graphs.create(height, width) : undefined;
  const graphs = await UpperTrunkGraphs.create(height, width, 'pooled', Boolean(block15Graphs), gem);
  const per = graphs.valuesPerImage;
  if (prepared.maps.length !== prepared.rows.rows.length * per) throw new Error(`trunk-input maps hold ${prepared.maps.length} values, expected ${prepared.rows.rows.length} rows x ${per}`);
  const training = upperTrunkTraining({
    graphs,
    initial: pretrainedUpperTrunk(spec.id),
    maps: prepared.maps,
    fromEpoch: options.fromEpoch,
    learningRate: options.learningRate,
    weightDecay,
    ...(gem ? { gem: { initial: prepared.config.model.gemP, learningRateRatio: options.learnGemP ? GEM_LEARNING_RATE_RATIO : 0 } } : {}),
    ...(block15Graphs ? { block15: { graphs: block15Graphs, initial: pretrainedBlock15() } } : {}),
  });
  return {
    trunk: withFrozenTail(training, prepared.features, prepared.dim, BLOCK16.out),
    trained: () => {
      const block15Weights = training.block15Weights();
      return { weights: training.weights(), ...(block15Weights ? { block15Weights } : {}), gemP: training.gemP() ?? prepared.config.model.gemP };
    },
    close: async () => {
      await graphs.close();
      await block15Graphs?.close();
    },
  };
}

/** The backbone tensor the trainable trunk reads: block 15's output, or block 14's where block 15 trains too. */
export function trunkInputNode(layers: UpperTrunkConfig['layers']): string {
  return layers === 'block_15' ? block15InputNode() : upperTrunkInputNode();
}

/**
 * The trunk's pooled features followed by the rest of each row's cached features (the frozen
 * second trunk of a fused backbone): the heads see both, the trunk gets back the gradient of
 * its own columns only. Without a rest, the trunk itself.
 */
export function withFrozenTail(trunk: TrunkTraining, features: Float32Array, dim: number, trunkDim: number): TrunkTraining {
  if (dim === trunkDim) return trunk;
  const rowCount = features.length / dim;
  const join = (own: Float32Array, rows: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(rows.length * dim);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out.set(own.subarray(i * trunkDim, (i + 1) * trunkDim), i * dim);
      out.set(features.subarray(r * dim + trunkDim, (r + 1) * dim), i * dim + trunkDim);
    }
    return out;
  };
  return {
    fromEpoch: trunk.fromEpoch,
    learningRate: trunk.learningRate,
    forward: async (rows) => join(await trunk.forward(rows), rows),
    backward: (gradient, learningRate) => {
      const rows = gradient.length / dim;
      const own = new Float32Array(rows * trunkDim);
      for (let i = 0; i < rows; i++) own.set(gradient.subarray(i * dim, i * dim + trunkDim), i * trunkDim);
      return trunk.backward(own, learningRate);
    },
    poolAll: async () => join(await trunk.poolAll(), Int32Array.from({ length: rowCount }, (_, i) => i)),
    state: () => trunk.state(),
    restore: (state) => trunk.restore(state),
  };
}
