// A listing's own fields (what the seller wrote), defined once: the sources (CSV, JSONL,
// folders) parse them with this schema, the catalog's types extend them, the content hash
// covers exactly them, reindex carries them over and the API's product view shows them.
// Adding a field here makes each of those fail to compile until it says what to do with it.
import { z } from 'zod';

/** Longest product id: file names make ids, and 256 fits any path segment a filesystem allows. */
export const MAX_ID_LENGTH = 256;

/** A listing's id: the one rule for ids from sources, the API (`id` on publish) and the catalog (rows.ts). */
export const ListingIdSchema = z
  .string()
  .trim()
  .min(1, 'id is required')
  .max(MAX_ID_LENGTH, `at most ${MAX_ID_LENGTH} characters`)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'id has control characters');

/** Longest category: a seller's taxonomy path ("Home > Living room > Sofas") fits, a paragraph does not. */
export const MAX_CATEGORY_LENGTH = 200;

/**
 * The seller's own category (the marketplace's taxonomy, not the model's labels): trimmed,
 * and null when absent or blank, so "" and "  " mean no category as leaving it out does.
 */
export const CategorySchema = z
  .string()
  .trim()
  .max(MAX_CATEGORY_LENGTH, `at most ${MAX_CATEGORY_LENGTH} characters`)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'category has control characters')
  .nullable()
  .transform((value) => (value === null || value === '' ? null : value));

export const ListingFieldsSchema = z.object({
  id: ListingIdSchema,
  title: z.string().max(500),
  description: z.string().max(20_000),
  price: z.number().nonnegative().nullable(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be a 3-letter code').nullable(),
  category: CategorySchema,
  /** Seller-supplied attributes, stored as JSON. */
  attributes: z.record(z.string(), z.unknown()),
});

export type ListingFields = z.output<typeof ListingFieldsSchema>;
export type ListingFieldName = keyof ListingFields;

/** The field names, in the schema's order (a CSV column or JSONL key by one of these names is that field). */
export const LISTING_FIELD_NAMES: readonly ListingFieldName[] = ListingFieldsSchema.keyof().options;

/** The fields as writers may give them: id and title, the rest defaulting as `listingFieldsOf` says. */
export type ListingFieldsInput = Pick<ListingFields, 'id' | 'title'> & Partial<Omit<ListingFields, 'id' | 'title'>>;

/**
 * Exactly the listing's fields of `value` (nothing else it carries), defaults filled in: no
 * description is '', no price, currency or category null, no attributes {}. The same defaults the
 * content hash applies (src/catalog/hash.ts), so a product read back hashes as it was written.
 */
export function listingFieldsOf(value: ListingFieldsInput): ListingFields {
  return {
    id: value.id,
    title: value.title,
    description: value.description ?? '',
    price: value.price ?? null,
    currency: value.currency ?? null,
    category: value.category ?? null,
    attributes: value.attributes ?? {},
  };
}
