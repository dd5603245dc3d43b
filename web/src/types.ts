// The API shapes the page uses (the server's OpenAPI document at /openapi.json has them all).
// Written by hand (the page's bundle does not take Zod), and checked against the server's
// response schemas at compile time by test/web/api-types.check.ts: change both together.

export interface ListingField {
  value: string;
  score: number;
  abstain: boolean;
  head: string;
  /** For colour: 'pixels' where it was measured from the photo rather than learned. */
  source?: 'model' | 'pixels';
}

export interface SuggestedListing {
  category: (ListingField & { path: string[] }) | null;
  colour: ListingField | null;
  attributes: Record<string, ListingField>;
  tags: ListingField[];
  title: { value: string; score: number; abstain: boolean };
}

export interface AnalyzeResponse {
  modelVersion: string;
  code: string;
  listing: SuggestedListing;
}

export interface ProductImage {
  index: number;
  /** Where the photo is served (/v1/images/NAME or /v1/products/ID/images/INDEX); it may answer 404 (a file gone since indexing). Null: no URL known. */
  url: string | null;
  /** Top label of each single-label head, e.g. { clothing: 'Dress', colour: 'blue' }. */
  labels: Record<string, string>;
  code: string;
  /** Absent when the photo was not segmented. */
  garments?: Array<{ label: string; colour: string | null; areaShare: number }>;
}

/** GET /v1/products/:id, and the product POST /v1/products answers. */
export interface Product {
  id: string;
  title: string;
  description: string;
  price: number | null;
  currency: string | null;
  /** The seller's own category; null when none was given. */
  category: string | null;
  /** Seller-given attributes (colour, tags, ...): strings or lists of strings. */
  attributes: Record<string, unknown>;
  modelVersion: string;
  images: ProductImage[];
}

export type MatchKind = 'exact' | 'similar' | 'text' | 'filter';

export interface SearchHit {
  id: string;
  score: number;
  match: MatchKind;
  why: string[];
  title: string;
  image: string | null;
  price: number | null;
  currency: string | null;
}

export type Facets = Record<string, Array<{ value: string; count: number }>>;

export interface SearchResponse {
  results: SearchHit[];
  facets: Facets;
  /** What the answer could not use (a style word the model has no labels for). */
  notes?: string[];
}

/** GET /v1/catalog. */
export interface CatalogSummary {
  products: number;
  model: { name: string; version: string };
  /** Head -> what a person calls it (model.json `title`). */
  fields: Record<string, string>;
}

export interface ListResponse {
  productId: string;
  results: SearchHit[];
}

/** A product photographed together with another one, `count` photos so far. */
export interface SeenTogetherItem {
  id: string;
  title: string;
  image: string | null;
  price: number | null;
  currency: string | null;
  count: number;
  lastSeen: string;
}

export interface SeenTogetherResponse {
  productId: string;
  results: SeenTogetherItem[];
  /** Set when the server does not detect products (so nothing gets linked). */
  note?: string;
}

/** A garment of an outfit photo (POST /v1/shop-the-look), with the catalog products like it. */
export interface LookGarment {
  label: string;
  /** [x, y, width, height] in pixels of the upright photo. */
  box: number[];
  areaShare: number;
  colour: string | null;
  colourShare: number;
  /** The filters its search used, e.g. { colour: 'red' } when colours were matched. */
  filters: Record<string, string>;
  results: SearchHit[];
}

export interface ShopTheLookResponse {
  width: number;
  height: number;
  matchColour: boolean;
  garments: LookGarment[];
}

export type FilterCondition = string | { gte?: number; lt?: number };

export interface SearchBody {
  text?: string;
  image?: string;
  filters?: Record<string, FilterCondition>;
  k?: number;
}
