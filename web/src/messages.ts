// Server error codes in words a person understands; the server's own message is the fallback.

const FRIENDLY: Record<string, string> = {
  not_an_image: "That file isn't a photo we can read. Try a JPEG, PNG or WebP image.",
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
