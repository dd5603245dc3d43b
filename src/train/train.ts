// `groknet train CONFIG`: the unified trainer. Loads every dataset of the config through
// its adapter, caches frozen-backbone features per image and augmented view, trains the
// shared layers and all heads jointly (each loss on the rows that have its labels), learns
// the ITQ rotation of the binary codes, evaluates on held-out rows, calibrates thresholds,
// and writes the model artifact (heads.onnx + model.json + EVAL.md).
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import type { StartProgress } from '../util/progress.ts';
import { backboneSpec } from '../model/backbones/registry.ts';
import { cacheDir, cacheKey } from '../model/cache.ts';
import type { ModelManifest } from '../model/manifest.ts';
import { buildRows, type TrainingRows } from './build-rows.ts';
import { datasetViews, type DatasetConfig, type TrainConfig } from './config.ts';
import { loadDataset } from './datasets/load.ts';
import type { LabelledDataset } from './datasets/types.ts';
import { evaluateFit, type Evaluation } from './evaluate-fit.ts';
import { exportArtifact, trainedArtifact } from './export.ts';
import { extractPooledFeatures } from './extract-features.ts';
import { fitHeads, type FitResult } from './fit-heads.ts';
import { learnItq } from './itq.ts';
import { trainPixelColour } from './pixel-colour.ts';
import { tasksFromConfig, type TrainingTasks } from './tasks.ts';
import { startUpperTrunk, trunkInputNode, type TrainedTrunk } from './trainable-trunk.ts';

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
  /** Reports the backbone feature pass (the CLI passes its terminal bar); silent without one. */
  startProgress?: StartProgress;
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
export async function prepareTraining(config: TrainConfig, log: (line: string) => void, options: Pick<TrainOptions, 'signal' | 'startProgress'> = {}): Promise<Prepared> {
  const { signal, startProgress } = options;
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
  const pooled = await extractPooledFeatures(refs, { backboneId: backbone.id, tensors: config.model.tensors, pValues: [config.model.gemP], ...(mapNode ? { mapNode } : {}), ...(signal ? { signal } : {}), ...(startProgress ? { startProgress } : {}) });
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

/**
 * The run after the feature pass: the tasks of the config, the fit, the binary codes (ITQ),
 * the evaluation on held-out rows, then the artifact (unless `dryRun`).
 */
export async function trainPrepared(prepared: Prepared, options: TrainOptions): Promise<TrainOutcome> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { config } = prepared;
  const plan = tasksFromConfig(prepared, options.onlyHeads);
  const { fit, trunk, seconds: fitSeconds } = await fitPrepared(prepared, plan, options, log);
  // Training is over and its last checkpoint written: a resumed run goes straight to the export.
  if (options.signal?.aborted) {
    fit.dispose();
    throw new GroknetError('interrupted', 'after the last training step, checkpoint written; the model was not written');
  }
  if (config.model.upperTrunk?.learnGemP) log(`GeM exponent learned: ${(trunk?.gemP ?? config.model.gemP).toFixed(3)} (from ${config.model.gemP})`);

  // Binary codes: ITQ rotation learned on training-row embeddings.
  const itq = learnItq(fit.predict(plan.trainRows).embedding, config.model.embeddingDim, 30, config.seed);
  const includeEmbedding = !options.onlyHeads || plan.trainsEmbedding;
  const evaluation = evaluateFit(fit, prepared, { tasks: plan.tasks, multiTasks: plan.multiTasks, itq, codeBits: config.model.codeBits, includeEmbedding });
  const outcome: TrainOutcome = { evaluation, seconds: { features: prepared.featureSeconds, fit: fitSeconds, total: prepared.featureSeconds + fitSeconds } };
  await options.onFit?.(fit, evaluation);
  if (options.dryRun) {
    fit.dispose();
    return outcome;
  }
  if (config.model.codeBits !== config.model.embeddingDim) throw new GroknetError('invalid_config', 'codeBits must equal embeddingDim (the ITQ rotation is square)');
  let manifest = await exportArtifact(options.out, trainedArtifact({ prepared, plan, fit, ...(trunk ? { trunk } : {}), itq, evaluation, fitSeconds }));
  fit.dispose();
  for (const task of pixelTasks(config)) {
    if (options.onlyHeads && !options.onlyHeads.includes(task.head)) continue;
    const data = prepared.datasets.find((d) => d.config.name === task.dataset)?.data;
    if (data) manifest = (await trainPixelColour({ modelDir: options.out, head: task.head, data, seed: config.seed, log, ...(options.signal ? { signal: options.signal } : {}), ...(options.startProgress ? { startProgress: options.startProgress } : {}) })).manifest;
  }
  return { ...outcome, manifest };
}

