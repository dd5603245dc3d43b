// Gives the ONNX graph of a packaged backbone exposing the requested tensors, converting
// it from the npm package's TF.js files on first use and caching it outside the repo.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cached, cacheKey } from '../cache.ts';
import { backboneSpec } from './registry.ts';

/** Bump when the converter's output changes, so old cached graphs are not reused. */
export const CONVERTER_VERSION = '1';

/** The installed version of a package (read by path: `exports` may block `name/package.json`). */
export function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  for (const base of require.resolve.paths(name) ?? []) {
    const file = path.join(base, name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  }
  return 'unknown';
}

export async function backboneOnnx(id: string, outputs: readonly string[]): Promise<{ bytes: Uint8Array; path: string; built: boolean }> {
  const spec = backboneSpec(id);
  const key = cacheKey(spec.id, packageVersion(spec.packageName), CONVERTER_VERSION, ...outputs);
  return cached(`backbones/${spec.id.replace(/\//g, '__')}-${key}.onnx`, async () => {
    // Loaded only when a conversion is needed: TF.js is slow to import and unused otherwise.
    const { loadPackagedTfjsModel } = await import('../tfjs/packaged-models.ts');
    const { convertTfjsGraphToOnnx } = await import('../convert/tfjs-to-onnx.ts');
    const model = await loadPackagedTfjsModel(spec.id);
    return convertTfjsGraphToOnnx(model, { outputs: [...outputs], dynamicBatch: true, inputSize: spec.input.size, name: spec.id });
  });
}
