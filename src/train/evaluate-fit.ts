// Evaluation of a fitted model on the held-out rows (original images, not views): per
// head accuracy/top-5 or mAP/F1, retrieval of each product's catalog image from its
// photos and of augmented views, float and binary codes; and the thresholds calibrated
// on those rows (abstain per single head, per-label thresholds, exact-match similarity).
import { hexToBytes, signsToHex } from '../model/binary-code.ts';
import type { TrainingRows } from './build-rows.ts';
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
import type { FitResult, MultiTask, SingleTask } from './fit-heads.ts';
import type { ItqResult } from './itq.ts';

export interface Evaluation {
  report: Record<string, Record<string, number | string>>;
  abstainBelow: Record<string, number>;
  thresholds: Record<string, number[]>;
  exactMatchThreshold?: number;
  /** The single-label heads the calibration pairs were labelled for: where that threshold holds. */
  exactMatchHeads?: string[];
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

export function evaluateFit(
  fit: FitResult,
  prepared: { rows: TrainingRows },
  options: { tasks: SingleTask[]; multiTasks: MultiTask[]; itq: ItqResult; codeBits: number; includeEmbedding: boolean },
): Evaluation {
  const { rows } = prepared;
  const evaluation: Evaluation = { report: {}, abstainBelow: {}, thresholds: {} };
  const val = Array.from(rows.valRows);

  for (const task of options.tasks) {
    const taskRows = val.filter((r) => task.targets[r]! >= 0);
    if (taskRows.length === 0) continue;
    const probs = fit.predict(Int32Array.from(taskRows)).probs[task.name]!;
    const targets = taskRows.map((r) => task.targets[r]!);
    const L = task.labels.length;
    const entry: Record<string, number | string> = {
      images: taskRows.length,
      accuracy: round(topKAccuracy(probs, L, targets, 1)),
      top5: round(topKAccuracy(probs, L, targets, 5)),
    };
    if (L > 10) {
      // The 10 most common training labels: the clothing-dataset-small protocol.
      const counts = new Array<number>(L).fill(0);
      for (const r of rows.trainRows) if (task.targets[r]! >= 0 && !rows.rows[r]!.view) counts[task.targets[r]!]!++;
      const top10 = counts.map((c, i) => ({ c, i })).sort((a, b) => b.c - a.c).slice(0, 10).map((x) => x.i);
      entry.accuracy_10_most_common_labels = round(topKAccuracy(probs, L, targets, 1, top10));
    }
    evaluation.abstainBelow[task.name] = calibrateAbstain(probs, L, targets, 0.85);
    entry.abstain_below_for_precision_0_85 = evaluation.abstainBelow[task.name]!;
    evaluation.report[task.name] = entry;
  }

  for (const task of options.multiTasks) {
    const taskRows = val.filter((r) => task.labelled[r] === 1);
    if (taskRows.length === 0) continue;
    const L = task.labels.length;
    const probs = fit.predict(Int32Array.from(taskRows)).probs[task.name]!;
    const targets = new Float32Array(taskRows.length * L);
    taskRows.forEach((r, i) => targets.set(task.targets.subarray(r * L, (r + 1) * L), i * L));
    const idx = taskRows.map((_, i) => i);
    const even = idx.filter((i) => i % 2 === 0);
    const odd = idx.filter((i) => i % 2 === 1);
    // Thresholds calibrated on one half and scored on the other, both ways, so F1 is not flattered.
    const f1 = (microF1(probs, targets, L, odd, calibrateMultiThresholds(probs, targets, L, even)) + microF1(probs, targets, L, even, calibrateMultiThresholds(probs, targets, L, odd))) / 2;
    evaluation.thresholds[task.name] = calibrateMultiThresholds(probs, targets, L, idx);
    evaluation.report[task.name] = {
      images: taskRows.length,
      loss: task.loss ?? 'bce',
      mAP: round(meanAveragePrecision(probs, targets, L, idx)),
      micro_f1_at_calibrated_thresholds: round(f1),
      micro_f1_at_0_5: round(microF1(probs, targets, L, idx, new Array<number>(L).fill(0.5))),
    };
  }

  if (!options.includeEmbedding) return evaluation;
  const dim = fit.embedding.outDim;
  const bits = options.codeBits;
  const codesOf = (embedding: Float32Array): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < embedding.length / dim; i++) {
      const projected = new Float32Array(bits);
      for (let k = 0; k < bits; k++) {
        let sum = 0;
        for (let j = 0; j < dim; j++) sum += (embedding[i * dim + j]! - options.itq.mean[j]!) * options.itq.rotation[j * bits + k]!;
        projected[k] = sum;
      }
      out.push(hexToBytes(signsToHex(projected)));
    }
    return out;
  };

  // Exact-product retrieval: held-out photos against their products' catalog images.
  const catalogRows = rows.rows.map((row, r) => (row.sample.catalogImage && !row.view ? r : -1)).filter((r) => r >= 0);
  if (catalogRows.length > 0) {
    const galleryIndex = new Map(catalogRows.map((r, i) => [rows.rows[r]!.sample.productId!, i]));
    const queries = val.filter((r) => galleryIndex.has(rows.rows[r]!.sample.productId ?? ''));
    const targets = queries.map((r) => galleryIndex.get(rows.rows[r]!.sample.productId!)!);
    const q = fit.predict(Int32Array.from(queries)).embedding;
    const g = fit.predict(Int32Array.from(catalogRows)).embedding;
    const float = retrievalRecall(q, g, dim, targets);
    const binary = binaryRecall(codesOf(q), codesOf(g), targets);
    const exact = calibrateExactThreshold(float.positives, float.hardestNegatives);
    evaluation.exactMatchThreshold = exact.threshold;
    evaluation.exactMatchHeads = [...new Set(catalogRows.flatMap((r) => Object.keys(rows.rows[r]!.sample.single)))].sort();
    evaluation.report.photo_to_catalog = {
      task: 'held-out photos -> their product catalog image',
      queries: queries.length,
      gallery: catalogRows.length,
      recall_at_1: round(float.recallAt1),
      recall_at_5: round(float.recallAt5),
      [`binary_${bits}_recall_at_1`]: round(binary.recallAt1),
      [`binary_${bits}_recall_at_5`]: round(binary.recallAt5),
      binary_kept_of_float_r1: round(binary.recallAt1 / Math.max(float.recallAt1, 1e-9)),
      exact_match_threshold: exact.threshold,
      exact_threshold_accuracy: round(exact.accuracy),
    };
  }

  // Augmented-view retrieval: a held-out photo's crop against all held-out originals.
  if (rows.valViews.length > 0) {
    const originals = val.filter((r) => rows.valViews.some((v) => v.original === r));
    const position = new Map(originals.map((r, i) => [r, i]));
    const sample = rows.valViews.filter((_, i) => i % Math.max(1, Math.floor(rows.valViews.length / 1000)) === 0);
    const q = fit.predict(Int32Array.from(sample.map((v) => v.view))).embedding;
    const g = fit.predict(Int32Array.from(originals)).embedding;
    const targets = sample.map((v) => position.get(v.original)!);
    const float = retrievalRecall(q, g, dim, targets);
    const binary = binaryRecall(codesOf(q), codesOf(g), targets);
    evaluation.report.augmented_view_retrieval = {
      task: 'a held-out photo\'s 80% crop -> the held-out originals',
      queries: sample.length,
      gallery: originals.length,
      recall_at_1: round(float.recallAt1),
      recall_at_5: round(float.recallAt5),
      [`binary_${bits}_recall_at_1`]: round(binary.recallAt1),
      binary_kept_of_float_r1: round(binary.recallAt1 / Math.max(float.recallAt1, 1e-9)),
    };
  }
  return evaluation;
}
