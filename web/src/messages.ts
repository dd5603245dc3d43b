// What the page says: server error codes in words a person understands (the server's own
// message is the fallback), field names, and the texts of the newer views.

export const NOT_AN_IMAGE = 'This file is not an image we can read. Try a JPEG, PNG or WebP photo.';

const FRIENDLY: Record<string, string> = {
  not_an_image: NOT_AN_IMAGE,
  unsupported_format: "That kind of image isn't supported. Try a JPEG, PNG or WebP photo.",
  unsupported_media_type: "That file can't be sent here. Choose a photo.",
  truncated: 'The photo seems damaged or incomplete. Try another copy of it.',
  empty_file: 'The file is empty. Choose another photo.',
  too_large: 'The photo is too big. Use one under 20 MB and under 40 megapixels.',
  unauthorized: 'The API key is missing or not right.',
  writes_disabled: "This server doesn't accept new products: it was started without a write key.",
  forbidden: "This page isn't allowed to change the catalog.",
  rate_limited: "You're going a bit fast. Wait a few seconds and try again.",
  overloaded: 'The server is busy right now. Try again in a moment.',
  timeout: 'The server took too long to answer. Try again.',
  unavailable: "This part of the service isn't available right now.",
  not_found: 'That product no longer exists.',
  model_mismatch: 'The catalog was built with another model version; an administrator needs to reindex it.',
  network: "Can't reach the server. Check that it is running and try again.",
};

/** The details the server added after "generic message: " (field names, limits). */
function detailsOf(message: string): string {
  const colon = message.indexOf(': ');
  return colon >= 0 ? message.slice(colon + 2) : message;
}

export function describeError(code: string, message: string): string {
  if (code === 'invalid_argument' || code === 'query_invalid') return `Please check what you entered: ${detailsOf(message)}`;
  return FRIENDLY[code] ?? (message || 'Something went wrong. Try again.');
}

/** Files the sell form cannot use as a photo: one message, whatever the server's code. */
export const UNREADABLE_CODES = new Set(['not_an_image', 'unsupported_format', 'truncated']);

/** Names of the listing's own filter fields a person sees; heads are named by their model (fields.ts). */
export const FIELD_NAMES: Record<string, string> = {
  category: 'Category',
  garment: 'Garment in the photo',
  garment_colour: 'Garment colour',
  price: 'Price',
  currency: 'Currency',
  tags: 'Tags',
};

export const TEXT = {
  filters: 'Filters',
  /** A filter menu's first choice; its label above names the field. */
  anyValue: 'Any',
  noMatchWords: 'No products match these words. Try other words.',
  noMatchFilters: 'No products match with the filters you chose. Remove a filter to see more.',
  noMatchPhoto: 'No products look like your photo yet.',
  noMatchWordsAndFilters: 'No products match these words with the filters you chose. Try other words or remove a filter.',
  catalogEmpty: 'The catalog is empty: there is nothing to find yet. Publish a product in the Sell tab, or index a folder of photos with groknet index.',
  photoQuery: (file: string) => `Searching by your photo: ${file}`,
  similarQuery: (title: string) => `More like “${title}”`,
  noPhoto: 'no photo',
  noPhotoLabel: (title: string) => `${title} (no photo)`,
  back: '← Back',
  productLoading: 'Loading the product…',
  productGone: 'This product no longer exists',
  productGoneHint: 'It may have been removed from the catalog. Search again to find something like it.',
  description: 'Description',
  details: 'Details',
  modelLabels: 'What the model sees',
  garments: 'Garments in the photo',
  similar: 'Similar products',
  seenTogether: 'Seen together',
  nothingSimilar: 'Nothing else looks like it yet.',
  nothingSeenTogether: 'Not seen together with anything yet.',
  seenIn: (count: number) => `seen together in ${count} photo${count === 1 ? '' : 's'}`,
  photoOf: (title: string, n: number, of: number) => (of > 1 ? `${title}, photo ${n} of ${of}` : title),
};
