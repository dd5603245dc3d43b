// A suggested listing from one analysis: the category (the most confident category head
// that does not abstain, refined by a finer head of the same vertical when that one is
// sure too), colour and other attributes, and title words. Every field carries its score
// and whether the model abstained, so a seller is asked to check the unsure ones.
import { COLOUR_HEADS } from '../model/heads/colour-heads.ts';
import type { HeadResult } from '../model/types.ts';
import { ATTRIBUTE_HEAD_VERTICAL, humanize, LISTING_IGNORED_HEADS, VERTICALS } from './verticals.ts';

export interface ListingField {
  value: string;
  score: number;
  /** True when the model is not confident enough: the seller should choose. */
  abstain: boolean;
  /** The head the value came from. */
  head: string;
  /** How it was reached where that is not the head alone: 'pixels' for a colour measured from the photo. */
  source?: 'model' | 'pixels';
}

export interface CategoryField extends ListingField {
  /** Root first, e.g. ["fashion", "clothing", "T-Shirt"]. */
  path: string[];
}

export interface SuggestedListing {
  category: CategoryField | null;
  colour: ListingField | null;
  /** Other single-label heads by name (material, pattern, ...). */
  attributes: Record<string, ListingField>;
  /** Labels of multi-label heads above their thresholds. */
  tags: ListingField[];
  title: { value: string; score: number; abstain: boolean };
}

type Single = Extract<HeadResult, { kind: 'single' }>;

function top(head: Single, name: string): ListingField | undefined {
  const best = head.top[0];
  return best ? { value: best.label, score: best.score, abstain: head.abstain ?? false, head: name, ...(head.source ? { source: head.source } : {}) } : undefined;
}

export function suggestListing(heads: Record<string, HeadResult>): SuggestedListing {
  const categories: ListingField[] = [];
  const attributes: Record<string, ListingField> = {};
  const tags: ListingField[] = [];
  let colour: ListingField | null = null;

  const multi: Array<[string, Extract<HeadResult, { kind: 'multi' }>]> = [];
  for (const [name, head] of Object.entries(heads)) {
    // A head of another kind of product than the photo shows (the vertical gate) suggests nothing.
    if (LISTING_IGNORED_HEADS.has(name) || head.outOfVertical) continue;
    if (head.kind === 'multi') {
      multi.push([name, head]);
      continue;
    }
    const field = top(head, name);
    if (!field) continue;
    if (VERTICALS[name]) categories.push(field);
    else if (COLOUR_HEADS.has(name)) colour = field;
    else attributes[name] = field;
  }

  const category = chooseCategory(categories);
  const belongs = (head: string): boolean => {
    const vertical = ATTRIBUTE_HEAD_VERTICAL[head];
    return !vertical || (category !== null && !category.abstain && category.path[0] === vertical);
  };
  for (const name of Object.keys(attributes)) if (!belongs(name)) delete attributes[name];
  for (const [name, head] of multi) {
    if (!belongs(name)) continue;
    for (const label of head.labels) tags.push({ value: label.label, score: label.score, abstain: false, head: name });
  }
  return { category, colour, attributes, tags, title: titleOf(category, colour) };
}

function chooseCategory(candidates: ListingField[]): CategoryField | null {
  if (candidates.length === 0) return null;
  // Sure heads first, then by confidence: an unsure guess is only offered when all are unsure.
  const ranked = [...candidates].sort((a, b) => Number(a.abstain) - Number(b.abstain) || b.score - a.score);
  let chosen = ranked[0]!;
  // A coarse choice ("Apple") becomes the fine one ("Golden-Delicious") when the fine head is
  // sure as well and agrees on the parent.
  for (const fine of candidates) {
    const refines = VERTICALS[fine.head]?.refines;
    if (refines && refines.head === chosen.head && !fine.abstain && refines.parent(fine.value) === chosen.value) chosen = fine;
  }
  return { ...chosen, path: VERTICALS[chosen.head]!.path(chosen.value) };
}

function titleOf(category: CategoryField | null, colour: ListingField | null): SuggestedListing['title'] {
  const words: string[] = [];
  const used: ListingField[] = [];
  if (colour && !colour.abstain) {
    words.push(capitalize(colour.value));
    used.push(colour);
  }
  if (category) {
    const vertical = VERTICALS[category.head];
    words.push(vertical?.titleWords ? vertical.titleWords(category.value) : humanize(category.path.at(-1) ?? category.value));
    used.push(category);
  }
  if (words.length === 0) return { value: '', score: 0, abstain: true };
  return {
    value: words.join(' '),
    score: Math.min(...used.map((f) => f.score)),
    abstain: category === null || category.abstain,
  };
}

function capitalize(text: string): string {
  return text.length > 0 ? text[0]!.toUpperCase() + text.slice(1) : text;
}
