// The web page's hand-written API types (web/src/types.ts) against the server's Zod response
// schemas, at compile time. The page cannot import the schemas (its bundle would pull in Zod
// and its tsconfig has no Node types), so this file holds them side by side: when a field is
// added, dropped, renamed or retyped on one side only, `npx tsc -p .` fails here, and so
// does test/web/api-types.test.ts, which compiles this file alone.
import type { z } from 'zod';
import type { AnalyzeResponseSchema } from '../../src/server/routes/analyze.ts';
import type { CatalogSummarySchema } from '../../src/server/routes/catalog.ts';
import type { ShopTheLookResponseSchema } from '../../src/server/routes/shop-the-look.ts';
import type {
  FacetsSchema,
  ListingFieldSchema,
  ProductImageSchema,
  ProductSchema,
  SearchHitSchema,
  SeenTogetherItemSchema,
  SuggestedListingSchema,
} from '../../src/server/schemas.ts';
import type * as Web from '../../web/src/types.ts';

type IsAny<T> = 0 extends 1 & T ? true : false;

/**
 * true when each type is assignable to the other: a missing, extra, renamed or retyped
 * field, or one optional on one side only, makes it false. (Mutual assignability rather
 * than identity: `A & { path }` and the flattened object Zod infers are the same shape.)
 * An `any` (a schema whose import broke) is never the same as anything.
 */
export type Same<A, B> = IsAny<A> extends true ? false : IsAny<B> extends true ? false : [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Compiles only when given `true`. */
export function expectSame<T extends true>(): T | void {}

type Answer<T extends z.ZodType> = z.output<T>;
type SearchHit = Answer<typeof SearchHitSchema>;
type LookAnswer = Answer<typeof ShopTheLookResponseSchema>;

expectSame<Same<Web.Product, Answer<typeof ProductSchema>>>();
expectSame<Same<Web.ProductImage, Answer<typeof ProductImageSchema>>>();
expectSame<Same<Web.ListingField, Answer<typeof ListingFieldSchema>>>();
expectSame<Same<Web.SuggestedListing, Answer<typeof SuggestedListingSchema>>>();
// The page reads only these fields of POST /v1/analyze.
expectSame<Same<Web.AnalyzeResponse, Pick<Answer<typeof AnalyzeResponseSchema>, 'modelVersion' | 'code' | 'listing'>>>();
expectSame<Same<Web.SearchHit, SearchHit>>();
expectSame<Same<Web.MatchKind, SearchHit['match']>>();
expectSame<Same<Web.Facets, Answer<typeof FacetsSchema>>>();
expectSame<Same<Web.SeenTogetherItem, Answer<typeof SeenTogetherItemSchema>>>();
expectSame<Same<Web.CatalogSummary, Answer<typeof CatalogSummarySchema>>>();
expectSame<Same<Web.ShopTheLookResponse, LookAnswer>>();
expectSame<Same<Web.LookGarment, LookAnswer['garments'][number]>>();
// The search routes' own response schemas are not exported (src/server/routes/search.ts):
// these check the page's answers as those schemas compose them from the shared parts.
expectSame<Same<Web.SearchResponse, { results: SearchHit[]; facets: Answer<typeof FacetsSchema> }>>();
expectSame<Same<Web.ListResponse, { productId: string; results: SearchHit[] }>>();
expectSame<Same<Web.SeenTogetherResponse, { productId: string; results: Answer<typeof SeenTogetherItemSchema>[]; note?: string }>>();
