// What a seller did with the model's suggestions: each suggestion shown for a photo (head,
// label) checked against that photo's own analysis, then compared with the listing as
// published. The one place that says which listing field a head fills:
//   a category head (verticals.ts: clothing, fashion_article, furniture, grocery_*, category) -> `category`
//   a colour head (colour, color)                                  -> attributes.colour
//   any other single-label head                                    -> attributes.<head>
//   a multi-label head (garment_tags)                              -> attributes.tags (a list)
//   fashion_mnist, vertical (LISTING_IGNORED_HEADS)                -> none: never suggested
// suggestListing fills a SuggestedListing the same way.
import type { FeedbackOutcome, ImageFeedback, SuggestionFeedback } from '../catalog/feedback-types.ts';
import type { ListingFields } from '../catalog/listing.ts';
import { COLOUR_HEADS } from '../model/heads/colour-heads.ts';
import type { Analysis, HeadResult } from '../model/types.ts';
import { LISTING_IGNORED_HEADS, VERTICALS } from './verticals.ts';

/** The listing field a head's suggestion fills. */
export type SuggestionField = { kind: 'category'; head: string } | { kind: 'attribute'; name: string; list: boolean };

/** The attribute multi-label heads fill (their labels as a list). */
export const TAGS_ATTRIBUTE = 'tags';

/** Which field a head fills; undefined for a head that suggested listings leave out. */
export function suggestionField(head: string, kind: HeadResult['kind']): SuggestionField | undefined {
  if (LISTING_IGNORED_HEADS.has(head)) return undefined;
  if (kind === 'multi') return { kind: 'attribute', name: TAGS_ATTRIBUTE, list: true };
  if (VERTICALS[head]) return { kind: 'category', head };
  return { kind: 'attribute', name: COLOUR_HEADS.has(head) ? 'colour' : head, list: false };
}

/** `category` or `attributes.NAME`: how feedback names the field. */
export function fieldPath(field: SuggestionField): string {
  return field.kind === 'category' ? 'category' : `attributes.${field.name}`;
}

/** One suggestion as the client was shown it (POST /v1/analyze's listing). */
export interface SuggestionShown {
  head: string;
  label: string;
  score: number;
}

/** The suggestions shown for one photo, and the model that made them. */
export interface PhotoSuggestions {
  modelVersion: string;
  heads: readonly SuggestionShown[];
}

/** Where in the sent suggestions a problem is (photo index, then keys) and what it is. */
export interface SuggestionProblem {
  path: Array<string | number>;
  message: string;
}

export type FinalListing = Pick<ListingFields, 'category' | 'attributes'>;

/** Case, spacing and hyphens aside: "Golden-Delicious" is "golden delicious". */
function normal(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[-_\s]+/g, ' ').trim();
}

/** "fashion > clothing > T-Shirt" -> "T-Shirt": a category path names its label last. */
function lastSegment(category: string): string {
  return category.split(/\s*(?:>|\/)\s*/).filter((part) => part.length > 0).at(-1) ?? category;
}

function textOf(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

/** A list attribute's values: an array of strings, or a comma-separated string. */
function listOf(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return items.flatMap((item) => {
    const text = textOf(item);
    return text === null ? [] : [text];
  });
}

/** The outcome of one suggestion against the listing as published. */
export function judgeSuggestion(field: SuggestionField, label: string, listing: FinalListing): { outcome: FeedbackOutcome; final: string | null } {
  const wanted = normal(label);
  if (field.kind === 'category') {
    const final = listing.category?.trim() || null;
    if (final === null) return { outcome: 'dropped', final: null };
    // The suggested path may name the label as people write it ("T-Shirts" for Tshirts).
    const shown = VERTICALS[field.head]?.path(label).at(-1);
    const last = normal(lastSegment(final));
    const kept = last === wanted || normal(final) === wanted || (shown !== undefined && last === normal(shown));
    return { outcome: kept ? 'accepted' : 'corrected', final };
  }
  const value = listing.attributes[field.name];
  if (field.list) {
    // A tag is kept or not: a list has no "instead of".
    return listOf(value).some((item) => normal(item) === wanted) ? { outcome: 'accepted', final: label } : { outcome: 'dropped', final: null };
  }
  if (Array.isArray(value)) {
    const items = listOf(value);
    if (items.length === 0) return { outcome: 'dropped', final: null };
    return items.some((item) => normal(item) === wanted) ? { outcome: 'accepted', final: label } : { outcome: 'corrected', final: items.join(', ') };
  }
  const final = textOf(value);
  if (final === null) return { outcome: 'dropped', final: null };
  return { outcome: normal(final) === wanted ? 'accepted' : 'corrected', final };
}

/** The head's score for `label` on this photo; undefined when the head did not offer that label. */
function scoreOf(head: HeadResult, label: string): number | undefined {
  const offered = head.kind === 'single' ? head.top : head.labels;
  return offered.find((candidate) => candidate.label === label)?.score;
}

/**
 * Checks the suggestions a client says it was shown against the published photos' own
 * analyses (same model, a head the photo has, a label that head offered for it), then
 * judges each against the listing as published. `analyses[i]` is photo i's analysis
 * (undefined when it failed: the publish fails on its own then). Scores recorded are the
 * analysis's, not the client's. Problems are returned, not thrown: the caller says where in
 * its request the suggestions were.
 */
export function judgeSuggestions(
  shown: ReadonlyArray<PhotoSuggestions | null>,
  analyses: ReadonlyArray<Analysis | undefined>,
  listing: FinalListing,
): { feedback: ImageFeedback[]; problems: SuggestionProblem[] } {
  const feedback: ImageFeedback[] = [];
  const problems: SuggestionProblem[] = [];
  shown.forEach((photo, image) => {
    if (photo === null) return;
    if (image >= analyses.length) {
      problems.push({ path: [image], message: `there ${analyses.length === 1 ? 'is 1 photo' : `are ${analyses.length} photos`}: suggestions for photo ${image + 1} have no photo` });
      return;
    }
    const analysis = analyses[image];
    if (!analysis) return;
    if (photo.modelVersion !== analysis.modelVersion) {
      problems.push({ path: [image, 'modelVersion'], message: `suggestions of model ${photo.modelVersion}, this server runs ${analysis.modelVersion}: analyse the photo again` });
      return;
    }
    const suggestions: SuggestionFeedback[] = [];
    const seen = new Set<string>();
    photo.heads.forEach(({ head: name, label }, j) => {
      const head = Object.hasOwn(analysis.heads, name) ? analysis.heads[name] : undefined;
      const field = head ? suggestionField(name, head.kind) : undefined;
      if (!head || !field) {
        problems.push({ path: [image, 'heads', j, 'head'], message: `the model has no suggesting head '${name}'` });
        return;
      }
      const once = head.kind === 'single' ? name : JSON.stringify([name, label]);
      if (seen.has(once)) {
        problems.push({ path: [image, 'heads', j, 'head'], message: head.kind === 'single' ? `head '${name}' given twice for one photo` : `label '${label}' of head '${name}' given twice` });
        return;
      }
      seen.add(once);
      const score = scoreOf(head, label);
      if (score === undefined) {
        problems.push({ path: [image, 'heads', j, 'label'], message: `head '${name}' did not suggest '${label}' for photo ${image + 1}` });
        return;
      }
      suggestions.push({ head: name, label, score, field: fieldPath(field), ...judgeSuggestion(field, label, listing) });
    });
    if (suggestions.length > 0) feedback.push({ image, modelVersion: analysis.modelVersion, suggestions });
  });
  return { feedback, problems };
}
