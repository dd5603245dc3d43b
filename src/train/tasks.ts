// From a training config to what the joint fit learns: a head per softmax or multi-label
// task with its targets on every row (-1 or unlabelled where the row's dataset does not
// label it), the embedding's losses (ArcFace over product ids, contrastive over same-product
// pairs), and the rows to train on.
import { GroknetError } from '../errors.ts';
import type { TrainingRows } from './build-rows.ts';
import { ALL_DATASETS, type DatasetConfig, type TaskConfig, type TrainConfig } from './config.ts';
import type { LabelledDataset } from './datasets/types.ts';
import type { FitInput, MultiTask, PairLoss, SingleTask } from './fit-types.ts';

export interface TrainingTasks {
  tasks: SingleTask[];
  multiTasks: MultiTask[];
  /** Product index per row for ArcFace (-1 on every row where ArcFace is not trained). */
  productIds: Int32Array;
  /** ArcFace's settings; weight 0 where it is not trained. */
  arcface: FitInput['arcface'];
  pairs?: PairLoss;
  /** Whether a loss (ArcFace or contrastive) trains the embedding. */
  trainsEmbedding: boolean;
  trainRows: Int32Array;
}

/** What tasksFromConfig reads of a prepared run. */
export interface TaskSources {
  config: TrainConfig;
  datasets: ReadonlyArray<{ config: DatasetConfig; data: LabelledDataset }>;
  rows: TrainingRows;
}

/**
 * The tasks of `config` (only those of `onlyHeads` when given: a single-task baseline, which
 * then trains on the rows of the datasets its heads read).
 */
export function tasksFromConfig(prepared: TaskSources, onlyHeads?: readonly string[]): TrainingTasks {
  const { config, rows } = prepared;
  const only = onlyHeads ? new Set(onlyHeads) : undefined;
  const wanted = config.tasks.filter((t) => !only || only.has(t.head));
  const n = rows.rows.length;
  const tasks: SingleTask[] = [];
  const multiTasks: MultiTask[] = [];
  for (const task of wanted) {
    if (task.loss === 'softmax') tasks.push(singleTask(prepared, task));
    else if (task.loss === 'bce' || task.loss === 'multilabel-softmax') multiTasks.push(multiTask(prepared, task));
  }
  const arcface = wanted.find((t) => t.loss === 'arcface');
  const contrastive = wanted.find((t) => t.loss === 'contrastive');
  // Single-task baselines train only on the rows their head reads.
  const usedDatasets = new Set(wanted.flatMap((t) => taskDatasets(config, t)));
  const trainRows = only ? Int32Array.from(Array.from(rows.trainRows).filter((r) => usedDatasets.has(rows.rows[r]!.sample.dataset))) : rows.trainRows;
  if (trainRows.length === 0) throw new GroknetError('invalid_config', 'no training rows for the selected heads');
  return {
    tasks,
    multiTasks,
    productIds: arcface ? rows.productIds : new Int32Array(n).fill(-1),
    arcface: arcface && arcface.loss === 'arcface' ? { scale: arcface.scale, margin: arcface.margin, weight: arcface.weight } : { scale: 1, margin: 0, weight: 0 },
    ...(contrastive && contrastive.loss === 'contrastive'
      ? { pairs: { partner: rows.partner, group: rows.group, positiveMargin: contrastive.positiveMargin, negativeMargin: contrastive.negativeMargin, weight: contrastive.weight } }
      : {}),
    trainsEmbedding: Boolean(arcface || contrastive),
    trainRows,
  };
}

/** A softmax head: each row's class index where its dataset labels the field, -1 elsewhere. */
function singleTask(prepared: TaskSources, task: Extract<TaskConfig, { loss: 'softmax' }>): SingleTask {
  const { rows } = prepared;
  if (task.dataset === ALL_DATASETS) return verticalTask(prepared, task);
  const field = task.field === 'label' ? task.head : task.field;
  const labels = headLabels(prepared, task.dataset, field);
  const targets = new Int32Array(rows.rows.length).fill(-1);
  rows.rows.forEach((row, r) => {
    if (row.sample.dataset === task.dataset && row.sample.single[field] !== undefined) targets[r] = row.sample.single[field]!;
  });
  return { name: task.head, labels, targets, weight: task.weight, labelSmoothing: task.labelSmoothing };
}

/** The vertical head: every row labelled with its dataset's vertical (labels in the config's order). */
function verticalTask(prepared: TaskSources, task: Extract<TaskConfig, { loss: 'softmax' }>): SingleTask {
  const verticalOf = new Map(prepared.datasets.map((d) => [d.config.name, d.config.vertical]));
  const labels = [...new Set(prepared.config.datasets.map((d) => d.vertical).filter((v): v is string => v !== undefined))];
  const targets = new Int32Array(prepared.rows.rows.length).fill(-1);
  prepared.rows.rows.forEach((row, r) => {
    const vertical = verticalOf.get(row.sample.dataset);
    if (vertical !== undefined) targets[r] = labels.indexOf(vertical);
  });
  return { name: task.head, labels, targets, weight: task.weight, labelSmoothing: task.labelSmoothing };
}

/** The datasets a task's head learns from ("*": all that name a vertical). */
export function taskDatasets(config: TrainConfig, task: TaskConfig): string[] {
  if (!('dataset' in task)) return [];
  return task.dataset === ALL_DATASETS ? config.datasets.filter((d) => d.vertical).map((d) => d.name) : [task.dataset];
}

/** A multi-label head: each labelled row's present labels as 1s; rows of other datasets unlabelled. */
function multiTask(prepared: TaskSources, task: Extract<TaskConfig, { loss: 'bce' | 'multilabel-softmax' }>): MultiTask {
  const { rows } = prepared;
  const field = task.field === 'tags' ? task.head : task.field;
  const labels = headLabels(prepared, task.dataset, field);
  const L = labels.length;
  const targets = new Float32Array(rows.rows.length * L);
  const labelled = new Uint8Array(rows.rows.length);
  rows.rows.forEach((row, r) => {
    const present = row.sample.dataset === task.dataset ? row.sample.multi?.[field] : undefined;
    if (!present) return;
    labelled[r] = 1;
    for (const l of present) targets[r * L + l] = 1;
  });
  return { name: task.head, labels, targets, labelled, weight: task.weight, loss: task.loss };
}

function headLabels(prepared: TaskSources, dataset: string, field: string): string[] {
  const d = prepared.datasets.find((x) => x.config.name === dataset);
  const labels = d?.data.tasks[field];
  if (!labels) throw new GroknetError('invalid_config', `dataset '${dataset}' has no labels named '${field}' (it has: ${Object.keys(d?.data.tasks ?? {}).join(', ')})`);
  return labels;
}
