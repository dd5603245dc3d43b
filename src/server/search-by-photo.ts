// Search by a photo, or by one region of it: the region is cut from the photo and analysed
// through the inference queue (batched with other requests, bounded: 429 when full, 504
// past the deadline); the search service is then asked with its embedding. POST
// /v1/search with an image (and a region) and POST /v1/shop-the-look (one region per
// garment) share this one path.
import type { ImageLimits } from '../image/limits.ts';
import { cropToRegion, type Region } from './image-input.ts';
import type { InferenceQueue } from './inference-queue.ts';

/** The embedding of the photo, or of the region of it. */
export async function photoEmbedding(queue: InferenceQueue, limits: ImageLimits, photo: Buffer, region?: Region): Promise<Float32Array> {
  const bytes = region ? await cropToRegion(photo, region, limits) : photo;
  return (await queue.analyze(bytes)).embedding;
}
