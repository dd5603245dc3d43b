// facets: how many products of the result set carry each value, per field, so a front end
// can offer "colour: yellow (12), blue (3)" refinements.

import { COLOUR_HEADS } from '../model/heads/colour-heads.ts';
import { CATEGORY_FIELD } from './filters.ts';
import type { Candidate } from './results.ts';
import type { Facets } from './types.ts';

/** Upper bounds of the price buckets; the last bucket is open-ended. */
export const PRICE_BUCKETS = [10, 50, 100, 500, 1000] as const;

export function priceBucket(price: number): string {
  let lower = 0;
  for (const upper of PRICE_BUCKETS) {
    if (price < upper) return `${lower}-${upper}`;
    lower = upper;
  }
  return `${lower}+`;
}

function bump(facets: Facets, field: string, value: string): void {
  const counts = (facets[field] ??= {});
  counts[value] = (counts[value] ?? 0) + 1;
}

/**
 * The heads to leave out of a photo query's facets: those that describe another kind of
 * product than the photo shows (a sofa's search offers no grocery menus). `queryVertical` is
 * the photo's sure `vertical` label; none (the model is not sure, or has no such head) hides nothing.
 * The colour head stays: off its vertical the photo's measured colour fills it, one colour
 * filter for every kind of product.
 */
export function otherVerticalHeads(headVerticals: Readonly<Record<string, string>> | undefined, queryVertical: string | undefined): Set<string> {
  if (!headVerticals || queryVertical === undefined) return new Set();
  return new Set(Object.entries(headVerticals).filter(([head, vertical]) => vertical !== queryVertical && !COLOUR_HEADS.has(head)).map(([head]) => head));
}

/** Counts products (not images): a product with a red and a blue photo counts once for each. `hidden`: heads not counted. */
export function computeFacets(candidates: readonly Candidate[], hidden: ReadonlySet<string> = new Set()): Facets {
  const facets: Facets = {};
  for (const candidate of candidates) {
    for (const [head, labels] of Object.entries(candidate.allLabels)) {
      // The `category` filter is the seller's category (filters.ts): a head of that name is not counted under it.
      if (head === CATEGORY_FIELD || hidden.has(head)) continue;
      for (const label of labels) bump(facets, head, label);
    }
    if (candidate.currency) bump(facets, 'currency', candidate.currency);
    // The seller's category: one per product, counted as the listing's other fields are.
    if (candidate.category) bump(facets, 'category', candidate.category);
    if (candidate.price !== null) bump(facets, 'price', priceBucket(candidate.price));
  }
  // Most frequent values first, which is how facets are shown.
  for (const [field, counts] of Object.entries(facets)) {
    facets[field] = Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  }
  return facets;
}
