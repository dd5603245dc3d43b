// `groknet train --catalog`: a single-label head trained from a catalog's own labels and
// added to a model (or replacing one of its heads with --replace). The catalog's labelled
// listings (catalog-labels.ts) are split by product; the model's pooled features of each image
// are computed once and cached by content hash (catalog-features.ts); a softmax head is fitted
// on them with the unified trainer's fit, evaluated and calibrated (abstain threshold) on the
// held-out products, and written into a copy of the base model whose heads graph gains the
// head (catalog-head-graph.ts): every other output is computed by the same nodes and weights.
// The new model directory is built beside its destination and renamed into place, so a run
// killed midway never leaves a directory that looks like a model.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { GroknetError } from '../errors.ts';
import { cacheKey, writeAtomic } from '../model/cache.ts';
import { headOutputName } from '../model/heads/heads-graph.ts';
import { loadModel, DEFAULT_MODEL_DIR } from '../model/load-model.ts';
import type { HeadSpec, ModelManifest } from '../model/manifest.ts';
import type { StartProgress } from '../util/progress.ts';
import { catalogFeatures } from './catalog-features.ts';
import { withCatalogHead, type CatalogHeadWeights } from './catalog-head-graph.ts';
import { catalogLabels, type CatalogLabels, type CatalogLabelsOptions } from './catalog-labels.ts';
import { calibrateAbstain, topKAccuracy } from './evaluate.ts';
import { fitHeads } from './fit-heads.ts';

/** Precision the abstain threshold is calibrated for, as the unified trainer does. */
const ABSTAIN_PRECISION = 0.85;
const HEAD_NAME = /^[a-z][a-z0-9_]*$/;

export interface CatalogTrainOptions extends CatalogLabelsOptions {
  catalog: string;
  head: string;
  /** `category` or `attributes.NAME`. */
  field: string;
  out: string;
  /** The model to extend (default the shipped one). */
  baseModel?: string;
  /** Retrain a head the base model already has. */
  replace?: boolean;
  epochs?: number;
  seed?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  startProgress?: StartProgress;
  /** When the run happened (recorded in model.json and EVAL.md); now by default. */
  now?: Date;
}

export interface CatalogHeadReport {
  accuracy: number;
  abstainBelow: number;
  trainImages: number;
  heldOutImages: number;
  perClass: Record<string, { heldOutImages: number; precision: number; recall: number }>;
}

export interface CatalogTrainOutcome {
  manifest: ModelManifest;
  report: CatalogHeadReport;
  labels: Omit<CatalogLabels, 'rows'>;
  /** Images run through the model this time (0 when the feature cache had them all). */
  featuresComputed: number;
  skippedImages: Array<{ path: string; code: string }>;
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

export async function trainCatalogHead(options: CatalogTrainOptions): Promise<CatalogTrainOutcome> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { head } = options;
  if (!HEAD_NAME.test(head)) throw new GroknetError('invalid_argument', `head name '${head}' must be lower-case letters, digits and _, starting with a letter`);
  const baseDir = path.resolve(options.baseModel ?? DEFAULT_MODEL_DIR);
  const base = await loadModel(baseDir);
  await base.session.close();
  const existing = base.manifest.heads.find((h) => h.name === head);
  if (existing && !options.replace) {
    throw new GroknetError('invalid_argument', `head '${head}' collides with a head of ${base.manifest.name}@${base.manifest.version} (${base.manifest.heads.map((h) => h.name).join(', ')}): pass --replace to retrain it, or choose another name`);
  }

  const labels = await catalogLabels(options.catalog, options.field, options);
  for (const warning of labels.warnings) log(`warning: ${warning}`);
  log(`catalog ${labels.catalog}: ${labels.labelledListings} of ${labels.listings} listings have '${labels.field}'; ${labels.labels.length} classes, ${labels.rows.length} images`);

