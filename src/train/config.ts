// The declarative training configuration (JSON), validated with Zod: datasets with their
// adapters and sampling weights, tasks (head, loss, weight), model shape, optimiser and
// schedule, seed. Unknown fields are errors, so a typo never silently changes a run.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { GroknetError, zodIssuesText } from '../errors.ts';
import { COLOUR_HEADS } from '../model/heads/colour-heads.ts';
import { hasUpperTrunk, upperTrunkBackbones } from '../model/upper-trunk/block16.ts';
import { COUNTED_VIEWS, isViewEntry, TRANSFORMS, viewChoices, type ViewEntry } from './augment.ts';
import { CACHED_GEM_P } from './gem-pool.ts';

const headName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'head names are lower_snake_case');

export const datasetConfigSchema = z.strictObject({
  name: z.string().min(1),
  adapter: z.enum(['clothing', 'grocery', 'clothing-parsing', 'fashion-mnist', 'fashion-products', 'furniture', 'folder', 'csv', 'jsonl']),
  /** Folder (or file for csv/jsonl), relative to the config file. */
  path: z.string().min(1),
  /** Relative share of this dataset in each training batch. */
  weight: z.number().positive().default(1),
  /** Keep at most this many training images (a stable subset), e.g. for Fashion-MNIST. */
  limit: z.number().int().positive().optional(),
  /** Fashion-MNIST: validation rows from the training file (not trained on) instead of the test split. */
  validation: z.number().int().positive().optional(),
  /** Validation share for adapters without their own split. */
  valFraction: z.number().min(0.01).max(0.5).default(0.15),
  /**
   * Augmented views per training image, each cached and trained as one more row: a count (0
   * keeps the original only; 1 adds a mirrored view; 2 adds a crop), or the views by name,
   * each crop, flip and jitter (colour) joined by "+" in that order, e.g. ["flip+jitter"];
   * alternatives joined by "|" give each image one of them ("crop+flip|crop+flip+shrink").
   */
  views: z
    .union([
      z.number().int().min(0).max(COUNTED_VIEWS.length),
      z
        .array(z.string().refine(isViewEntry, `a view is ${TRANSFORMS.join(', ')} joined by "+", in that order (e.g. "flip+jitter"), or views joined by "|", each image taking one`))
        .max(4)
        .refine((views) => views.every(isViewEntry) && new Set(views.flatMap(viewChoices)).size === views.flatMap(viewChoices).length, 'a view is listed twice'),
    ])
    .default(1),
  /** false leaves this dataset out of the run, and with it the tasks that read it: one line to drop a dataset. */
  enabled: z.boolean().default(true),
  /** For folder/csv/jsonl: the head their labels train. */
  head: headName.optional(),
  /**
   * The kind of product every image of this dataset shows (fashion, grocery, home, ...): the
   * label a task reading dataset "*" learns (the vertical gate), and the vertical of the heads
   * this dataset trains (shown only on photos of it).
   */
  vertical: headName.optional(),
});

/** What a person calls a head's field ("Grocery item"), written into model.json for menus and reasons. */
const headTitle = z.string().trim().min(1).max(60).optional();

export const taskConfigSchema = z.discriminatedUnion('loss', [
  // dataset "*" with field "vertical": every dataset's rows, labelled by the dataset's `vertical`.
  z.strictObject({ head: headName, loss: z.literal('softmax'), dataset: z.string(), field: z.string().default('label'), weight: z.number().positive().default(1), labelSmoothing: z.number().min(0).max(0.5).default(0.1), labelsNameColours: z.boolean().optional(), pixels: z.boolean().default(false), title: headTitle }),
  z.strictObject({ head: headName, loss: z.enum(['bce', 'multilabel-softmax']), dataset: z.string(), field: z.string().default('tags'), weight: z.number().positive().default(1), labelsNameColours: z.boolean().optional(), title: headTitle }),
  z.strictObject({ head: z.literal('embedding'), loss: z.literal('arcface'), weight: z.number().positive().default(1), scale: z.number().positive().default(24), margin: z.number().min(0).max(1).default(0.3) }),
  z.strictObject({
    head: z.literal('embedding'),
    loss: z.literal('contrastive'),
    weight: z.number().positive().default(1),
    /** Same-product pairs should reach this cosine similarity; other pairs stay below the negative margin. */
    positiveMargin: z.number().min(-1).max(1).default(0.8),
    negativeMargin: z.number().min(-1).max(1).default(0.3),
  }),
]);

