// Content hashes: what makes ingest idempotent and queue job ids stable.

import { createHash } from 'node:crypto';
import type { ListingFields, ListingFieldsInput } from './listing.ts';

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** JSON with object keys sorted at every level, so equal data always hashes equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** A listing as hashed: its fields (the defaults of `listingFieldsOf` for those left out) and its images. */
export interface HashableListing extends ListingFieldsInput {
  images: ReadonlyArray<{ path: string; contentHash: string }>;
}

/**
 * Identity of a listing's content: its fields plus the hashes (and paths) of its images.
 * Same hash = nothing to do on re-ingest; the model version is compared separately.
 *
 * Catalogs store this hash: changing what goes in (a field, a default, a spelling) makes
 * every existing listing look changed and re-index. `fields` is typed as the listing's
 * fields, so a field added to ListingFieldsSchema fails to compile here until the hash
 * decides about it; its defaults are those of listingFieldsOf (written out here, not
 * imported: rows.ts hashes, and listing.ts reads its limits from rows.ts).
 */
export function productHash(listing: HashableListing): string {
  const fields: ListingFields = {
    id: listing.id,
    title: listing.title,
    description: listing.description ?? '',
    price: listing.price ?? null,
    currency: listing.currency ?? null,
    category: listing.category ?? null,
    attributes: listing.attributes ?? {},
  };
  // Fields added after catalogs stored hashes (category) are left out while null, so a
  // listing without them hashes as it did before they existed (canonicalJson drops undefined).
  const hashed = { ...fields, category: fields.category ?? undefined };
  return sha256(canonicalJson({ ...hashed, images: listing.images.map((image) => [image.path, image.contentHash]) }));
}
