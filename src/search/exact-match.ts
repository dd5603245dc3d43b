// When a photo match may be called `exact` (the same product): above the model's threshold
// where that threshold was calibrated, or the same photo anywhere. Search by photo and the
// seen-together links ask the same question, so they answer it here.

import type { Analysis } from '../model/types.ts';

/**
 * Where the model's exact-match threshold was not calibrated, a match is still `exact` from
 * this similarity: the same photo re-encoded or resized (a JPEG copy scores ~0.99).
 */
export const SAME_PHOTO_SIMILARITY = 0.97;

/** exact: above the threshold where it holds; same-photo: the same picture; below: under the threshold; uncalibrated: above it where it does not hold. */
export type ExactVerdict = 'exact' | 'same-photo' | 'below' | 'uncalibrated';

export interface ExactMatchRule {
  /** Cosine similarity from which two photos show the same product (analyzer.exactMatchThreshold). */
  threshold: number;
  /**
   * The heads the threshold was calibrated on (analyzer.exactMatchHeads): the product must be
   * sure of each of them and, when the query's labels are known, with the query's label.
   * Absent: the threshold holds everywhere.
   */
  heads?: readonly string[] | undefined;
  /** The query photo's sure labels (sureLabels); absent: only the product's side is checked. */
  queryLabels?: Readonly<Record<string, string>> | undefined;
}

/** `productLabels`: head -> the product's sure label (abstained heads absent). */
export function exactVerdict(similarity: number, productLabels: Readonly<Record<string, string | undefined>>, rule: ExactMatchRule): ExactVerdict {
  const { heads, queryLabels } = rule;
  const calibrated = heads === undefined || heads.every((head) => productLabels[head] !== undefined && (queryLabels === undefined || queryLabels[head] === productLabels[head]));
  if (calibrated) return similarity >= rule.threshold ? 'exact' : 'below';
  if (similarity >= SAME_PHOTO_SIMILARITY) return 'same-photo';
  return similarity >= rule.threshold ? 'uncalibrated' : 'below';
}

/** The labels of the single-label heads that did not abstain on the photo. */
export function sureLabels(analysis: Pick<Analysis, 'heads'>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [head, result] of Object.entries(analysis.heads)) {
    const top = result.kind === 'single' && !result.abstain ? result.top[0] : undefined;
    if (top) labels[head] = top.label;
  }
  return labels;
}