/**
 * Fits the heads on the prepared rows, with the upper trunk where the config trains one,
 * checkpointing into the cache under a key of the config (what `resume` finds again).
 */
async function fitPrepared(prepared: Prepared, plan: TrainingTasks, options: TrainOptions, log: (line: string) => void): Promise<{ fit: FitResult; trunk?: TrainedTrunk; seconds: number }> {
  const { config, rows, features, dim } = prepared;
  const started = Date.now();
  const upper = config.model.upperTrunk && prepared.maps ? await startUpperTrunk({ ...prepared, maps: prepared.maps }, config.model.upperTrunk, config.optimizer.weightDecay) : undefined;
  const ckptKey = cacheKey(JSON.stringify(config), JSON.stringify(options.onlyHeads ?? []), String(rows.rows.length));
  let fit: FitResult;
  try {
    fit = await fitHeads({
      features,
      dim,
      trainRows: plan.trainRows,
      tasks: plan.tasks,
      multiTasks: plan.multiTasks,
      productIds: plan.productIds,
      productCount: rows.productCount,
      ...(plan.pairs ? { pairs: plan.pairs } : {}),
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
      arcface: plan.arcface,
      seed: config.seed,
      ...(upper ? { trunk: upper.trunk } : {}),
      checkpoint: { file: path.join(cacheDir(), 'checkpoints', `${config.name}-${ckptKey}.ckpt`), everySteps: config.checkpointEvery, resume: options.resume ?? false },
      ...(options.signal ? { signal: options.signal } : {}),
      onEpoch: (epoch, losses, seconds) =>
        log(`epoch ${epoch}/${config.optimizer.epochs} (${seconds.toFixed(0)} s): ${Object.entries(losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`),
    });
  } finally {
    // The trained weights stay readable after the sessions close.
    await upper?.close();
  }
  return { fit, ...(upper ? { trunk: upper.trained() } : {}), seconds: (Date.now() - started) / 1000 };
}

export async function train(config: TrainConfig, options: TrainOptions): Promise<TrainOutcome> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const prepared = await prepareTraining(config, log, options);
  return trainPrepared(prepared, options);
}

/** The config's tasks whose head also learns from colour histograms ("pixels": true). */
export function pixelTasks(config: TrainConfig): Array<{ head: string; dataset: string }> {
  return config.tasks.flatMap((t) => ('pixels' in t && t.pixels && 'dataset' in t ? [{ head: t.head, dataset: t.dataset }] : []));
}

/**
 * Trains only the colour-histogram classifiers of the config's "pixels" tasks into the model
 * already in `out` (trained from this config), and gives it the config's version.
 */
export async function trainPixelsOnly(config: TrainConfig, options: Pick<TrainOptions, 'out' | 'signal' | 'startProgress' | 'log'>): Promise<ModelManifest> {
  const tasks = pixelTasks(config);
  if (tasks.length === 0) throw new GroknetError('invalid_config', `config '${config.name}' has no task with "pixels": true`);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let manifest: ModelManifest | undefined;
  for (const task of tasks) {
    const dataset = config.datasets.find((d) => d.name === task.dataset)!;
    const data = await loadDataset(dataset);
    manifest = (await trainPixelColour({ modelDir: options.out, head: task.head, data, seed: config.seed, log, version: config.version, ...(options.signal ? { signal: options.signal } : {}), ...(options.startProgress ? { startProgress: options.startProgress } : {}) })).manifest;
  }
  return manifest!;
}
