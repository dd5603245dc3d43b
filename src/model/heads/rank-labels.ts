// Label scores as every answer shows them: ranked best first, rounded to 4 decimals. One
// place, so what the colour blend was calibrated on (train/pixel-colour.ts, groknet eval) is
// exactly what the analyzer hands it at inference.

import type { LabelScore } from '../types.ts';

/** Labels shown per single-label head. */
export const TOP_LABELS = 5;

export function roundScore(score: number): number {
  return Math.round(score * 1e4) / 1e4;
}

/** Every label with its score, best first (rounded); `limit` keeps the first ones. */
export function rankLabels(scores: ArrayLike<number>, labels: readonly string[], limit = labels.length): LabelScore[] {
  return Array.from({ length: labels.length }, (_, i) => ({ label: labels[i]!, score: scores[i]! }))
    .sort((a, b) => b.score - a.score)
    .slice(0, limit)
    .map((entry) => ({ label: entry.label, score: roundScore(entry.score) }));
}
