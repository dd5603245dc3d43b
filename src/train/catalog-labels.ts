// The training set a catalog's own labels make: every listing whose field (`category`, or
// `attributes.NAME`) holds a label gives its images that label. The checks a seller's labels
// need before a head is trained on them (coverage, classes, examples per class, one label per
// image), the split into train and held-out by product (never one product, nor two products
// sharing a photo, on both sides), and the JSONL the `jsonl` dataset adapter reads.
import path from 'node:path';
import { openCatalog } from '../catalog/open.ts';
import { readManifest as readCatalogManifest } from '../catalog/manifest.ts';
import { LISTING_FIELD_NAMES } from '../catalog/listing.ts';
import type { Product } from '../catalog/types.ts';
import { GroknetError } from '../errors.ts';
import { writeAtomic } from '../model/cache.ts';
import { hashSplit } from './datasets/split.ts';

/** Fewer listings than this for a class: the class is dropped (or, with fewer than two classes left, the labels refused). */
export const MIN_LISTINGS_PER_CLASS = 5;
/** At least this share of the listings must have the field, or the field is not a label source. */
export const MIN_LABELLED_SHARE = 0.5;
/** Share of the labelled images that may carry two labels (left out) before the field is refused. */
export const MAX_CONFLICT_SHARE = 0.02;
/** Share of products (groups of products sharing photos) held out for evaluation and calibration. */
export const HELD_OUT_FRACTION = 0.2;

/** Top-level listing fields that may hold a label (the others are free text, numbers or ids). */
const LABEL_FIELDS = ['category'] as const;

export interface CatalogLabelRow {
  productId: string;
  /** Absolute path of the image as the catalog stored it. */
  path: string;
  /** sha256 of the image bytes the catalog analysed (the feature cache's key). */
  contentHash: string;
  label: string;
  split: 'train' | 'val';
}

export interface CatalogLabels {
  catalog: string;
  field: string;
  /** Class names, sorted; a row's class index is its label's place here. */
  labels: string[];
  /** One row per distinct image (an image several listings share, with one label, appears once). */
  rows: CatalogLabelRow[];
  listings: number;
  labelledListings: number;
  /** Listings per kept class. */
  listingsPerClass: Record<string, number>;
  /** Classes below MIN_LISTINGS_PER_CLASS, with their listing counts. */
  droppedClasses: Record<string, number>;
  warnings: string[];
}

export interface CatalogLabelsOptions {
  minListingsPerClass?: number;
  minLabelledShare?: number;
  heldOutFraction?: number;
}

/** Reads a field of a listing: `category` (a top-level field, once the schema has it) or `attributes.NAME`. */
export function fieldAccessor(field: string): (product: Product) => unknown {
  const attribute = /^attributes\.(.+)$/.exec(field);
  if (attribute) {
    const name = attribute[1]!;
    return (product) => product.attributes[name];
  }
  const known = (LISTING_FIELD_NAMES as readonly string[]).includes(field) && (LABEL_FIELDS as readonly string[]).includes(field);
  if (!known) {
    const topLevel = LABEL_FIELDS.filter((name) => (LISTING_FIELD_NAMES as readonly string[]).includes(name));
    throw new GroknetError('invalid_argument', `unknown label field '${field}': use ${[...topLevel, 'attributes.NAME'].join(' or ')}`);
  }
  return (product) => (product as unknown as Record<string, unknown>)[field];
}

/** A field's value as a label: a non-empty string (numbers and booleans as text); undefined when the listing has none. */
function labelOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Every product of the catalog at `dir` (which must exist), in id order. */
export async function readCatalogProducts(dir: string): Promise<Product[]> {
  const catalogDir = path.resolve(dir);
  if (!(await readCatalogManifest(catalogDir))) throw new GroknetError('file_not_found', `no catalog in ${catalogDir}`);
  const store = await openCatalog(catalogDir);
  try {
    const products: Product[] = [];
    const page = 1000;
    for (let offset = 0; ; offset += page) {
      const batch = await store.listProducts({ offset, limit: page });
      products.push(...batch);
      if (batch.length < page) break;
    }
    return products;
  } finally {
    await store.close();
  }
}

/** The labelled, checked and split training set of the catalog at `catalogDir` for `field`. */
export async function catalogLabels(catalogDir: string, field: string, options: CatalogLabelsOptions = {}): Promise<CatalogLabels> {
  const read = fieldAccessor(field);
  const products = await readCatalogProducts(catalogDir);
  return labelsFromProducts(path.resolve(catalogDir), field, products, read, options);
}

