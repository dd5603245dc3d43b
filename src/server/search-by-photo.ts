// Search by a photo, or by one region of it: the region is cut from the photo and analysed
// through the inference queue (batched with other requests, bounded: 429 when full, 504
// past the deadline); the search service is then asked with its embedding. POST
// /v1/search with an image (and a region) takes this path; POST /v1/shop-the-look (one
// region per garment) takes the same steps through src/pipelines/shop-the-look-catalog.ts.
import { cropToRegion, type CropRegion } from '../image/crop.ts';
import type { ImageLimits } from '../image/limits.ts';
import { sureLabels } from '../search/search.ts';
import type { InferenceQueue } from './inference-queue.ts';

/** The embedding of the photo, or of the region of it, with its sure labels (where "exact" may be claimed). */
export async function photoEmbedding(queue: InferenceQueue, limits: ImageLimits, photo: Buffer, region?: CropRegion): Promise<{ embedding: Float32Array; labels: Record<string, string> }> {
  const bytes = region ? await cropToRegion(photo, region, limits) : photo;
  const analysis = await queue.analyze(bytes);
  return { embedding: analysis.embedding, labels: sureLabels(analysis) };
}
