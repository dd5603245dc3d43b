// Seen together: when a product is published, look for other catalog products in its
// photos. Each photo goes through detection (products cropped and analysed one by one);
// each crop is matched to its nearest catalog product, and kept when the similarity
// clears the model's exact-match threshold, i.e. the crop shows that very product. The
// products found in one photo, with the published product itself, are recorded as seen
// together (catalog/cooccurrence.ts counts the photos per pair).
//
// A crop at least as close to one of the published product's own photos as to any other
// listing shows that product itself, not a companion: it is left out. Comparing with the
// nearest other listing rather than with the threshold matters: a companion's crop is
// part of the product's photo and can be fairly similar to it, but its own listing is
// nearer; while the main subject of a photo ties with a duplicate listing of the same item,
// which is then not linked through it.
import type { CatalogStore, PhotoSighting } from '../catalog/types.ts';
import type { Detector } from '../detect/detector.ts';
import { GroknetError } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import { exactVerdict, sureLabels } from '../search/exact-match.ts';
import { nearestProduct } from '../search/nearest.ts';
import { detectProducts, type DetectedProduct } from './detect.ts';

export interface SeenTogetherOptions {
  catalog: CatalogStore;
  detector: Detector;
  /** Analyses the crops; must be the catalog's model, or embeddings cannot be compared. */
  analyzer: Analyzer;
  /** Cosine similarity from which a crop is the catalog product (default: analyzer.exactMatchThreshold). */
  threshold?: number;
  /** Detections scoring below this are ignored (detectProducts' default when unset). */
  minScore?: number;
}

export interface Photo {
  bytes: Buffer;
  /** sha256 of the bytes, hex: the photo's identity in the links. */
  contentHash: string;
}

/** A detected product matched to the catalog product it shows. */
export interface FoundProduct {
  photo: string;
  detected: DetectedProduct;
  productId: string;
  similarity: number;
}

export interface SeenTogetherResult {
  /** One per photo that could be searched, `productId` first in its products. */
  sightings: PhotoSighting[];
  /** Other catalog products found, crop by crop. */
  found: FoundProduct[];
  /** Photos detection could not read (bad bytes...); they add no links. */
  failed: Array<{ photo: string; error: GroknetError }>;
}

/** The catalog products found in the photos of `productId`, without writing anything. */
export async function findSeenTogether(productId: string, photos: readonly Photo[], options: SeenTogetherOptions): Promise<SeenTogetherResult> {
  const threshold = options.threshold ?? options.analyzer.exactMatchThreshold;
  const detected = await detectProducts(
    photos.map((p) => p.bytes),
    { detector: options.detector, analyzer: options.analyzer, ...(options.minScore === undefined ? {} : { minScore: options.minScore }) },
  );
  const own = await ownEmbeddings(options.catalog, productId);
  const ownSimilarity = (embedding: Float32Array): number => Math.max(-1, ...own.map((image) => cosine(image, embedding)));
  const result: SeenTogetherResult = { sightings: [], found: [], failed: [] };
  for (const [i, photo] of photos.entries()) {
    const products = detected[i];
    if (!products || products instanceof GroknetError) {
      result.failed.push({ photo: photo.contentHash, error: products ?? new GroknetError('internal', 'no detection result') });
      continue;
    }
    const inPhoto = new Set<string>([productId]);
    for (const product of products.products) {
      const nearest = await nearestProduct(options.catalog, product.analysis.embedding);
      if (!nearest || nearest.id === productId) continue;
      // The same rule as an `exact` search result: where the threshold was calibrated, or the same photo.
      const verdict = exactVerdict(nearest.similarity, nearest.labels, { threshold, heads: options.analyzer.exactMatchHeads, queryLabels: sureLabels(product.analysis) });
      if (verdict !== 'exact' && verdict !== 'same-photo') continue;
      // The float tolerance lets a tie (the same picture listed twice) count as the product itself.
      if (ownSimilarity(product.analysis.embedding) >= nearest.similarity - 1e-6) continue;
      if (!inPhoto.has(nearest.id)) result.found.push({ photo: photo.contentHash, detected: product, productId: nearest.id, similarity: nearest.similarity });
      inPhoto.add(nearest.id);
    }
    result.sightings.push({ photo: photo.contentHash, products: [...inPhoto] });
  }
  return result;
}

/** The stored embeddings of the product's photos; none when it is not in the catalog (yet). */
async function ownEmbeddings(catalog: CatalogStore, productId: string): Promise<Float32Array[]> {
  const product = await catalog.getProduct(productId, { withEmbeddings: true });
  return (product?.images ?? []).flatMap((image) => (image.embedding ? [image.embedding] : []));
}

/** Embeddings are L2-normalised: their dot product is the cosine similarity. */
function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * (b[i] ?? 0);
  return dot;
}

/** Finds what is in the photos of `productId` and records the links (replacing its earlier ones). */
export async function recordSeenTogether(productId: string, photos: readonly Photo[], options: SeenTogetherOptions): Promise<SeenTogetherResult & { pairs: number }> {
  const result = await findSeenTogether(productId, photos, options);
  const { pairs } = await options.catalog.recordSeenTogether(productId, result.sightings);
  return { ...result, pairs };
}
