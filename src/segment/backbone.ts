// The trunk converted for the segmentation input size. backboneOnnx() converts at the
// registry's 224x224; ONNX Runtime refuses other sizes for that graph, so the decoder's
// trunk is converted here with its own size and cached under its own key.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CONVERTER_VERSION } from '../model/backbones/convert-backbone.ts';
import { backboneSpec } from '../model/backbones/registry.ts';
import { cached, cacheKey } from '../model/cache.ts';

/** The installed version of a package (read by path: nsfwjs's `exports` hides its package.json). */
function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  for (const base of require.resolve.paths(name) ?? []) {
    const file = path.join(base, name, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  }
  return 'unknown';
}

export async function segmentBackboneOnnx(
  id: string,
  outputs: readonly string[],
  size: readonly [number, number],
): Promise<{ bytes: Uint8Array; path: string; built: boolean }> {
  const spec = backboneSpec(id);
  const key = cacheKey(spec.id, packageVersion(spec.packageName), CONVERTER_VERSION, `${size[0]}x${size[1]}`, ...outputs);
  return cached(`backbones/${spec.id.replace(/\//g, '__')}-${size[0]}x${size[1]}-${key}.onnx`, async () => {
    // Loaded only when a conversion is needed: TF.js is slow to import.
    const { loadPackagedTfjsModel } = await import('../model/tfjs/packaged-models.ts');
    const { convertTfjsGraphToOnnx } = await import('../model/convert/tfjs-to-onnx.ts');
    const model = await loadPackagedTfjsModel(spec.id);
    return convertTfjsGraphToOnnx(model, { outputs: [...outputs], dynamicBatch: true, inputSize: [size[0], size[1]], name: spec.id });
  });
}
