// The vertical gate: a head that describes one kind of product (model.json `vertical`, e.g.
// the grocery heads) says nothing sure about a photo the model's `vertical` head says shows
// another kind. Its answer is kept for inspection but marked abstained and `outOfVertical`, so
// listings, labels, filters, facets and exact-match badges (which all skip abstained answers)
// never carry a grocery label for a sofa or garment tags for a banana. Where the vertical head
// leans to no vertical, or the model has none, every head answers as before.
import { VERTICAL_HEAD } from '../model/heads/vertical-head.ts';
import type { HeadSpec } from '../model/manifest.ts';
import type { HeadResult } from '../model/types.ts';

export { VERTICAL_HEAD };

/**
 * The vertical head's score from which its top label gates the other heads: more likely than
 * every other vertical together. Lower than the head's own abstain threshold on purpose: a
 * wrong gate makes the right heads say "not sure" (cheap), a missing gate lets a fashion head
 * call a bed "Men" (a confident wrong answer). Over 4,500 held-out photos in four styles the
 * top label at 0.5 or more covers 0.903 of them and is right on 0.855 (BENCHMARKS.md,
 * "Accuracy across photo styles").
 */
export const VERTICAL_GATE_SCORE = 0.5;

/** The photo's vertical where the model leans to one (VERTICAL_GATE_SCORE); undefined otherwise. */
export function sureVertical(heads: Readonly<Record<string, HeadResult>>): string | undefined {
  const result = heads[VERTICAL_HEAD];
  const top = result?.kind === 'single' ? result.top[0] : undefined;
  return top && top.score >= VERTICAL_GATE_SCORE ? top.label : undefined;
}

/** `heads` with every head of another vertical than the photo's (sureVertical) abstained. */
export function gateByVertical(specs: readonly HeadSpec[], heads: Record<string, HeadResult>): Record<string, HeadResult> {
  const vertical = sureVertical(heads);
  if (vertical === undefined) return heads;
  const gated: Record<string, HeadResult> = { ...heads };
  for (const spec of specs) {
    const result = heads[spec.name];
    if (!spec.vertical || spec.vertical === vertical || !result) continue;
    gated[spec.name] = result.kind === 'single' ? { ...result, abstain: true, outOfVertical: true } : { ...result, labels: [], outOfVertical: true };
  }
  return gated;
}