export function labelsFromProducts(catalog: string, field: string, products: readonly Product[], read: (product: Product) => unknown, options: CatalogLabelsOptions = {}): CatalogLabels {
  const minPerClass = options.minListingsPerClass ?? MIN_LISTINGS_PER_CLASS;
  const minShare = options.minLabelledShare ?? MIN_LABELLED_SHARE;
  const warnings: string[] = [];
  const labelled = products.flatMap((product) => {
    const label = labelOf(read(product));
    return label === undefined || product.images.length === 0 ? [] : [{ product, label }];
  });
  if (products.length === 0) throw new GroknetError('invalid_labels', `the catalog ${catalog} has no listings`);
  if (labelled.length === 0 || labelled.length < minShare * products.length) {
    throw new GroknetError(
      'invalid_labels',
      `'${field}' is empty for most listings: ${labelled.length} of ${products.length} have it (at least ${Math.round(minShare * 100)}% must)`,
    );
  }

  const perClass = new Map<string, number>();
  for (const { label } of labelled) perClass.set(label, (perClass.get(label) ?? 0) + 1);
  if (perClass.size < 2) {
    throw new GroknetError('invalid_labels', `'${field}' has a single class ('${[...perClass.keys()][0]}', ${labelled.length} listings): a classifier needs at least two`);
  }
  const kept = [...perClass].filter(([, n]) => n >= minPerClass).map(([label]) => label).sort();
  const dropped = Object.fromEntries([...perClass].filter(([, n]) => n < minPerClass).sort(([a], [b]) => a.localeCompare(b)));
  const droppedText = Object.entries(dropped).map(([label, n]) => `'${label}' (${n})`).join(', ');
  if (kept.length < 2) {
    throw new GroknetError(
      'invalid_labels',
      `'${field}' has ${kept.length} class${kept.length === 1 ? '' : 'es'} with at least ${minPerClass} listings (${[...perClass].map(([l, n]) => `'${l}' ${n}`).join(', ')}): a classifier needs at least two`,
    );
  }
  if (droppedText) warnings.push(`classes with fewer than ${minPerClass} listings dropped: ${droppedText}`);
  const usable = labelled.filter(({ label }) => kept.includes(label));

  // One label per image: the same photo (content hash) labelled two ways cannot be learnt. A
  // few such photos (two sellers' copies of one stock photo) are left out with a warning;
  // more than MAX_CONFLICT_SHARE of them says the field is not a label, and is refused.
  const labelOfHash = new Map<string, { label: string; productId: string }>();
  const conflicts = new Map<string, string>();
  for (const { product, label } of usable) {
    for (const image of product.images) {
      const seen = labelOfHash.get(image.contentHash);
      if (seen && seen.label !== label && !conflicts.has(image.contentHash)) {
        conflicts.set(image.contentHash, `content hash ${image.contentHash.slice(0, 12)}: '${seen.label}' on listing '${seen.productId}', '${label}' on listing '${product.id}'`);
      }
      if (!seen) labelOfHash.set(image.contentHash, { label, productId: product.id });
    }
  }
  if (conflicts.size > 0) {
    const examples = [...conflicts.values()].slice(0, 3).join('; ');
    if (conflicts.size > MAX_CONFLICT_SHARE * labelOfHash.size) {
      throw new GroknetError('invalid_labels', `conflicting labels for ${conflicts.size} of ${labelOfHash.size} images (at most ${MAX_CONFLICT_SHARE * 100}% may conflict): ${examples}`);
    }
    warnings.push(`${conflicts.size} image${conflicts.size === 1 ? '' : 's'} labelled two ways left out (${examples})`);
  }

  const splitOf = productSplits(usable.map(({ product }) => product), options.heldOutFraction ?? HELD_OUT_FRACTION);
  const rows: CatalogLabelRow[] = [];
  const emitted = new Set<string>();
  for (const { product, label } of usable) {
    for (const image of product.images) {
      if (emitted.has(image.contentHash) || conflicts.has(image.contentHash)) continue;
      emitted.add(image.contentHash);
      rows.push({ productId: product.id, path: image.path, contentHash: image.contentHash, label, split: splitOf.get(product.id)! });
    }
  }
  const listingsPerClass = Object.fromEntries(kept.map((label) => [label, perClass.get(label)!]));
  return { catalog, field, labels: kept, rows, listings: products.length, labelledListings: labelled.length, listingsPerClass, droppedClasses: dropped, warnings };
}

/**
 * Train or held-out per product: products that share a photo form one group (union-find over
 * content hashes), and a group's side is a hash of its smallest product id, so a photo never
 * lands on both sides and the same catalog always splits the same way.
 */
export function productSplits(products: readonly Product[], heldOutFraction: number): Map<string, 'train' | 'val'> {
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(id, root);
    return root;
  };
  const union = (a: string, b: string): void => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  const ownerOfHash = new Map<string, string>();
  for (const product of products) parent.set(product.id, product.id);
  for (const product of products) {
    for (const image of product.images) {
      const owner = ownerOfHash.get(image.contentHash);
      if (owner) union(owner, product.id);
      else ownerOfHash.set(image.contentHash, product.id);
    }
  }
  return new Map(products.map((product) => [product.id, hashSplit(`product:${find(product.id)}`, heldOutFraction)]));
}

/**
 * Writes the training set as JSONL for the `jsonl` dataset adapter: one line per image with
 * its path relative to the file's folder, its label, its split (by product, as `train --catalog`
 * splits) and its source listing. The adapter reads only images below the file's folder, so
 * the file must be written in a folder above every image.
 */
export async function writeLabelsJsonl(set: CatalogLabels, out: string): Promise<{ lines: number }> {
  const root = path.dirname(path.resolve(out));
  const lines = set.rows.map((row) => {
    const relative = path.relative(root, row.path);
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new GroknetError('path_outside_root', `image ${row.path} of listing '${row.productId}' is not below ${root}, where the dataset file goes: write it in a folder above every image (e.g. ${commonFolder(set.rows.map((r) => r.path))})`);
    }
    return JSON.stringify({ image: relative.split(path.sep).join('/'), label: row.label, split: row.split, source: `catalog:${set.catalog}#${row.productId}`, field: set.field });
  });
  await writeAtomic(path.resolve(out), lines.length > 0 ? `${lines.join('\n')}\n` : '');
  return { lines: lines.length };
}

function commonFolder(files: readonly string[]): string {
  let common = path.dirname(files[0] ?? path.sep);
  for (const file of files) while (common !== path.dirname(common) && !file.startsWith(common + path.sep)) common = path.dirname(common);
  return common;
}
