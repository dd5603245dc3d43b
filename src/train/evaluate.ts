// Evaluation measures shared by the trainer and `groknet eval`: accuracy and top-k for
// single-label heads, recall@k for retrieval (float and binary codes), and the
// calibration of abstain and exact-match thresholds on held-out rows.
import { hammingDistance } from '../model/binary-code.ts';

export function topKAccuracy(probs: Float32Array, classes: number, targets: ArrayLike<number>, k: number, allowed?: readonly number[]): number {
  let hits = 0;
  let counted = 0;
  for (let i = 0; i < targets.length; i++) {
    const target = targets[i]!;
    if (target < 0 || (allowed && !allowed.includes(target))) continue;
    counted++;
    const row = probs.subarray(i * classes, (i + 1) * classes);
    const candidates = allowed ?? Array.from({ length: classes }, (_, c) => c);
    const better = candidates.filter((c) => row[c]! > row[target]!).length;
    if (better < k) hits++;
  }
  return counted === 0 ? NaN : hits / counted;
}

/** Lowest top-score threshold whose kept predictions reach the wanted precision (0 when all do). */
export function calibrateAbstain(probs: Float32Array, classes: number, targets: ArrayLike<number>, precision: number): number {
  const scored: Array<{ score: number; correct: boolean }> = [];
  for (let i = 0; i < targets.length; i++) {
    if (targets[i]! < 0) continue;
    const row = probs.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let c = 1; c < classes; c++) if (row[c]! > row[best]!) best = c;
    scored.push({ score: row[best]!, correct: best === targets[i] });
  }
  scored.sort((a, b) => b.score - a.score);
  let correct = 0;
  let threshold = 1;
  for (let i = 0; i < scored.length; i++) {
    correct += scored[i]!.correct ? 1 : 0;
    if (correct / (i + 1) >= precision) threshold = scored[i]!.score;
  }
  return Math.round(threshold * 1000) / 1000;
}

export interface RetrievalResult {
  recallAt1: number;
  recallAt5: number;
  /** Per query: similarity to its own gallery item and to the best other one. */
  positives: number[];
  hardestNegatives: number[];
}

/** Queries and gallery are L2-normalised rows; queryTargets[i] is the gallery index of query i's product. */
export function retrievalRecall(queries: Float32Array, gallery: Float32Array, dim: number, queryTargets: ArrayLike<number>): RetrievalResult {
  const galleryCount = gallery.length / dim;
  let at1 = 0;
  let at5 = 0;
  const positives: number[] = [];
  const hardestNegatives: number[] = [];
  for (let q = 0; q < queryTargets.length; q++) {
    const sims = new Float32Array(galleryCount);
    for (let g = 0; g < galleryCount; g++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += queries[q * dim + j]! * gallery[g * dim + j]!;
      sims[g] = dot;
    }
    const target = queryTargets[q]!;
    const rank = Array.from(sims).filter((s, g) => g !== target && s > sims[target]!).length;
    if (rank < 1) at1++;
    if (rank < 5) at5++;
    positives.push(sims[target]!);
    hardestNegatives.push(Math.max(...Array.from(sims).filter((_, g) => g !== target)));
  }
  return { recallAt1: at1 / queryTargets.length, recallAt5: at5 / queryTargets.length, positives, hardestNegatives };
}

export function binaryRecall(queryCodes: Uint8Array[], galleryCodes: Uint8Array[], queryTargets: ArrayLike<number>): { recallAt1: number; recallAt5: number } {
  let at1 = 0;
  let at5 = 0;
  for (let q = 0; q < queryCodes.length; q++) {
    const d = galleryCodes.map((g) => hammingDistance(queryCodes[q]!, g));
    const target = queryTargets[q]!;
    // Ties count against the query: the target must be strictly closer than others to rank above them.
    const rank = d.filter((v, g) => g !== target && v <= d[target]!).length;
    if (rank < 1) at1++;
    if (rank < 5) at5++;
  }
  return { recallAt1: at1 / queryCodes.length, recallAt5: at5 / queryCodes.length };
}

/** The similarity threshold that best separates same-product pairs from the hardest other pair. */
export function calibrateExactThreshold(positives: readonly number[], negatives: readonly number[]): { threshold: number; accuracy: number } {
  const candidates = [...positives, ...negatives].sort((a, b) => a - b);
  let best = { threshold: 1, accuracy: 0 };
  for (const t of candidates) {
    const correct = positives.filter((p) => p >= t).length + negatives.filter((n) => n < t).length;
    const accuracy = correct / (positives.length + negatives.length);
    if (accuracy > best.accuracy) best = { threshold: t, accuracy };
  }
  return { threshold: Math.round(best.threshold * 1000) / 1000, accuracy: best.accuracy };
}

/** Average precision of one label: mean precision at each positive, ranked by score. */
export function averagePrecision(scores: readonly number[], positives: readonly boolean[]): number {
  const order = scores.map((s, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let hits = 0;
  let sum = 0;
  order.forEach((i, rank) => {
    if (positives[i]) {
      hits++;
      sum += hits / (rank + 1);
    }
  });
  return hits === 0 ? NaN : sum / hits;
}

/** Per-label threshold maximising F1 on the given rows (0.5 where a label has no positive). */
export function calibrateMultiThresholds(probs: Float32Array, targets: Float32Array, labels: number, rows: readonly number[]): number[] {
  return Array.from({ length: labels }, (_, l) => {
    const scored = rows.map((r) => ({ s: probs[r * labels + l]!, p: targets[r * labels + l]! > 0.5 })).sort((a, b) => b.s - a.s);
    const positives = scored.filter((x) => x.p).length;
    if (positives === 0) return 0.5;
    let tp = 0;
    let best = { f1: 0, t: 0.5 };
    scored.forEach((x, k) => {
      if (x.p) tp++;
      const f1 = (2 * tp) / (k + 1 + positives);
      if (f1 > best.f1) best = { f1, t: x.s };
    });
    return Math.round(best.t * 1000) / 1000;
  });
}

/** Micro-averaged F1 over all labels of the given rows at the given thresholds. */
export function microF1(probs: Float32Array, targets: Float32Array, labels: number, rows: readonly number[], thresholds: readonly number[]): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const r of rows) {
    for (let l = 0; l < labels; l++) {
      const predicted = probs[r * labels + l]! >= thresholds[l]!;
      const actual = targets[r * labels + l]! > 0.5;
      if (predicted && actual) tp++;
      else if (predicted) fp++;
      else if (actual) fn++;
    }
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

export function meanAveragePrecision(probs: Float32Array, targets: Float32Array, labels: number, rows: readonly number[]): number {
  const aps: number[] = [];
  for (let l = 0; l < labels; l++) {
    const ap = averagePrecision(rows.map((r) => probs[r * labels + l]!), rows.map((r) => targets[r * labels + l]! > 0.5));
    if (!Number.isNaN(ap)) aps.push(ap);
  }
  return aps.length === 0 ? NaN : aps.reduce((a, b) => a + b, 0) / aps.length;
}