export const trainConfigSchema = z.strictObject({
  name: z.string().min(1).default('groknet-base'),
  version: z.string().min(1).default('0.1.0'),
  seed: z.number().int().min(0).default(7),
  datasets: z.array(datasetConfigSchema).min(1),
  tasks: z.array(taskConfigSchema).min(1),
  model: z.strictObject({
    backbone: z.string().default('nsfwjs/mobilenet_v2_mid'),
    /** Backbone tensors (names from its registry entry) pooled and concatenated. */
    tensors: z.array(z.string()).min(1).default(['conv_1']),
    /** GeM exponent of the pooled features: 1 (mean) or 3, the two the feature cache stores (a trainable upper trunk may learn it from there). */
    gemP: z
      .number()
      .refine((p) => CACHED_GEM_P.includes(p), `gemP must be one of ${CACHED_GEM_P.join(', ')}: the feature cache pools with those exponents`)
      .default(3),
    shared: z.array(z.number().int().min(8).max(4096)).default([512]),
    /** Dropout on the features and after each shared layer, while training. */
    dropout: z.number().min(0).max(0.9).default(0.5),
    embeddingDim: z.number().int().min(8).max(1024).default(256),
    codeBits: z.number().int().min(8).max(1024).default(256),
    /**
     * Fine-tune the backbone's last block and 1x1 conv (block 16 + Conv_1) with the heads, fed
     * cached block-15 maps; with layers "block_15", block 15 as well, fed cached block-14 maps.
     * From `fromEpoch` on (the heads settle first), at its own rate.
     */
    upperTrunk: z
      .strictObject({
        layers: z.enum(['block_16', 'block_15']),
        fromEpoch: z.number().int().min(0).default(0),
        learningRate: z.number().positive().max(0.1).default(1e-4),
        /** Learn GeM's exponent with the trunk (from model.gemP), at 50 times its rate; false keeps model.gemP. */
        learnGemP: z.boolean().default(false),
      })
      .optional(),
  }),
  optimizer: z.strictObject({
    name: z.enum(['adamw']).default('adamw'),
    learningRate: z.number().positive().max(1).default(2e-3),
    weightDecay: z.number().min(0).max(1).default(1e-2),
    epochs: z.number().int().min(1).max(1000).default(20),
    batchSize: z.number().int().min(2).max(4096).default(128),
    warmupEpochs: z.number().min(0).default(1),
  }),
  /** Checkpoint every N steps (0: only at the end of each epoch). */
  checkpointEvery: z.number().int().min(0).default(0),
});

/** A task's `dataset` that means every dataset of the config (the vertical head). */
export const ALL_DATASETS = '*';

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type DatasetConfig = z.infer<typeof datasetConfigSchema>;
export type TaskConfig = z.infer<typeof taskConfigSchema>;

