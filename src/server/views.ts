// Catalog and search shapes -> the JSON the API returns: image paths become URLs of this
// server (/v1/images/NAME for uploads, /v1/products/ID/images/INDEX for photos indexed from
// files), embeddings stay out.
import type { z } from 'zod';
import { listingFieldsOf } from '../catalog/listing.ts';
import type { Product, SeenTogetherLink } from '../catalog/types.ts';
import { imageUrl, type ImageStore } from './image-store.ts';
import type { FacetsSchema, ProductSchema, SearchHitSchema, SeenTogetherItemSchema } from './schemas.ts';
import type { Facets, SearchResult } from '../search/types.ts';

/** A product as the API answers it: the type of its response schema, so the two cannot drift. */
export type ProductView = z.output<typeof ProductSchema>;
export type SearchHitView = z.output<typeof SearchHitSchema>;
export type SeenTogetherView = z.output<typeof SeenTogetherItemSchema>;
export type FacetsView = z.output<typeof FacetsSchema>;

/** Where a product's photo is served: an upload under its stored name, any other by product and index. */
export function productImageUrl(productId: string, index: number): string {
  return `/v1/products/${encodeURIComponent(productId)}/images/${index}`;
}

function urlOf(path: string, store: ImageStore, productId: string, index: number | undefined): string | null {
  const name = store.nameOf(path);
  if (name) return imageUrl(name);
  return index === undefined ? null : productImageUrl(productId, index);
}

export function productView(product: Product, store: ImageStore): ProductView {
  return {
    ...listingFieldsOf(product),
    modelVersion: product.modelVersion,
    images: product.images.map((image) => ({
      index: image.index,
      url: urlOf(image.path, store, product.id, image.index),
      labels: image.labels,
      code: image.code,
      ...(image.garments ? { garments: image.garments } : {}),
    })),
  };
}

export function hitView(result: SearchResult, store: ImageStore): SearchHitView {
  return hitShape(result, (imagePath) => urlOf(imagePath, store, result.id, result.imageIndex));
}

/** A search result as the API answers it, its image named by `image` (a URL; the CLI: the catalog's path). */
export function hitShape(result: SearchResult, image: (path: string) => string | null): SearchHitView {
  return {
    id: result.id,
    score: Math.round(result.score * 1e4) / 1e4,
    match: result.match,
    why: result.why,
    title: result.title,
    image: result.image ? image(result.image) : null,
    price: result.price,
    currency: result.currency,
  };
}

/** `{ colour: { red: 3 } }` -> `{ colour: [{ value: 'red', count: 3 }] }`, most frequent first. */
export function facetsView(facets: Facets): FacetsView {
  return Object.fromEntries(
    Object.entries(facets).map(([field, counts]) => [
      field,
      Object.entries(counts)
        .map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count),
    ]),
  );
}

export function seenTogetherView(product: Product, link: SeenTogetherLink, store: ImageStore): SeenTogetherView {
  const first = product.images[0];
  return {
    id: product.id,
    title: product.title,
    image: first ? urlOf(first.path, store, product.id, first.index) : null,
    price: product.price,
    currency: product.currency,
    count: link.count,
    lastSeen: new Date(link.updated).toISOString(),
  };
}
