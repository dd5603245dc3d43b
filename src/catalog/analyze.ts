// Runs the analyzer over image bytes, once per distinct content hash: the same photo used by
// several listings, or already analysed earlier, costs nothing the second time.

import { GroknetError, toGroknetError } from '../errors.ts';
import type { Analysis, Analyzer } from '../model/types.ts';
import type { ImageBytes } from './image-file.ts';

export async function analyzeDistinct(
  analyzer: Analyzer,
  images: readonly ImageBytes[],
  known: ReadonlyMap<string, Analysis>,
): Promise<Map<string, Analysis | GroknetError>> {
  const results = new Map<string, Analysis | GroknetError>(known);
  const todo = new Map<string, Buffer>();
  for (const image of images) {
    if (!results.has(image.contentHash)) todo.set(image.contentHash, image.bytes);
  }
  if (todo.size === 0) return results;
  const hashes = [...todo.keys()];
  let analyses: Array<Analysis | GroknetError>;
  try {
    analyses = await analyzer.analyzeBuffers([...todo.values()]);
  } catch (error) {
    // A whole-batch failure is reported per image, so one bad batch never aborts an ingest.
    const failure = toGroknetError(error);
    for (const hash of hashes) results.set(hash, failure);
    return results;
  }
  hashes.forEach((hash, i) => {
    const analysis = analyses[i];
    if (analysis === undefined) results.set(hash, new GroknetError('internal', 'analyzer returned too few results'));
    else if (analysis instanceof GroknetError) results.set(hash, analysis);
    else if (analysis.modelVersion !== analyzer.modelVersion) {
      results.set(hash, new GroknetError('model_mismatch', `analyzer reported ${analysis.modelVersion}`));
    } else results.set(hash, analysis);
  });
  return results;
}
