// Field and head names as a person reads them. The shipped model's heads are named in
// messages.ts; any other head (a custom model's) is humanised rather than shown raw.
import { FIELD_NAMES } from './messages.ts';

/**
 * Heads the model has for training and evaluation, not for describing a listing:
 * fashion_mnist guesses Fashion-MNIST's 10 classes from any photo, which says nothing a
 * buyer can filter by next to `clothing`.
 */
const NOT_LISTING_HEADS = new Set(['fashion_mnist']);

export function isListingField(field: string): boolean {
  return !NOT_LISTING_HEADS.has(field);
}

/** "grocery_fine" -> "Grocery item"; an unknown "sleeve_length" -> "Sleeve length". */
export function fieldName(field: string): string {
  const known = FIELD_NAMES[field];
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
