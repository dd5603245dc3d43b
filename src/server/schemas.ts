// Zod schemas shared by several routes. Registered ids become named components in the
// OpenAPI document.
import { z } from 'zod';
import { FEEDBACK_OUTCOMES } from '../catalog/feedback-types.ts';
import { MAX_ID_LENGTH } from '../catalog/rows.ts';
import { ListingIdSchema, type ListingFieldName, type ListingFields } from '../catalog/listing.ts';

export { MAX_ID_LENGTH };

/** What a yes/no query-string or form field takes: true/1 or false/0; anything else is a 400 naming the field. */
const FLAG_VALUES = ['true', 'false', '1', '0'] as const;
const isYes = (value: (typeof FLAG_VALUES)[number]): boolean => value === 'true' || value === '1';

/** A yes/no field as a boolean; `.optional()` keeps an absent one undefined (a form field then still counts). */
export const FlagSchema = z.enum(FLAG_VALUES).transform(isYes);

/** A yes/no field that is `whenAbsent` when not given. */
export function flagDefaulting(whenAbsent: boolean) {
  return z
    .enum(FLAG_VALUES)
    .optional()
    .transform((value) => (value === undefined ? whenAbsent : isYes(value)));
}

export const LabelScoreSchema = z.object({ label: z.string(), score: z.number() });

export const HeadResultSchema = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('single'),
      top: z.array(LabelScoreSchema),
      abstain: z.boolean().optional(),
      source: z.enum(['model', 'pixels']).optional().meta({ description: "How the answer was reached: learned by the model (for colour: its colour head blended with its classifier of the photo's colour histograms), or measured from the photo's pixels by the palette (colour outside the verticals its head learned)" }),
      outOfVertical: z.boolean().optional().meta({ description: 'The head describes another kind of product than the photo shows (the `vertical` head is sure): abstained for that reason' }),
    }),
    z.object({ kind: z.literal('multi'), labels: z.array(LabelScoreSchema), outOfVertical: z.boolean().optional() }),
  ])
  .meta({ id: 'HeadResult' });

export const ListingFieldSchema = z
  .object({
    value: z.string(),
    score: z.number(),
    abstain: z.boolean().meta({ description: 'The model is not sure: ask the seller' }),
    head: z.string(),
    source: z.enum(['model', 'pixels']).optional().meta({ description: "For colour: learned by the model (its colour head blended with its colour-histogram classifier), or measured from the photo's pixels by the palette" }),
  })
  .meta({ id: 'ListingField' });

export const SuggestedListingSchema = z
  .object({
    category: ListingFieldSchema.extend({ path: z.array(z.string()) }).nullable(),
    colour: ListingFieldSchema.nullable(),
    attributes: z.record(z.string(), ListingFieldSchema),
    tags: z.array(ListingFieldSchema),
    title: z.object({ value: z.string(), score: z.number(), abstain: z.boolean() }),
  })
  .meta({ id: 'SuggestedListing' });

export const ProductImageSchema = z.object({
  index: z.number().int(),
  url: z.string().nullable().meta({ description: 'Where the photo is served: `/v1/images/NAME` for a photo uploaded through the API, `/v1/products/ID/images/INDEX` for one indexed from a file (`groknet index`)' }),
  labels: z.record(z.string(), z.string()),
  code: z.string(),
  garments: z
    .array(z.object({ label: z.string(), colour: z.string().nullable(), areaShare: z.number() }))
    .optional()
    .meta({ description: 'Garments found in the photo at indexing time (`groknet index --garments`), largest first; absent when it was not segmented' }),
});

/**
 * A listing's fields as the API answers them: one per field of src/catalog/listing.ts, of its
 * type (`satisfies` fails to compile when the two differ). Plain types, not the input
 * limits: an answer is what the catalog holds.
 */
const ListingFieldsAnswer = {
  id: z.string(),
  title: z.string(),
  description: z.string(),
  price: z.number().nullable(),
  currency: z.string().nullable(),
  category: z.string().nullable().meta({ description: "The seller's own category (the marketplace's taxonomy, not the model's labels); null when none was given" }),
  attributes: z.record(z.string(), z.unknown()),
} satisfies { [K in ListingFieldName]: z.ZodType<ListingFields[K]> };

export const ProductSchema = z
  .object({
    ...ListingFieldsAnswer,
    modelVersion: z.string(),
    images: z.array(ProductImageSchema),
  })
  .meta({ id: 'Product' });

/** Longest product id the catalog takes (`groknet index` ids come from file names). */
/** A product id a client chooses (`id` of POST /v1/products): the same rule as `groknet index`'s ids. */
export const ClientProductIdSchema = ListingIdSchema;

/** The query string of an API route that takes no parameters there: any is refused, not ignored. */
export const NoQuerySchema = z.strictObject({});

