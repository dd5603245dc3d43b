// The segmentation artifact a training run writes (models/groknet-segment): decoder.onnx, the
// decoder with the fine-tuned trunk layers it carries, and model.json, what the runtime
// (src/segment/load.ts) reads: trunk tensors, input, grid, labels, and the training record.
// `segmentManifest` says what a run exports; `exportSegmentArtifact` writes any such artifact
// (the test models too).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomic } from '../../model/cache.ts';
import { block15InputNode } from '../../model/upper-trunk/block15.ts';
import { NOT_GARMENTS, type ClassMap } from '../../segment/classes.ts';
import { buildDecoderGraph, DECODER_OUTPUT, type DecoderWeights } from '../../segment/decoder.ts';
import type { OutputGrid } from '../../segment/grid.ts';
import { parseSegmentManifest, SEGMENT_FORMAT_VERSION, type SegmentManifest } from '../../segment/manifest.ts';
import { SEGMENT_BACKBONE_ID } from '../../segment/taps.ts';
import { backboneTensors } from '../../segment/trunk.ts';
import type { SegmentTrainConfig } from './config.ts';
import { VAL_FRACTION } from './dataset.ts';
import type { TrunkPlan } from './trunk-plan.ts';
import type { ValidationFigures } from './validate.ts';

export interface SegmentArtifact {
  /** model.json; refused before anything is written when the runtime would refuse it. */
  manifest: SegmentManifest;
  /** Written as the manifest's decoderFile. */
  weights: DecoderWeights;
}

/** Writes the artifact into `dir` (created if needed), each file atomically and model.json last. */
export async function exportSegmentArtifact(dir: string, artifact: SegmentArtifact): Promise<void> {
  const { manifest } = artifact;
  parseSegmentManifest(manifest);
  await mkdir(dir, { recursive: true });
  await writeAtomic(path.join(dir, manifest.decoderFile), buildDecoderGraph(artifact.weights).toModel());
  await writeAtomic(path.join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  seconds: number;
  /** On the epochs that validate. */
  pixelAccuracy?: number;
  meanIoU?: number;
}

/** What a segmentation training run knows once its decoder is trained and validated. */
export interface TrainedSegmentation {
  config: SegmentTrainConfig;
  plan: TrunkPlan;
  /** Block 15 was fine-tuned (the artifact then reads block 14). */
  block15Trained: boolean;
  map: ClassMap;
  grid: OutputGrid;
  trainImages: number;
  valImages: number;
  history: EpochRecord[];
  validation: ValidationFigures;
  seconds: number;
}

export function segmentManifest(run: TrainedSegmentation): SegmentManifest {
  const { config, plan, block15Trained, map } = run;
  const { upper, upperFrom, fineTune } = plan;
  return {
    formatVersion: SEGMENT_FORMAT_VERSION,
    kind: 'segmentation',
    name: 'groknet-segment',
    // 0.2: block 16 + Conv_1 carried in the decoder graph (the artifact reads block 15); 0.3: block 15 too (it reads block 14).
    version: block15Trained ? '0.3.0' : upper ? '0.2.0' : '0.1.0',
    description: `Clothing segmentation: FPN-lite decoder over the frozen MobileNetV2-1.4 trunk${
      upper
        ? ` up to block ${block15Trained ? '14; block 15 fine-tuned with the decoder' : '15'}; block 16 + Conv_1 ${upperFrom ? `from ${upperFrom.source} (fine-tuned by the unified trainer)` : 'from the packaged backbone'}${fineTune ? ', fine-tuned again with the decoder' : ''}, carried in decoder.onnx`
        : ''
    }; trained on Clothing Co-Parsing masks`,
    backbone: {
      id: SEGMENT_BACKBONE_ID,
      tensors: backboneTensors({ backboneId: SEGMENT_BACKBONE_ID, ...(upper ? { upper } : {}) }, plan.levelTaps).map((node, i) => (i === 0 && block15Trained ? block15InputNode() : node)),
    },
    input: { ...plan.input, layout: 'NHWC' },
    decoderFile: 'decoder.onnx',
    output: DECODER_OUTPUT,
    grid: run.grid,
    labels: map.labels,
    classLabels: map.classLabels,
    merged: config.merge,
    notGarments: [...NOT_GARMENTS],
    training: {
      dataset: 'clothing-parsing (masked photos)',
      split: `hash of the photo name, ${Math.round((1 - VAL_FRACTION) * 100)}/${Math.round(VAL_FRACTION * 100)}`,
      validatedOn: config.validateOn,
      trainImages: run.trainImages,
      valImages: run.valImages,
      // The settings as trained (what --config takes), with the product model's name@version instead of its folder.
      config: { ...config, datasets: undefined, out: undefined, upperTrunkFrom: upperFrom?.source },
      history: run.history,
      seconds: Math.round(run.seconds),
    },
    evaluation: { validation: run.validation },
  };
}
