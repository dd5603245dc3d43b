// Calls to the groknet API. Every failure becomes an ApiError with the server's stable code,
// so the page can say what happened in words (messages.ts) and react (ask for the key).
import type { AnalyzeResponse, CatalogSummary, ListResponse, Product, SearchBody, SearchResponse, SeenTogetherResponse, ShopTheLookResponse, SuggestedListing } from './types.ts';

const KEY_STORAGE = 'groknet.apiKey';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('network', "Can't reach the server", 0);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(error?.code ?? 'internal', error?.message ?? `HTTP ${response.status}`, response.status);
  }
  return body as T;
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function authHeaders(): Record<string, string> {
  const key = storedKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

export function analyze(photo: File): Promise<AnalyzeResponse> {
  const form = new FormData();
  form.append('image', photo);
  return call('/v1/analyze', { method: 'POST', body: form });
}

export interface PublishFields {
  title: string;
  description: string;
  price: string;
  currency: string;
  /** The seller's category ('' for none): a listing field of its own, filtered and counted in facets. */
  category: string;
  attributes: Record<string, string | string[]>;
  /** What /v1/analyze suggested for the photo and the form was filled with: sent so the catalog records what the seller kept. */
  suggested?: ShownSuggestions;
}

/** One photo's suggestions as POST /v1/products takes them (`suggested`, item 0 for the one photo). */
export interface ShownSuggestions {
  modelVersion: string;
  heads: Array<{ head: string; label: string; score: number }>;
}

/** With `garments`, the server also segments the photo and stores each garment (filters garment, garment_colour). */
export function publish(photo: File, fields: PublishFields, options: { garments: boolean } = { garments: false }): Promise<{ product: Product; listing: SuggestedListing }> {
  const form = new FormData();
  form.append('image', photo);
  form.append('title', fields.title);
  form.append('description', fields.description);
  form.append('price', fields.price);
  form.append('currency', fields.currency);
  form.append('category', fields.category);
  form.append('attributes', JSON.stringify(fields.attributes));
  if (fields.suggested && fields.suggested.heads.length > 0) form.append('suggested', JSON.stringify([fields.suggested]));
  return call(`/v1/products${options.garments ? '?garments=true' : ''}`, { method: 'POST', body: form, headers: authHeaders() });
}

export function search(body: SearchBody): Promise<SearchResponse> {
  return call('/v1/search', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
}

/** Each garment of an outfit photo with the products like it; `matchColour` keeps each to its own colour. */
export function shopTheLook(photo: File, options: { matchColour: boolean; k?: number }): Promise<ShopTheLookResponse> {
  const form = new FormData();
  form.append('image', photo);
  form.append('matchColour', String(options.matchColour));
  if (options.k !== undefined) form.append('k', String(options.k));
  return call('/v1/shop-the-look', { method: 'POST', body: form });
}

/** How many products the catalog has, and the model: cheap, no search. */
export function catalogSummary(): Promise<CatalogSummary> {
  return call('/v1/catalog');
}

export function product(id: string): Promise<Product> {
  return call(`/v1/products/${encodeURIComponent(id)}`);
}

export function similar(id: string, k = 24): Promise<ListResponse> {
  return call(`/v1/products/${encodeURIComponent(id)}/similar?k=${k}`);
}

export function seenTogether(id: string, k = 12): Promise<SeenTogetherResponse> {
  return call(`/v1/products/${encodeURIComponent(id)}/seen-together?k=${k}`);
}

/** A file as base64 (without the data: prefix), for the JSON search body. */
export function fileToBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(new ApiError('not_an_image', 'The file could not be read', 0));
    reader.readAsDataURL(file);
  });
}