export function parseTrainConfig(value: unknown, where = 'config'): TrainConfig {
  const parsed = trainConfigSchema.safeParse(value);
  if (!parsed.success) {
    throw new GroknetError('invalid_config', `${where}: ${zodIssuesText(parsed.error, 6)}`);
  }
  const config = withoutDisabled(parsed.data);
  if (config.datasets.length === 0) throw new GroknetError('invalid_config', `${where}: every dataset is disabled`);
  const names = new Set<string>();
  for (const d of config.datasets) {
    if (names.has(d.name)) throw new GroknetError('invalid_config', `${where}: dataset '${d.name}' is declared twice`);
    names.add(d.name);
    // Other adapters hold out their own split (or valFraction); only Fashion-MNIST has a training file to draw from.
    if (d.validation !== undefined && d.adapter !== 'fashion-mnist') {
      throw new GroknetError('invalid_config', `${where}: dataset '${d.name}': "validation" draws held-out rows from Fashion-MNIST's training file; adapter ${d.adapter} holds out its own (see valFraction)`);
    }
    if (d.validation !== undefined && d.limit === undefined) {
      throw new GroknetError('invalid_config', `${where}: dataset '${d.name}': "validation" needs "limit" (the validation rows are training-file images left out of it)`);
    }
  }
  // The exported graph pools each listed tensor as an NHWC map; the hub's feature vector is pooled already.
  if (config.model.tensors.length > 1 && config.model.tensors.includes('feature_vector')) {
    throw new GroknetError('invalid_config', `${where}: model.tensors lists maps to pool and join; "feature_vector" is pooled already and cannot be joined with others`);
  }
  const trunk = config.model.upperTrunk;
  if (trunk) {
    const problem =
      !hasUpperTrunk(config.model.backbone)
        ? `the trainable upper trunk needs backbone ${upperTrunkBackbones().join(' or ')}, not ${config.model.backbone}`
        : config.model.tensors[0] !== 'conv_1'
          ? `the trainable upper trunk ends in conv_1: model.tensors must start with "conv_1" (and may add a fused backbone's second trunk), not ${JSON.stringify(config.model.tensors)}`
          : trunk.fromEpoch >= config.optimizer.epochs
            ? `model.upperTrunk.fromEpoch (${trunk.fromEpoch}) must be below optimizer.epochs (${config.optimizer.epochs})`
            : undefined;
    if (problem) throw new GroknetError('invalid_config', `${where}: ${problem}`);
  }
  for (const task of config.tasks) {
    if ('dataset' in task && task.dataset === ALL_DATASETS) {
      if (task.loss !== 'softmax' || task.field !== 'vertical') throw new GroknetError('invalid_config', `${where}: task '${task.head}' reads every dataset ("${ALL_DATASETS}"): only a softmax task with "field": "vertical" can`);
      // A dataset without a vertical (Fashion-MNIST's 28 px greyscale, not a photo style) is left out of this task.
      if (new Set(config.datasets.flatMap((d) => (d.vertical ? [d.vertical] : []))).size < 2) throw new GroknetError('invalid_config', `${where}: task '${task.head}' learns each dataset's "vertical" and needs datasets of at least two verticals`);
      continue;
    }
    if ('dataset' in task && !names.has(task.dataset)) {
      throw new GroknetError('invalid_config', `${where}: task '${task.head}' reads dataset '${task.dataset}', which is not declared`);
    }
    // Colour jitter would teach a colour head that a recoloured photo keeps its colour label.
    const dataset = 'dataset' in task ? config.datasets.find((d) => d.name === task.dataset) : undefined;
    const namesColours = ('labelsNameColours' in task ? task.labelsNameColours : undefined) ?? COLOUR_HEADS.has(task.head);
    const jittered = dataset ? datasetViews(dataset).filter((v) => viewChoices(v).some((choice) => choice.split('+').includes('jitter'))) : [];
    // The colour-histogram classifier learns colours; it is blended with a head that names them.
    if ('pixels' in task && task.pixels && !namesColours) throw new GroknetError('invalid_config', `${where}: task '${task.head}' has "pixels": true, which only a head that names colours can have (set "labelsNameColours": true if its labels are colours)`);
    if (namesColours && jittered.length > 0) {
      throw new GroknetError('invalid_config', `${where}: dataset '${dataset!.name}' has colour-jittered views (${jittered.join(', ')}), but task '${task.head}' learns colours from it: drop "jitter" from its views`);
    }
  }
  return config;
}

/** The config without its disabled datasets and the tasks that read only them. */
function withoutDisabled(config: TrainConfig): TrainConfig {
  const off = new Set(config.datasets.filter((d) => !d.enabled).map((d) => d.name));
  if (off.size === 0) return config;
  return { ...config, datasets: config.datasets.filter((d) => d.enabled), tasks: config.tasks.filter((t) => !('dataset' in t) || !off.has(t.dataset)) };
}

/** The augmented view entries a dataset's training images get, by name (an entry may offer alternatives). */
export function datasetViews(dataset: Pick<DatasetConfig, 'views'>): ViewEntry[] {
  return typeof dataset.views === 'number' ? COUNTED_VIEWS.slice(0, dataset.views) : [...dataset.views];
}

/** Reads a config file; dataset paths become absolute, relative to the file. */
export async function readTrainConfig(file: string): Promise<TrainConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new GroknetError('file_not_found', `no config file at ${path.basename(file)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new GroknetError('invalid_config', `${path.basename(file)} is not valid JSON (${(error as Error).message})`);
  }
  const config = parseTrainConfig(json, path.basename(file));
  const base = path.dirname(path.resolve(file));
  for (const d of config.datasets) d.path = path.resolve(base, d.path);
  return config;
}
