// The model artifact a training run writes: the heads graph (pooling, shared layers, heads,
// embedding and code projection, with any fine-tuned trunk layers) as its headsFile, EVAL.md,
// and model.json, each written atomically and model.json last. `trainedArtifact` says what a
// unified-trainer run exports; `exportArtifact` writes any such artifact (the test models too).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { backboneSpec } from '../model/backbones/registry.ts';
import { writeAtomic } from '../model/cache.ts';
import { buildHeadsGraph, CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName, type TrainedHeads } from '../model/heads/heads-graph.ts';
import { MANIFEST_FORMAT_VERSION, parseManifest, type ModelManifest } from '../model/manifest.ts';
import { datasetViews, type DatasetConfig, type TrainConfig } from './config.ts';
import type { LabelledDataset } from './datasets/types.ts';
import type { Evaluation } from './evaluate-fit.ts';
import type { FitResult } from './fit-types.ts';
import type { ItqResult } from './itq.ts';
import { taskDatasets, type TrainingTasks } from './tasks.ts';
import { trunkInputNode, type TrainedTrunk } from './trainable-trunk.ts';

/** What the heads graph reads and pools: the backbone tensor(s), and the fine-tuned trunk layers it carries. */
export type HeadsGraphInput = Pick<TrainedHeads, 'inputNode' | 'channels' | 'gemP' | 'upperTrunk' | 'block15' | 'extraInputs'>;

export interface HeadsArtifact {
  /** model.json, validated before anything is written; the graph is written as its headsFile. */
  manifest: ModelManifest;
  graphInput: HeadsGraphInput;
  fit: Pick<FitResult, 'featureMean' | 'featureStd' | 'shared' | 'heads' | 'embedding'>;
  /** The binary code: sign((embedding - mean) x rotation), manifest.embedding.codeBits wide. */
  codes: Pick<ItqResult, 'mean' | 'rotation'>;
}