  const features = await catalogFeatures(base.graphBytes, base.manifest, labels.rows, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.startProgress ? { startProgress: options.startProgress } : {}),
  });
  log(`features: ${features.rowOf.size} images x ${features.dim} (${features.computed} computed, ${features.rowOf.size - features.computed} from the cache)`);
  if (features.failed.length > 0) log(`images skipped (unreadable or changed since indexing): ${features.failed.length}, e.g. ${features.failed.slice(0, 3).map((f) => `${f.path} (${f.code})`).join(', ')}`);

  const rows = labels.rows.filter((row) => features.rowOf.has(row.contentHash));
  const targets = Int32Array.from(rows, (row) => labels.labels.indexOf(row.label));
  const trainRows = Int32Array.from(rows.flatMap((row, i) => (row.split === 'train' ? [i] : [])));
  const heldOutRows = Int32Array.from(rows.flatMap((row, i) => (row.split === 'val' ? [i] : [])));
  const untrained = labels.labels.filter((_, c) => !trainRows.some((r) => targets[r] === c));
  if (heldOutRows.length === 0 || untrained.length > 0) {
    throw new GroknetError(
      'invalid_labels',
      heldOutRows.length === 0
        ? `no held-out images: the ${rows.length} usable images all fell on the training side of the split by product; more listings are needed to evaluate and calibrate the head`
        : `no training images for ${untrained.map((l) => `'${l}'`).join(', ')} after the split by product and the images skipped; more listings of these classes are needed`,
    );
  }
  const dataRows = new Float32Array(rows.length * features.dim);
  rows.forEach((row, i) => {
    const at = features.rowOf.get(row.contentHash)!;
    dataRows.set(features.features.subarray(at * features.dim, (at + 1) * features.dim), i * features.dim);
  });

  const batchSize = 32;
  const stepsPerEpoch = Math.ceil(trainRows.length / batchSize);
  const epochs = options.epochs ?? Math.min(200, Math.max(30, Math.ceil(600 / stepsPerEpoch)));
  const fit = await fitHeads({
    features: dataRows,
    dim: features.dim,
    trainRows,
    tasks: [{ name: head, labels: labels.labels, targets, weight: 1 }],
    productIds: new Int32Array(rows.length).fill(-1),
    productCount: 1,
    // A linear softmax over the standardised features: the embedding is not trained (ArcFace weight 0), only fitted to satisfy the network's shape.
    sharedSizes: [],
    embeddingDim: 2,
    epochs,
    batchSize,
    learningRate: 0.01,
    weightDecay: 1e-4,
    labelSmoothing: 0.1,
    arcface: { scale: 1, margin: 0, weight: 0 },
    seed: options.seed ?? 1,
  });
  let report: CatalogHeadReport;
  let headWeights: CatalogHeadWeights;
  try {
    const probs = fit.predict(heldOutRows).probs[head]!;
    report = evaluateHead(probs, labels.labels, Array.from(heldOutRows, (r) => targets[r]!), trainRows.length);
    headWeights = { name: head, featureMean: fit.featureMean, featureStd: fit.featureStd, dense: fit.heads[0]!.dense };
  } finally {
    fit.dispose();
  }
  if (options.signal?.aborted) throw new GroknetError('interrupted', 'after training the head; the model was not written');

  const now = options.now ?? new Date();
  const headsBytes = withCatalogHead(new Uint8Array(await readFile(path.join(baseDir, base.manifest.headsFile))), headWeights, Boolean(existing));
  const modelBytes =
    base.manifest.modelFile && base.manifest.modelFile !== base.manifest.headsFile
      ? withCatalogHead(new Uint8Array(await readFile(path.join(baseDir, base.manifest.modelFile))), headWeights, Boolean(existing))
      : undefined;
  const source = { catalog: labels.catalog, field: labels.field, listings: labels.listings, labelledListings: labels.labelledListings, trainedAt: now.toISOString() };
  const newHead: HeadSpec = {
    name: head,
    kind: 'single',
    output: headOutputName(head),
    labels: labels.labels,
    abstainBelow: report.abstainBelow,
    trainedOn: `catalog ${labels.catalog}, field ${labels.field}, ${labels.labelledListings} labelled listings of ${labels.listings}, ${now.toISOString()}`,
  };
  const baseTraining = base.manifest.training ?? {};
  const previousCatalogHeads = (baseTraining.catalogHeads ?? {}) as Record<string, unknown>;
  const manifest: ModelManifest = {
    ...base.manifest,
    version: newVersion(base.manifest.version, head, headsBytes),
    heads: existing ? base.manifest.heads.map((h) => (h.name === head ? newHead : h)) : [...base.manifest.heads, newHead],
    training: {
      ...baseTraining,
      catalogHeads: {
        ...previousCatalogHeads,
        [head]: { ...source, base: `${base.manifest.name}@${base.manifest.version}`, classes: labels.listingsPerClass, droppedClasses: labels.droppedClasses, trainImages: report.trainImages, heldOutImages: report.heldOutImages, epochs },
      },
    },
    evaluation: { ...base.manifest.evaluation, [head]: { images: report.heldOutImages, accuracy: report.accuracy, abstain_below_for_precision_0_85: report.abstainBelow } },
  };
  await writeModelDir(path.resolve(options.out), baseDir, base.manifest, manifest, { headsBytes, ...(modelBytes ? { modelBytes } : {}), evalMd: catalogEvalMarkdown(head, manifest, base.manifest, labels, report, features.failed.length, now) });
  return { manifest, report, labels: withoutRows(labels), featuresComputed: features.computed, skippedImages: features.failed };
}

function withoutRows(labels: CatalogLabels): Omit<CatalogLabels, 'rows'> {
  const { rows: _rows, ...rest } = labels;
  return rest;
}

/** A version string of the new model: the base's, the head, and a digest of the new heads graph. */
function newVersion(baseVersion: string, head: string, headsBytes: Uint8Array): string {
  return `${baseVersion}${baseVersion.includes('+') ? '.' : '+'}${head}.${cacheKey(headsBytes).slice(0, 8)}`;
}

