// Which trunk sits under the segmentation decoder: the packaged backbone up to Conv_1; or block
// 16 + Conv_1 of a trained product model (`upperTrunkFrom`, frozen: its Conv_1 maps are cached);
// or those layers fine-tuned here with the decoder (block 15's maps are cached and
// trunk-training.ts runs the layers above them), with block 15 fine-tuned too where asked
// (block 14's maps are cached instead).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readManifest, type PreprocessSpec } from '../../model/manifest.ts';
import { block15InputNode, pretrainedBlock15, type Block15Weights } from '../../model/upper-trunk/block15.ts';
import { BLOCK16, pretrainedUpperTrunk, upperTrunkInputNode, type UpperTrunkWeights } from '../../model/upper-trunk/block16.ts';
import { SEGMENT_BACKBONE_ID, SEGMENT_INPUT, SEGMENT_TAPS, tapsWithUpperTrunk, type Tap } from '../../segment/taps.ts';
import { UPPER_CONV1_NODE, upperTrunkFromHeads } from '../../segment/trunk.ts';
import type { SegmentTrainConfig } from './config.ts';

export interface TrunkPlan {
  /** Photos letterboxed to the config's input size. */
  input: PreprocessSpec;
  /** The product model whose fine-tuned upper trunk is used (`upperTrunkFrom`), and its name@version. */
  upperFrom?: { weights: UpperTrunkWeights; source: string };
  /** Block 16 + Conv_1 under the decoder where they are not the packaged backbone's own. */
  upper?: UpperTrunkWeights;
  /** The upper trunk trains with the decoder (from `upper`). */
  fineTune: boolean;
  /** Block 15's starting weights, where it trains too. */
  block15?: Block15Weights;
  /** The decoder's levels, coarse to fine. */
  levelTaps: readonly Tap[];
  /** What the feature cache holds for those levels: the trunk's input map first where the trunk trains here. */
  cachedTaps: readonly Tap[];
}

export async function planTrunk(config: SegmentTrainConfig, log: (line: string) => void): Promise<TrunkPlan> {
  const input: PreprocessSpec = { ...SEGMENT_INPUT, size: [config.inputSize[0], config.inputSize[1]] };
  const upperFrom = config.upperTrunkFrom ? await readUpperTrunk(config.upperTrunkFrom) : undefined;
  const fineTune = config.upperTrunkLearningRate > 0;
  const upper = upperFrom?.weights ?? (fineTune ? pretrainedUpperTrunk(SEGMENT_BACKBONE_ID) : undefined);
  // The decoder's levels; and what the cache holds: block 15's map where the trunk above it is fine-tuned here.
  const levelTaps = upper ? tapsWithUpperTrunk(UPPER_CONV1_NODE) : SEGMENT_TAPS;
  const block15 = config.block15LearningRate > 0 ? pretrainedBlock15() : undefined;
  const trunkInput = block15 ? block15InputNode() : upperTrunkInputNode();
  const cachedTaps = fineTune ? tapsWithUpperTrunk(trunkInput, BLOCK16.in) : levelTaps;
  if (upper) log(`upper trunk: block 16 + Conv_1 of ${upperFrom?.source ?? 'the packaged backbone'}${fineTune ? `, fine-tuned at lr ${config.upperTrunkLearningRate}` : ', frozen'}${block15 ? `; block 15 fine-tuned at lr ${config.block15LearningRate}` : ''}`);
  return { input, ...(upperFrom ? { upperFrom } : {}), ...(upper ? { upper } : {}), fineTune, ...(block15 ? { block15 } : {}), levelTaps, cachedTaps };
}

/** The fine-tuned upper trunk of a product model directory (its manifest names the heads file). */
async function readUpperTrunk(dir: string): Promise<{ weights: UpperTrunkWeights; source: string }> {
  const manifest = await readManifest(path.join(dir, 'model.json'));
  const weights = upperTrunkFromHeads(new Uint8Array(await readFile(path.resolve(dir, manifest.headsFile))));
  return { weights, source: `${manifest.name}@${manifest.version}` };
}