/** Writes the artifact into `dir` (created if needed) and returns its validated manifest. */
export async function exportArtifact(dir: string, artifact: HeadsArtifact): Promise<ModelManifest> {
  const manifest = parseManifest(artifact.manifest);
  const { fit, codes } = artifact;
  const graph = buildHeadsGraph({
    ...artifact.graphInput,
    featureMean: fit.featureMean,
    featureStd: fit.featureStd,
    shared: fit.shared,
    heads: fit.heads,
    embedding: { dense: fit.embedding, codeMean: codes.mean, rotation: codes.rotation, bits: manifest.embedding.codeBits },
  });
  await mkdir(dir, { recursive: true });
  // Atomic writes, model.json last: a crash mid-export never leaves a manifest beside a torn graph.
  await writeAtomic(path.join(dir, manifest.headsFile), graph.toModel());
  await writeAtomic(path.join(dir, 'EVAL.md'), evalMarkdown(manifest));
  await writeAtomic(path.join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** What a unified-trainer run knows once it has fitted, coded and evaluated its heads. */
export interface TrainedRun {
  prepared: {
    config: TrainConfig;
    datasets: ReadonlyArray<{ config: DatasetConfig; data: LabelledDataset }>;
    rows: { rows: readonly unknown[] };
    dim: number;
    featureSeconds: number;
  };
  plan: Pick<TrainingTasks, 'tasks' | 'multiTasks' | 'trainRows'>;
  fit: FitResult;
  trunk?: TrainedTrunk;
  itq: ItqResult;
  evaluation: Evaluation;
  fitSeconds: number;
}

/** The artifact of a unified-trainer run: its manifest (labels, calibrated thresholds, training record) and graph. */
export function trainedArtifact(run: TrainedRun): HeadsArtifact {
  const { prepared, plan, fit, trunk, itq, evaluation } = run;
  const { config } = prepared;
  const backbone = backboneSpec(config.model.backbone);
  const [tensor, ...extraTensors] = config.model.tensors.map((name) => backbone.tensors[name]!);
  const inputNode = trunk ? trunkInputNode(trunk.block15Weights ? 'block_15' : 'block_16') : tensor!.node;
  // Tensors after the first (a fused backbone's second trunk) are pooled as the cache pooled them.
  const extraInputs = extraTensors.map((t) => ({ node: t.node, channels: t.channels, gemP: config.model.gemP }));
  const gemP = trunk?.gemP ?? config.model.gemP;
  const manifest: ModelManifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: config.name,
    version: config.version,
    description: `${trunk ? `Fine-tuned ${trunk.block15Weights ? 'blocks 15-16' : 'block 16'} + Conv_1 over a frozen` : 'Frozen'} ${backbone.description} (npm package${backbone.fused ? 's' : ''} ${backbone.packageName}) + GeM (p ${config.model.upperTrunk?.learnGemP ? `learned: ${round(gemP)}` : gemP}) + shared layers ${JSON.stringify(config.model.shared)} + ${fit.heads.length} heads + embedding`,
    backbone: { id: backbone.id, tensors: [inputNode, ...extraInputs.map((e) => e.node)] },
    input: backbone.input,
    headsFile: 'heads.onnx',
    heads: fit.heads.map((head) =>
      head.kind === 'single'
        ? { name: head.name, kind: 'single', output: headOutputName(head.name), labels: plan.tasks.find((t) => t.name === head.name)!.labels, abstainBelow: evaluation.abstainBelow[head.name] ?? 0, ...headProvenance(run, head.name) }
        : { name: head.name, kind: 'multi', output: headOutputName(head.name), labels: plan.multiTasks.find((t) => t.name === head.name)!.labels, thresholds: evaluation.thresholds[head.name]!, ...headProvenance(run, head.name) },
    ),
    embedding: { output: EMBEDDING_OUTPUT, dim: config.model.embeddingDim, codeOutput: CODE_OUTPUT, codeBits: config.model.codeBits, exactMatchThreshold: evaluation.exactMatchThreshold ?? 0.9, ...(evaluation.exactMatchHeads?.length ? { exactMatchHeads: evaluation.exactMatchHeads } : {}) },
    training: {
      config: config.name,
      datasets: prepared.datasets.map((d) => ({ name: d.config.name, images: d.data.samples.length, weight: d.config.weight, views: datasetViews(d.config) })),
      rows: prepared.rows.rows.length,
      trainRows: plan.trainRows.length,
      steps: fit.steps,
      itqErrorFirstLast: [round(itq.errors[0] ?? 0), round(itq.errors.at(-1) ?? 0)],
      gemP: round(gemP),
      featureSeconds: Math.round(prepared.featureSeconds),
      fitSeconds: Math.round(run.fitSeconds),
    },
    evaluation: evaluation.report,
  };
  return {
    manifest,
    graphInput: {
      inputNode,
      channels: prepared.dim,
      ...(trunk ? { upperTrunk: trunk.weights } : {}),
      ...(trunk?.block15Weights ? { block15: trunk.block15Weights } : {}),
      ...(extraInputs.length > 0 ? { extraInputs } : {}),
      gemP,
    },
    fit,
    codes: itq,
  };
}

/** What a head was trained on (datasets and labelled training rows) and the vertical it describes. */
function headProvenance(run: TrainedRun, head: string): { trainedOn: string; vertical?: string; title?: string } {
  const { config, datasets } = run.prepared;
  const task = config.tasks.find((t) => t.head === head);
  const names = task ? taskDatasets(config, task) : [];
  const targets = run.plan.tasks.find((t) => t.name === head)?.targets;
  const labelled = run.plan.multiTasks.find((t) => t.name === head)?.labelled;
  let rows = 0;
  for (const r of run.plan.trainRows) if ((targets && targets[r]! >= 0) || (labelled && labelled[r] === 1)) rows++;
  const field = task && 'field' in task && task.field !== 'label' && task.field !== 'tags' ? ` (${task.field})` : '';
  const trainedOn = `${names.join(' + ')}${field}: ${rows} labelled training rows (images and their augmented views)`;
  const verticals = new Set(names.map((n) => datasets.find((d) => d.config.name === n)?.config.vertical));
  const vertical = names.length === 1 && verticals.size === 1 ? [...verticals][0] : undefined;
  const title = task && 'title' in task ? task.title : undefined;
  return { trainedOn, ...(vertical ? { vertical } : {}), ...(title ? { title } : {}) };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** EVAL.md: the manifest's evaluation, a table per measure group, and its training record. */
export function evalMarkdown(manifest: ModelManifest): string {
  const lines = [`# ${manifest.name} ${manifest.version}: evaluation on held-out rows`, ''];
  for (const [name, entry] of Object.entries(manifest.evaluation ?? {})) {
    lines.push(`## ${name}`, '', '| measure | value |', '|---|---|');
    for (const [k, v] of Object.entries(entry as Record<string, unknown>)) lines.push(`| ${k} | ${String(v)} |`);
    lines.push('');
  }
  if (manifest.training) lines.push('## training', '', '```json', JSON.stringify(manifest.training, null, 2), '```', '');
  return lines.join('\n');
}