export const ProductIdParams = z.strictObject({
  id: z.string().min(1).max(MAX_ID_LENGTH, `at most ${MAX_ID_LENGTH} characters`).meta({ description: `Product id (1 to ${MAX_ID_LENGTH} characters, URL-encoded)` }),
});

export const SearchHitSchema = z
  .object({
    id: z.string(),
    score: z.number(),
    match: z.enum(['exact', 'similar', 'text', 'filter']).meta({
      description: 'exact: the same product (image similarity above the calibrated threshold, claimed only where the model is sure the photo and the product share the labels it was calibrated on, or for the same photo re-encoded); similar: looks alike; text: matched words; filter: matched only by labels or filters',
    }),
    why: z.array(z.string()).meta({ description: 'Why this result matched, in words' }),
    title: z.string(),
    image: z.string().nullable().meta({ description: 'URL of the best-matching image (as `images[].url` of a product); null when the search did not say which image it was' }),
    price: z.number().nullable(),
    currency: z.string().nullable(),
  })
  .meta({ id: 'SearchHit' });

export const FacetsSchema = z
  .record(z.string(), z.array(z.object({ value: z.string(), count: z.number().int() })))
  .meta({ id: 'Facets', description: 'Counts of each value per filterable field, over the matching products' });

export const DetectedProductSchema = z
  .object({
    box: z.array(z.number()).length(4).meta({ description: '[x, y, width, height] in pixels of the upright photo' }),
    class: z.string().meta({ description: 'COCO class the detector saw, e.g. handbag, bottle, person' }),
    vertical: z.string().nullable().meta({ description: 'Product vertical of the class (fashion, grocery, ...); null for a person, who holds the garments' }),
    score: z.number(),
    analysis: z.object({
      heads: z.record(z.string(), HeadResultSchema),
      embedding: z.array(z.number()).optional(),
      code: z.string(),
    }),
  })
  .meta({ id: 'DetectedProduct' });

export const SeenTogetherItemSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    image: z.string().nullable().meta({ description: "URL of the product's first image (as `images[].url` of a product)" }),
    price: z.number().nullable(),
    currency: z.string().nullable(),
    count: z.number().int().meta({ description: 'Photos the two products were seen in together' }),
    lastSeen: z.string().meta({ description: 'When the pair was last recorded (ISO 8601)' }),
  })
  .meta({ id: 'SeenTogetherItem' });

export const GarmentSchema = z
  .object({
    label: z.string().meta({ description: 'Garment label of the segmentation model, e.g. dress, jeans, shoes' }),
    box: z.array(z.number().int()).length(4).meta({ description: "[x, y, width, height] of the garment's mask, in pixels of the upright photo" }),
    areaShare: z.number().meta({ description: 'Share of the photo the garment covers' }),
    colour: z.string().nullable().meta({ description: "Basic colour name of the garment's own pixels (the palette of the catalog's colour attribute); null when none could be measured" }),
    colourShare: z.number().meta({ description: "Share of the garment's pixels that have that colour" }),
  })
  .meta({ id: 'Garment' });

/** Most suggestions one photo may carry: a model has a handful of heads, each tag list a few labels. */
export const MAX_SUGGESTIONS_PER_PHOTO = 64;

/**
 * `suggested` of POST /v1/products: what POST /v1/analyze suggested for each photo (index i
 * for photo i; null for a photo the seller was shown nothing for). Checked against the
 * published photo's own analysis: a head it has, a label that head offered, the same model.
 */
export const SuggestedPhotosSchema = z
  .array(
    z
      .strictObject({
        modelVersion: z.string().min(1).max(200).meta({ description: '`modelVersion` of the /v1/analyze answer' }),
        heads: z
          .array(
            z.strictObject({
              head: z.string().min(1).max(64).meta({ description: 'The head of a suggested field (`listing.category.head`, `listing.colour.head`, `listing.attributes.*.head`, `listing.tags[].head`)' }),
              label: z.string().min(1).max(200).meta({ description: "The field's suggested value" }),
              score: z.number().min(0).max(1),
            }),
          )
          .max(MAX_SUGGESTIONS_PER_PHOTO),
      })
      .nullable(),
  )
  .min(1)
  .max(100)
  .meta({ id: 'SuggestedPhotos' });

export const ImageFeedbackSchema = z
  .object({
    image: z.number().int().meta({ description: "The photo's index in the product" }),
    modelVersion: z.string(),
    suggestions: z.array(
      z.object({
        head: z.string(),
        label: z.string().meta({ description: 'What the model suggested' }),
        score: z.number().meta({ description: "The head's score for the label on the published photo" }),
        field: z.string().meta({ description: 'The listing field the head fills: `category` or `attributes.NAME`' }),
        outcome: z.enum(FEEDBACK_OUTCOMES).meta({ description: 'accepted: the seller kept the label; corrected: changed it (to `final`); dropped: left the field empty' }),
        final: z.string().nullable().meta({ description: "The field's value as published; null when dropped" }),
      }),
    ),
  })
  .meta({ id: 'ImageFeedback' });
