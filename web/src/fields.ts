// Field and head names as a person reads them. A head is named by its model (model.json
// `title`, served by GET /v1/catalog), a listing field (price, category, ...) in messages.ts;
// a head without a title is humanised rather than shown raw.
import { catalogSummary } from './api.ts';
import { FIELD_NAMES } from './messages.ts';

let headTitles: Record<string, string> = {};
let loading: Promise<void> | undefined;

/** Fetches the model's head titles once; without them (an error) heads are humanised. */
export function loadFieldTitles(): Promise<void> {
  loading ??= catalogSummary().then(
    (summary) => {
      headTitles = summary.fields ?? {};
    },
    () => {
      // Asked again on the next use: a server that was starting may answer then.
      loading = undefined;
    },
  );
  return loading;
}

/**
 * Heads the model has for training and evaluation, not for describing a listing:
 * fashion_mnist guesses Fashion-MNIST's 10 classes from any photo, which says nothing a
 * buyer can filter by next to `clothing`.
 */
const NOT_LISTING_HEADS = new Set(['fashion_mnist']);

export function isListingField(field: string): boolean {
  return !NOT_LISTING_HEADS.has(field);
}

/** "grocery_fine" -> "Grocery item" (its model's title); an unknown "sleeve_length" -> "Sleeve length". */
export function fieldName(field: string): string {
  const known = headTitles[field] ?? FIELD_NAMES[field];
  if (known) return known;
  const words = field.replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A filter value in words: garment colours are stored as "dress:blue". */
export function valueText(field: string, value: string): string {
  if (field === 'garment_colour' && value.includes(':')) {
    const [garment, colour] = value.split(':');
    return `${colour} ${garment}`;
  }
  return value;
}
