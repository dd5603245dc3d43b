// assertCompatible: a catalog holds the embeddings of one model; another model's cannot be
// compared with them, so writers and readers that bring their own analyzer check it first.

import { GroknetError } from '../errors.ts';
import type { Analyzer } from '../model/types.ts';
import type { CatalogStore } from './types.ts';

export async function assertCompatible(catalog: CatalogStore, analyzer: Analyzer): Promise<void> {
  const info = await catalog.info();
  if (info.embeddingDim !== analyzer.embeddingDim) {
    throw new GroknetError('model_mismatch', `catalog has ${info.embeddingDim}-d embeddings, analyzer ${analyzer.embeddingDim}-d`);
  }
  if (info.modelVersion !== undefined && info.modelVersion !== analyzer.modelVersion) {
    throw new GroknetError('model_mismatch', `catalog holds ${info.modelVersion}, analyzer is ${analyzer.modelVersion}`);
  }
}
