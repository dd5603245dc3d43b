// Builds the shipped base model from the shared datasets: frozen MobileNetV2-1.4 features
// (GeM-pooled), one shared layer trained jointly by the clothing and grocery heads and an
// ArcFace embedding over grocery products; evaluates on held-out rows, calibrates the
// thresholds, and writes heads.onnx + model.json + EVAL.md into the output directory.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hexToBytes, signsToHex } from '../model/binary-code.ts';
import { BACKBONES } from '../model/backbones/registry.ts';
import { buildHeadsGraph, CODE_OUTPUT, EMBEDDING_OUTPUT, headOutputName } from '../model/heads/heads-graph.ts';
import { MANIFEST_FORMAT_VERSION, parseManifest, type ModelManifest } from '../model/manifest.ts';
import { CLOTHING_LABELS, loadClothing } from './datasets/clothing.ts';
import { loadClothingParsing } from './datasets/clothing-parsing.ts';
import { loadGrocery } from './datasets/grocery.ts';
import type { Sample } from './datasets/types.ts';
import {
  binaryRecall,
  calibrateAbstain,
  calibrateExactThreshold,
  calibrateMultiThresholds,
  meanAveragePrecision,
  microF1,
  retrievalRecall,
  topKAccuracy,
} from './evaluate.ts';
import { extractPooledFeatures } from './extract-features.ts';
import { fitHeads, type MultiTask, type SingleTask } from './fit-heads.ts';

export interface BuildOptions {
  datasets: string;
  out: string;
  epochs?: number;
  seed?: number;
  gemP?: number;
  log?: (line: string) => void;
}

const BACKBONE = BACKBONES['nsfwjs/mobilenet_v2_mid'];
const TENSOR = 'conv_1';

