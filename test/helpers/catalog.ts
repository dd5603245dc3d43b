// Builds analysed ProductInputs from image specs, for tests that write to the catalog directly.

import { sha256 } from '../../src/catalog/hash.ts';
import type { ProductInput } from '../../src/catalog/types.ts';
import type { Analysis, Analyzer } from '../../src/model/types.ts';
import { renderImage, type ImageSpec } from './images.ts';

export async function analysed(analyzer: Analyzer, spec: ImageSpec): Promise<{ bytes: Buffer; analysis: Analysis }> {
  const bytes = await renderImage(spec);
  const [result] = await analyzer.analyzeBuffers([bytes]);
  if (!result || result instanceof Error) throw result ?? new Error('no analysis');
  return { bytes, analysis: result };
}

export async function productFrom(
  analyzer: Analyzer,
  id: string,
  specs: ImageSpec[],
  fields: Partial<Omit<ProductInput, 'id' | 'images'>> = {},
): Promise<ProductInput> {
  const images = [];
  for (const [i, spec] of specs.entries()) {
    const { bytes, analysis } = await analysed(analyzer, spec);
    images.push({ path: `/virtual/${id}/${i}.png`, contentHash: sha256(bytes), analysis });
  }
  return { id, title: fields.title ?? `Product ${id}`, ...fields, images };
}
