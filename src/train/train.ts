// `groknet train CONFIG`: the unified trainer. Loads every dataset of the config through
// its adapter, caches frozen-backbone features per image and augmented view, trains the
// shared layers and all heads jointly (each loss on the rows that have its labels), learns
// the ITQ rotation of the binary codes, evaluates on held-out rows, calibrates thresholds,
// and writes the model artifact (heads.onnx + model.json + EVAL.md).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { backboneSpec } from '../model/backbones/registry.ts';
import { cacheDir, cacheKey, writeAtomic } from '../model/cache.ts';
import { buildHeadsGraph, CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from '../model/heads/heads-graph.ts';
import { block15InputNode, pretrainedBlock15 } from '../model/upper-trunk/block15.ts';
import { BLOCK16, pretrainedUpperTrunk, upperTrunkInputNode } from '../model/upper-trunk/block16.ts';
import { MANIFEST_FORMAT_VERSION, parseManifest, type ModelManifest } from '../model/manifest.ts';
import { buildRows, type TrainingRows } from './build-rows.ts';
import { datasetViews, type DatasetConfig, type TrainConfig } from './config.ts';
import { loadDataset } from './datasets/load.ts';
import type { LabelledDataset } from './datasets/types.ts';
import { evaluateFit, type Evaluation } from './evaluate-fit.ts';
import { extractPooledFeatures } from './extract-features.ts';
import { fitHeads, type FitResult, type MultiTask, type SingleTask, type TrunkTraining } from './fit-heads.ts';
import { learnItq } from './itq.ts';
import { Block15Graphs } from './block15.ts';
import { UpperTrunkGraphs, upperTrunkTraining } from './upper-trunk.ts';

export interface TrainOptions {
  out: string;
  resume?: boolean;
  log?: (line: string) => void;
  /** Restrict training to these heads (and the datasets they read): the single-task baselines. */
  onlyHeads?: string[];
  /** Write nothing; return the evaluation (used by the unified-vs-single comparison). */
  dryRun?: boolean;
  /** Called with the fitted model after evaluation, before it is disposed (e.g. to embed rows outside the trainer). */
  onFit?: (fit: FitResult, evaluation: Evaluation) => void | Promise<void>;
  /**
   * Stops at the next safe point once aborted (Ctrl-C), with an `interrupted` GroknetError:
   * between batches of the feature pass (what is done stays cached), between training steps
   * (after a checkpoint), or before the model is written. `resume` then goes on from there.
   */
  signal?: AbortSignal;
}

export interface TrainOutcome {
  manifest?: ModelManifest;
  evaluation: Evaluation;
  seconds: { features: number; fit: number; total: number };
}

export interface Prepared {
  config: TrainConfig;
  datasets: Array<{ config: DatasetConfig; data: LabelledDataset }>;
  rows: TrainingRows;
  features: Float32Array;
  dim: number;
  /** With model.upperTrunk: the trainable trunk's input maps per row (float16): block 15's output, or block 14's where block 15 trains. */
  maps?: Uint16Array;
  featureSeconds: number;
}

/** Loads datasets and extracts (or reuses) the cached backbone features for every row. */
export async function prepareTraining(config: TrainConfig, log: (line: string) => void, signal?: AbortSignal): Promise<Prepared> {
  const started = Date.now();
  const datasets: Prepared['datasets'] = [];
  for (const d of config.datasets) {
    const data = await loadDataset(d);
    log(`dataset ${d.name}: ${data.samples.length} images (${data.samples.filter((s) => s.split === 'val').length} held out), views: ${datasetViews(d).join(', ') || 'none'}`);
    datasets.push({ config: d, data });
  }
  const all = buildRows(datasets);
  const refs = all.rows.map((r) => r.ref);
  const backbone = backboneSpec(config.model.backbone);
  const mapNode = config.model.upperTrunk ? trunkInputNode(config.model.upperTrunk.layers) : undefined;
  const pooled = await extractPooledFeatures(refs, { backboneId: backbone.id, tensors: config.model.tensors, pValues: [config.model.gemP], ...(mapNode ? { mapNode } : {}), ...(signal ? { signal } : {}) });
  if (pooled.failed.length > 0) log(`images that failed to decode (skipped): ${pooled.failed.length}, e.g. ${pooled.failed.slice(0, 3).map((f) => `${path.basename(f.path)} (${f.code})`).join(', ')}`);
  const rows = buildRows(datasets, (ref) => pooled.rowOf.has(ref));
  const dim = pooled.channels;
  const source = pooled.byP.get(config.model.gemP)!;
  const features = new Float32Array(rows.rows.length * dim);
  rows.rows.forEach((row, r) => features.set(source.subarray(pooled.rowOf.get(row.ref)! * dim, (pooled.rowOf.get(row.ref)! + 1) * dim), r * dim));
  let maps: Uint16Array | undefined;
  if (pooled.maps && pooled.mapValues) {
    const per = pooled.mapValues;
    maps = new Uint16Array(rows.rows.length * per);
    rows.rows.forEach((row, r) => maps!.set(pooled.maps!.subarray(pooled.rowOf.get(row.ref)! * per, (pooled.rowOf.get(row.ref)! + 1) * per), r * per));
  }
  const featureSeconds = (Date.now() - started) / 1000;
  log(`features: ${rows.rows.length} rows x ${dim}${maps ? `, trunk-input maps of ${maps.length / rows.rows.length} values (float16)` : ''} in ${featureSeconds.toFixed(0)} s`);
  return { config, datasets, rows, features, dim, ...(maps ? { maps } : {}), featureSeconds };
}

function headLabels(prepared: Prepared, dataset: string, field: string): string[] {
  const d = prepared.datasets.find((x) => x.config.name === dataset);
  const labels = d?.data.tasks[field];
  if (!labels) throw new GroknetError('invalid_config', `dataset '${dataset}' has no labels named '${field}' (it has: ${Object.keys(d?.data.tasks ?? {}).join(', ')})`);
  return labels;
}

export async function trainPrepared(prepared: Prepared, options: TrainOptions): Promise<TrainOutcome> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { config, rows, features, dim } = prepared;
  const only = options.onlyHeads ? new Set(options.onlyHeads) : undefined;
  const wanted = config.tasks.filter((t) => !only || only.has(t.head));
  const n = rows.rows.length;

  const tasks: SingleTask[] = [];
  const multiTasks: MultiTask[] = [];
  for (const task of wanted) {
    if (task.loss === 'softmax') {
      const labels = headLabels(prepared, task.dataset, task.field === 'label' ? task.head : task.field);
      const field = task.field === 'label' ? task.head : task.field;
      const targets = new Int32Array(n).fill(-1);
      rows.rows.forEach((row, r) => {
        if (row.sample.dataset === task.dataset && row.sample.single[field] !== undefined) targets[r] = row.sample.single[field]!;
      });
      tasks.push({ name: task.head, labels, targets, weight: task.weight, labelSmoothing: task.labelSmoothing });
    } else if (task.loss === 'bce' || task.loss === 'multilabel-softmax') {
      const field = task.field === 'tags' ? task.head : task.field;
      const labels = headLabels(prepared, task.dataset, field);
      const L = labels.length;
      const targets = new Float32Array(n * L);
      const labelled = new Uint8Array(n);
      rows.rows.forEach((row, r) => {
        const present = row.sample.dataset === task.dataset ? row.sample.multi?.[field] : undefined;
        if (!present) return;
        labelled[r] = 1;
        for (const l of present) targets[r * L + l] = 1;
      });
      multiTasks.push({ name: task.head, labels, targets, labelled, weight: task.weight, loss: task.loss });
    }
  }
  const arcface = wanted.find((t) => t.loss === 'arcface');
  const contrastive = wanted.find((t) => t.loss === 'contrastive');
  // Single-task baselines train only on the rows their head reads.
  const usedDatasets = new Set(wanted.flatMap((t) => ('dataset' in t ? [t.dataset] : [])));
  const trainRows = only ? Int32Array.from(Array.from(rows.trainRows).filter((r) => usedDatasets.has(rows.rows[r]!.sample.dataset))) : rows.trainRows;
  if (trainRows.length === 0) throw new GroknetError('invalid_config', 'no training rows for the selected heads');

  const fitStarted = Date.now();
  const upper = config.model.upperTrunk && prepared.maps ? await startUpperTrunk(prepared, config.model.upperTrunk, config.optimizer.weightDecay) : undefined;
  const ckptKey = cacheKey(JSON.stringify(config), JSON.stringify(options.onlyHeads ?? []), String(n));
  let fit: FitResult;
  try {
    fit = await fitHeads({
      features,
      dim,
      trainRows,
      tasks,
      multiTasks,
      productIds: arcface ? rows.productIds : new Int32Array(n).fill(-1),
      productCount: rows.productCount,
      ...(contrastive && contrastive.loss === 'contrastive'
        ? { pairs: { partner: rows.partner, group: rows.group, positiveMargin: contrastive.positiveMargin, negativeMargin: contrastive.negativeMargin, weight: contrastive.weight } }
        : {}),
      rowWeights: rows.rowWeights,
      sharedSizes: config.model.shared,
      dropout: config.model.dropout,
      embeddingDim: config.model.embeddingDim,
      epochs: config.optimizer.epochs,
      batchSize: config.optimizer.batchSize,
      learningRate: config.optimizer.learningRate,
      weightDecay: config.optimizer.weightDecay,
      warmupEpochs: config.optimizer.warmupEpochs,
      labelSmoothing: 0.1,
      arcface: arcface && arcface.loss === 'arcface' ? { scale: arcface.scale, margin: arcface.margin, weight: arcface.weight } : { scale: 1, margin: 0, weight: 0 },
      seed: config.seed,
      ...(upper ? { trunk: withFrozenTail(upper.training, features, dim, BLOCK16.out) } : {}),
      checkpoint: { file: path.join(cacheDir(), 'checkpoints', `${config.name}-${ckptKey}.ckpt`), everySteps: config.checkpointEvery, resume: options.resume ?? false },
      ...(options.signal ? { signal: options.signal } : {}),
      onEpoch: (epoch, losses, seconds) =>
        log(`epoch ${epoch}/${config.optimizer.epochs} (${seconds.toFixed(0)} s): ${Object.entries(losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`),
    });
  } finally {
    // The trained weights stay readable after the sessions close.
    await upper?.graphs.close();
    await upper?.block15Graphs?.close();
  }
  const fitSeconds = (Date.now() - fitStarted) / 1000;
  // Training is over and its last checkpoint written: a resumed run goes straight to the export.
  if (options.signal?.aborted) {
    fit.dispose();
    throw new GroknetError('interrupted', 'after the last training step, checkpoint written; the model was not written');
  }
  const upperWeights = upper?.training.weights();
  const block15Weights = upper?.training.block15Weights();
  const gemP = upper?.training.gemP() ?? config.model.gemP;
  if (config.model.upperTrunk?.learnGemP) log(`GeM exponent learned: ${gemP.toFixed(3)} (from ${config.model.gemP})`);

  // Binary codes: ITQ rotation learned on training-row embeddings.
  const trainEmbeddings = fit.predict(trainRows).embedding;
  const itq = learnItq(trainEmbeddings, config.model.embeddingDim, 30, config.seed);
  const evaluation = evaluateFit(fit, prepared, { tasks, multiTasks, itq, codeBits: config.model.codeBits, includeEmbedding: !only || Boolean(arcface || contrastive) });
  const outcome: TrainOutcome = { evaluation, seconds: { features: prepared.featureSeconds, fit: fitSeconds, total: prepared.featureSeconds + fitSeconds } };
  await options.onFit?.(fit, evaluation);
  if (options.dryRun) {
    fit.dispose();
    return outcome;
  }

  const backbone = backboneSpec(config.model.backbone);
  const [tensor, ...extraTensors] = config.model.tensors.map((name) => backbone.tensors[name]!);
  const inputNode = upperWeights ? trunkInputNode(block15Weights ? 'block_15' : 'block_16') : tensor!.node;
  // Tensors after the first (a fused backbone's second trunk) are pooled as the cache pooled them.
  const extraInputs = extraTensors.map((t) => ({ node: t.node, channels: t.channels, gemP: config.model.gemP }));
  if (config.model.codeBits !== config.model.embeddingDim) throw new GroknetError('invalid_config', 'codeBits must equal embeddingDim (the ITQ rotation is square)');
  const graph = buildHeadsGraph({
    inputNode,
    channels: dim,
    ...(upperWeights ? { upperTrunk: upperWeights } : {}),
    ...(block15Weights ? { block15: block15Weights } : {}),
    ...(extraInputs.length > 0 ? { extraInputs } : {}),
    gemP,
    featureMean: fit.featureMean,
    featureStd: fit.featureStd,
    shared: fit.shared,
    heads: fit.heads,
    embedding: { dense: fit.embedding, codeMean: itq.mean, rotation: itq.rotation, bits: config.model.codeBits },
  });
  const manifest = parseManifest({
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: config.name,
    version: config.version,
    description: `${upperWeights ? `Fine-tuned ${block15Weights ? 'blocks 15-16' : 'block 16'} + Conv_1 over a frozen` : 'Frozen'} ${backbone.description} (npm package${backbone.fused ? 's' : ''} ${backbone.packageName}) + GeM (p ${config.model.upperTrunk?.learnGemP ? `learned: ${round(gemP)}` : gemP}) + shared layers ${JSON.stringify(config.model.shared)} + ${fit.heads.length} heads + embedding`,
    backbone: { id: backbone.id, tensors: [inputNode, ...extraInputs.map((e) => e.node)] },
    input: backbone.input,
    headsFile: 'heads.onnx',
    heads: fit.heads.map((head) =>
      head.kind === 'single'
        ? { name: head.name, kind: 'single', output: headOutputName(head.name), labels: tasks.find((t) => t.name === head.name)!.labels, abstainBelow: evaluation.abstainBelow[head.name] ?? 0 }
        : { name: head.name, kind: 'multi', output: headOutputName(head.name), labels: multiTasks.find((t) => t.name === head.name)!.labels, thresholds: evaluation.thresholds[head.name]! },
    ),
    embedding: { output: EMBEDDING_OUTPUT, dim: config.model.embeddingDim, codeOutput: CODE_OUTPUT, codeBits: config.model.codeBits, exactMatchThreshold: evaluation.exactMatchThreshold ?? 0.9 },
    training: {
      config: config.name,
      datasets: prepared.datasets.map((d) => ({ name: d.config.name, images: d.data.samples.length, weight: d.config.weight, views: datasetViews(d.config) })),
      rows: n,
      trainRows: trainRows.length,
      steps: fit.steps,
      itqErrorFirstLast: [round(itq.errors[0] ?? 0), round(itq.errors.at(-1) ?? 0)],
      gemP: round(gemP),
      featureSeconds: Math.round(prepared.featureSeconds),
      fitSeconds: Math.round(fitSeconds),
    },
    evaluation: evaluation.report,
  });
  await mkdir(options.out, { recursive: true });
  // Atomic writes, model.json last: a crash mid-export never leaves a manifest beside a torn graph.
  await writeAtomic(path.join(options.out, 'heads.onnx'), graph.toModel());
  await writeAtomic(path.join(options.out, 'EVAL.md'), evalMarkdown(manifest));
  await writeAtomic(path.join(options.out, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fit.dispose();
  return { ...outcome, manifest };
}

export async function train(config: TrainConfig, options: TrainOptions): Promise<TrainOutcome> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const prepared = await prepareTraining(config, log, options.signal);
  return trainPrepared(prepared, options);
}

/** A learned GeM exponent's rate against the trunk's (2e-4 in the shipped config: 1e-2 at the peak). */
const GEM_LEARNING_RATE_RATIO = 50;

async function startUpperTrunk(prepared: Prepared, options: NonNullable<TrainConfig['model']['upperTrunk']>, weightDecay: number) {
  const spec = backboneSpec(prepared.config.model.backbone);
  // MobileNetV2's block 15 is at stride 32.
  // GeM graphs where the exponent is learned or is not 1; the plain mean otherwise (cheaper).
  const gem = options.learnGemP || prepared.config.model.gemP !== 1;
  const [height, width] = [Math.ceil(spec.input.size[0] / 32), Math.ceil(spec.input.size[1] / 32)];
  // Block 15 trains where asked: the upper trunk then hands back the gradient at its input.
  const block15Graphs = options.layers === 'block_15' ? await Block15Graphs.create(height, width) : undefined;
  const graphs = await UpperTrunkGraphs.create(height, width, 'pooled', Boolean(block15Graphs), gem);
  const per = graphs.valuesPerImage;
  if (prepared.maps!.length !== prepared.rows.rows.length * per) throw new Error(`trunk-input maps hold ${prepared.maps!.length} values, expected ${prepared.rows.rows.length} rows x ${per}`);
  const training = upperTrunkTraining({
    graphs,
    initial: pretrainedUpperTrunk(spec.id),
    maps: prepared.maps!,
    fromEpoch: options.fromEpoch,
    learningRate: options.learningRate,
    weightDecay,
    ...(gem ? { gem: { initial: prepared.config.model.gemP, learningRateRatio: options.learnGemP ? GEM_LEARNING_RATE_RATIO : 0 } } : {}),
    ...(block15Graphs ? { block15: { graphs: block15Graphs, initial: pretrainedBlock15() } } : {}),
  });
  return { graphs, block15Graphs, training };
}

/** The backbone tensor the trainable trunk reads: block 15's output, or block 14's where block 15 trains too. */
function trunkInputNode(layers: NonNullable<TrainConfig['model']['upperTrunk']>['layers']): string {
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

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function evalMarkdown(manifest: ModelManifest): string {
  const lines = [`# ${manifest.name} ${manifest.version}: evaluation on held-out rows`, ''];
  for (const [name, entry] of Object.entries(manifest.evaluation ?? {})) {
    lines.push(`## ${name}`, '', '| measure | value |', '|---|---|');
    for (const [k, v] of Object.entries(entry as Record<string, unknown>)) lines.push(`| ${k} | ${String(v)} |`);
    lines.push('');
  }
  lines.push('## training', '', '```json', JSON.stringify(manifest.training, null, 2), '```', '');
  return lines.join('\n');
}