export async function buildBaseModel(options: BuildOptions): Promise<ModelManifest> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const clothing = await loadClothing(path.join(options.datasets, 'clothing'));
  const grocery = await loadGrocery(path.join(options.datasets, 'grocery'));
  const parsing = await loadClothingParsing(path.join(options.datasets, 'clothing-parsing'));
  const samples: Sample[] = [...clothing.samples, ...grocery.samples, ...parsing.samples];
  log(`samples: clothing ${clothing.samples.length}, grocery ${grocery.samples.length}, clothing-parsing ${parsing.samples.length}`);

  const gemP = options.gemP ?? 3;
  const features = await extractPooledFeatures(
    samples.map((s) => s.path),
    { backboneId: BACKBONE.id, tensors: [TENSOR], pValues: [1, 3] },
  );
  const featureSeconds = (Date.now() - started) / 1000;
  log(`features: ${features.rowOf.size} images (${features.failed.length} failed) in ${featureSeconds.toFixed(0)} s`);
  const data = features.byP.get(gemP);
  if (!data) throw new Error(`no features pooled with p=${gemP}`);
  const dim = features.channels;

  const kept = samples.filter((s) => features.rowOf.has(s.path));
  const rowOf = (s: Sample): number => features.rowOf.get(s.path)!;
  const rows = features.rowOf.size;
  const taskNames = { clothing: clothing.tasks.clothing!, grocery_fine: grocery.tasks.grocery_fine!, grocery_coarse: grocery.tasks.grocery_coarse! };
  const tasks: SingleTask[] = Object.entries(taskNames).map(([name, labels]) => {
    const targets = new Int32Array(rows).fill(-1);
    for (const s of kept) if (s.single[name] !== undefined) targets[rowOf(s)] = s.single[name]!;
    return { name, labels, targets, weight: 1 };
  });
  const tagLabels = parsing.tasks.garment_tags!;
  const multiTasks: MultiTask[] = [{ name: 'garment_tags', labels: tagLabels, targets: new Float32Array(rows * tagLabels.length), labelled: new Uint8Array(rows), weight: 1 }];
  for (const s of kept) {
    const present = s.multi?.garment_tags;
    if (!present) continue;
    multiTasks[0]!.labelled[rowOf(s)] = 1;
    for (const l of present) multiTasks[0]!.targets[rowOf(s) * tagLabels.length + l] = 1;
  }
  const productIndex = new Map<string, number>();
  const productIds = new Int32Array(rows).fill(-1);
  for (const s of kept) {
    if (!s.productId) continue;
    if (!productIndex.has(s.productId)) productIndex.set(s.productId, productIndex.size);
    if (s.split === 'train') productIds[rowOf(s)] = productIndex.get(s.productId)!;
  }
  const trainRows = Int32Array.from(kept.filter((s) => s.split === 'train').map(rowOf));
  const valSamples = kept.filter((s) => s.split === 'val');

  const fitStarted = Date.now();
  const fit = await fitHeads({
    features: data,
    dim,
    trainRows,
    tasks,
    multiTasks,
    productIds,
    productCount: productIndex.size,
    sharedSizes: [512],
    embeddingDim: 256,
    epochs: options.epochs ?? 30,
    batchSize: 128,
    learningRate: 2e-3,
    weightDecay: 1e-2,
    labelSmoothing: 0.1,
    arcface: { scale: 24, margin: 0.3, weight: 1 },
    seed: options.seed ?? 7,
    onEpoch: (epoch, losses) => log(`epoch ${epoch}: ${Object.entries(losses).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`),
  });
  const fitSeconds = (Date.now() - fitStarted) / 1000;

  // ---- evaluation on held-out rows ----
  const evaluation: Record<string, unknown> = {};
  const abstain: Record<string, number> = {};
  for (const task of tasks) {
    const val = valSamples.filter((s) => s.single[task.name] !== undefined);
    const valRows = Int32Array.from(val.map(rowOf));
    const probs = fit.predict(valRows).probs[task.name]!;
    const targets = val.map((s) => s.single[task.name]!);
    const entry: Record<string, number | string> = {
      split: task.name === 'clothing' ? 'clothing: stable 15% hash split of labels.csv' : 'grocery: val.txt',
      images: val.length,
      accuracy: round(topKAccuracy(probs, task.labels.length, targets, 1)),
      top5: round(topKAccuracy(probs, task.labels.length, targets, 5)),
    };
    if (task.name === 'clothing') {
      const top10 = ['T-Shirt', 'Pants', 'Longsleeve', 'Shoes', 'Shirt', 'Dress', 'Shorts', 'Outwear', 'Hat', 'Skirt'].map((l) => CLOTHING_LABELS.indexOf(l as (typeof CLOTHING_LABELS)[number]));
      entry.accuracy_10_most_common = round(topKAccuracy(probs, task.labels.length, targets, 1, top10));
    }
    abstain[task.name] = calibrateAbstain(probs, task.labels.length, targets, 0.85);
    entry.abstain_below_for_precision_0_85 = abstain[task.name]!;
    evaluation[task.name] = entry;
  }

  // Multi-label tags: thresholds calibrated on one half of the validation rows and scored on
  // the other (both ways, averaged); the shipped thresholds use all validation rows.
  const thresholds: Record<string, number[]> = {};
  for (const task of multiTasks) {
    const L = task.labels.length;
    const val = valSamples.filter((s) => s.multi?.[task.name]);
    const probs = fit.predict(Int32Array.from(val.map(rowOf))).probs[task.name]!;
    const targets = new Float32Array(val.length * L);
    val.forEach((s, i) => targets.set(task.targets.subarray(rowOf(s) * L, (rowOf(s) + 1) * L), i * L));
    const idx = val.map((_, i) => i);
    const even = idx.filter((i) => i % 2 === 0);
    const odd = idx.filter((i) => i % 2 === 1);
    const f1 =
      (microF1(probs, targets, L, odd, calibrateMultiThresholds(probs, targets, L, even)) +
        microF1(probs, targets, L, even, calibrateMultiThresholds(probs, targets, L, odd))) /
      2;
    thresholds[task.name] = calibrateMultiThresholds(probs, targets, L, idx);
    evaluation[task.name] = {
      split: 'clothing-parsing: stable 15% hash split of annotations.jsonl',
      images: val.length,
      mAP: round(meanAveragePrecision(probs, targets, L, idx)),
      micro_f1_at_calibrated_thresholds: round(f1),
      micro_f1_at_0_5: round(microF1(probs, targets, L, idx, new Array(L).fill(0.5))),
    };
  }

  // Retrieval: grocery validation photos against the 81 catalog images.
  const catalog = kept.filter((s) => s.catalogImage).sort((a, b) => a.single.grocery_fine! - b.single.grocery_fine!);
  const queries = valSamples.filter((s) => s.dataset === 'grocery');
  const galleryIndex = new Map(catalog.map((s, i) => [s.productId!, i]));
  const usable = queries.filter((q) => galleryIndex.has(q.productId!));
  const qEmb = fit.predict(Int32Array.from(usable.map(rowOf))).embedding;
  const gEmb = fit.predict(Int32Array.from(catalog.map(rowOf))).embedding;
  const targets = usable.map((q) => galleryIndex.get(q.productId!)!);
  const retrieval = retrievalRecall(qEmb, gEmb, 256, targets);
  const exact = calibrateExactThreshold(retrieval.positives, retrieval.hardestNegatives);

  // 256-bit codes: signs of the centred embedding (identity rotation).
  const trainEmb = fit.predict(trainRows).embedding;
  const codeMean = new Float32Array(256);
  for (let i = 0; i < trainRows.length; i++) for (let j = 0; j < 256; j++) codeMean[j]! += trainEmb[i * 256 + j]! / trainRows.length;
  const rotation = new Float32Array(256 * 256);
  for (let j = 0; j < 256; j++) rotation[j * 256 + j] = 1;
  const codes = (emb: Float32Array): Uint8Array[] =>
    Array.from({ length: emb.length / 256 }, (_, i) => hexToBytes(signsToHex(Array.from(emb.subarray(i * 256, (i + 1) * 256), (v, j) => v - codeMean[j]!))));
  const binary = binaryRecall(codes(qEmb), codes(gEmb), targets);
  evaluation.grocery_photo_to_catalog = {
    split: 'grocery val.txt photos vs the 81 catalog images',
    queries: usable.length,
    recall_at_1: round(retrieval.recallAt1),
    recall_at_5: round(retrieval.recallAt5),
    binary_256_recall_at_1: round(binary.recallAt1),
    binary_256_recall_at_5: round(binary.recallAt5),
    binary_kept_of_float_r1: round(binary.recallAt1 / Math.max(retrieval.recallAt1, 1e-9)),
    exact_match_threshold: exact.threshold,
    exact_threshold_accuracy: round(exact.accuracy),
  };

  // ---- export ----
  const graph = buildHeadsGraph({
    inputNode: BACKBONE.tensors[TENSOR]!.node,
    channels: dim,
    gemP,
    featureMean: fit.featureMean,
    featureStd: fit.featureStd,
    shared: fit.shared,
    heads: fit.heads,
    embedding: { dense: fit.embedding, codeMean, rotation, bits: 256 },
  });
  const manifest = parseManifest({
    formatVersion: MANIFEST_FORMAT_VERSION,
    name: 'groknet-base',
    version: '0.1.0',
    description: 'Frozen MobileNetV2-1.4 (nsfwjs npm package) + GeM + one shared layer + clothing/grocery heads + ArcFace embedding',
    backbone: { id: BACKBONE.id, tensors: [BACKBONE.tensors[TENSOR]!.node] },
    input: BACKBONE.input,
    headsFile: 'heads.onnx',
    heads: [
      ...tasks.map((task) => ({
        name: task.name,
        kind: 'single',
        output: headOutputName(task.name),
        labels: task.labels,
        abstainBelow: abstain[task.name]!,
        trainedOn: task.name === 'clothing' ? 'clothing (labels.csv, 85% hash split)' : 'grocery train.txt + catalog images',
      })),
      ...multiTasks.map((task) => ({
        name: task.name,
        kind: 'multi',
        output: headOutputName(task.name),
        labels: task.labels,
        thresholds: thresholds[task.name]!,
        trainedOn: 'clothing-parsing tags (85% hash split), without null, skin and hair',
      })),
    ],
    embedding: { output: EMBEDDING_OUTPUT, dim: 256, codeOutput: CODE_OUTPUT, codeBits: 256, exactMatchThreshold: exact.threshold },
    training: {
      command: 'groknet train-base --datasets ../shared/datasets',
      images: rows,
      failedImages: features.failed.length,
      gemP,
      epochs: options.epochs ?? 30,
      featureSeconds: Math.round(featureSeconds),
      fitSeconds: Math.round(fitSeconds),
    },
    evaluation,
  });
  await mkdir(options.out, { recursive: true });
  await writeFile(path.join(options.out, 'heads.onnx'), graph.toModel());
  await writeFile(path.join(options.out, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(path.join(options.out, 'EVAL.md'), evalMarkdown(manifest));
  fit.dispose();
  return manifest;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function evalMarkdown(manifest: ModelManifest): string {
  const lines = [`# ${manifest.name} ${manifest.version}: evaluation`, '', `Made by \`${String(manifest.training?.command ?? '')}\`.`, ''];
  for (const [name, entry] of Object.entries(manifest.evaluation ?? {})) {
    lines.push(`## ${name}`, '', '| measure | value |', '|---|---|');
    for (const [k, v] of Object.entries(entry as Record<string, unknown>)) lines.push(`| ${k} | ${String(v)} |`);
    lines.push('');
  }
  return lines.join('\n');
}