export function evaluateHead(probs: Float32Array, labels: readonly string[], targets: readonly number[], trainImages: number): CatalogHeadReport {
  const L = labels.length;
  const predicted = targets.map((_, i) => {
    const row = probs.subarray(i * L, (i + 1) * L);
    let best = 0;
    for (let c = 1; c < L; c++) if (row[c]! > row[best]!) best = c;
    return best;
  });
  const perClass: CatalogHeadReport['perClass'] = {};
  labels.forEach((label, c) => {
    const truePositives = predicted.filter((p, i) => p === c && targets[i] === c).length;
    const predictedAs = predicted.filter((p) => p === c).length;
    const actual = targets.filter((t) => t === c).length;
    perClass[label] = { heldOutImages: actual, precision: predictedAs === 0 ? 0 : round(truePositives / predictedAs), recall: actual === 0 ? 0 : round(truePositives / actual) };
  });
  return {
    accuracy: round(topKAccuracy(probs, L, targets, 1)),
    abstainBelow: calibrateAbstain(probs, L, targets, ABSTAIN_PRECISION),
    trainImages,
    heldOutImages: targets.length,
    perClass,
  };
}

function catalogEvalMarkdown(name: string, manifest: ModelManifest, base: ModelManifest, labels: CatalogLabels, report: CatalogHeadReport, skipped: number, now: Date): string {
  const dropped = Object.entries(labels.droppedClasses);
  return [
    `# ${manifest.name} ${manifest.version}: catalog head '${name}'`,
    '',
    `Trained ${now.toISOString()} from the catalog ${labels.catalog}, field \`${labels.field}\`, on ${base.name}@${base.version}; every other head, the embedding and the code are the base model's, unchanged (its evaluation: EVAL-BASE.md).`,
    '',
    '| measure | value |',
    '|---|---|',
    `| listings in the catalog | ${labels.listings} |`,
    `| listings with \`${labels.field}\` | ${labels.labelledListings} |`,
    `| classes | ${labels.labels.length} |`,
    `| classes dropped (fewer than the minimum listings) | ${dropped.length === 0 ? 'none' : dropped.map(([l, n]) => `${l} (${n})`).join(', ')} |`,
    `| training images | ${report.trainImages} |`,
    `| held-out images (split by product) | ${report.heldOutImages} |`,
    `| images skipped (unreadable or changed) | ${skipped} |`,
    `| held-out accuracy | ${report.accuracy} |`,
    `| abstain below (calibrated for precision ${ABSTAIN_PRECISION}) | ${report.abstainBelow} |`,
    '',
    '## per class (held-out images)',
    '',
    '| class | listings | held-out images | precision | recall |',
    '|---|---|---|---|---|',
    ...labels.labels.map((label) => {
      const c = report.perClass[label]!;
      return `| ${label} | ${labels.listingsPerClass[label]} | ${c.heldOutImages} | ${c.precision} | ${c.recall} |`;
    }),
    '',
  ].join('\n');
}

/**
 * Writes the model into a fresh folder beside `out`, checks that it loads, then renames it
 * into place (an existing `out` is moved aside first and removed after).
 */
async function writeModelDir(out: string, baseDir: string, baseManifest: ModelManifest, manifest: ModelManifest, files: { headsBytes: Uint8Array; modelBytes?: Uint8Array; evalMd: string }): Promise<void> {
  const parent = path.dirname(out);
  await mkdir(parent, { recursive: true });
  const temp = path.join(parent, `.${path.basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(temp);
  try {
    const rewritten = new Set(['model.json', 'EVAL.md', baseManifest.headsFile, ...(baseManifest.modelFile ? [baseManifest.modelFile] : [])]);
    for (const entry of await readdir(baseDir, { withFileTypes: true })) {
      if (entry.isFile() && !rewritten.has(entry.name)) await copyFile(path.join(baseDir, entry.name), path.join(temp, entry.name));
    }
    if (await exists(path.join(baseDir, 'EVAL.md'))) await copyFile(path.join(baseDir, 'EVAL.md'), path.join(temp, 'EVAL-BASE.md'));
    await writeAtomic(path.join(temp, manifest.headsFile), files.headsBytes);
    if (files.modelBytes && manifest.modelFile) await writeAtomic(path.join(temp, manifest.modelFile), files.modelBytes);
    await writeAtomic(path.join(temp, 'EVAL.md'), files.evalMd);
    await writeAtomic(path.join(temp, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    // The graph must load and match its manifest before it takes the destination's place.
    const check = await loadModel(temp);
    await check.session.close();
    const aside = (await exists(out)) ? `${temp}.old` : undefined;
    if (aside) await rename(out, aside);
    await rename(temp, out);
    if (aside) await rm(aside, { recursive: true, force: true });
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
