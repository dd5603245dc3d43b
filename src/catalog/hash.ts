// Content hashes: what makes ingest idempotent and queue job ids stable.

import { createHash } from 'node:crypto';

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

export interface HashableListing {
  id: string;
  title: string;
  description?: string;
  price?: number | null;
  currency?: string | null;
  attributes?: Record<string, unknown>;
  images: ReadonlyArray<{ path: string; contentHash: string }>;
}

/**
 * Identity of a listing's content: its fields plus the hashes (and paths) of its images.
 * Same hash = nothing to do on re-ingest; the model version is compared separately.
 */
export function productHash(listing: HashableListing): string {
  return sha256(
    canonicalJson({
      id: listing.id,
      title: listing.title,
      description: listing.description ?? '',
      price: listing.price ?? null,
      currency: listing.currency ?? null,
      attributes: listing.attributes ?? {},
      images: listing.images.map((image) => [image.path, image.contentHash]),
    }),
  );
}
