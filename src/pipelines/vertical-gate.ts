// The vertical gate: a head that describes one kind of product (model.json `vertical`, e.g.
// the grocery heads) says nothing sure about a photo the model's `vertical` head is sure shows
// another kind. Its answer is kept for inspection but marked abstained and `outOfVertical`, so
// listings, labels, filters, facets and exact-match badges (which all skip abstained answers)
// never carry a grocery label for a sofa or garment tags for a banana. Where the vertical head
// is not sure, or the model has none, every head answers as before.
import { VERTICAL_HEAD } from '../model/heads/vertical-head.ts';
import type { HeadSpec } from '../model/manifest.ts';
import type { HeadResult } from '../model/types.ts';

export { VERTICAL_HEAD };

/** The photo's vertical where the model is sure of it; undefined otherwise. */
export function sureVertical(heads: Readonly<Record<string, HeadResult>>): string | undefined {
  const result = heads[VERTICAL_HEAD];
  if (!result || result.kind !== 'single' || result.abstain) return undefined;
  return result.top[0]?.label;
}

/** `heads` with every head of another vertical than the photo's sure one abstained. */
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
