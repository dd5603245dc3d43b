// Gives the ONNX graph of a packaged backbone exposing the requested tensors, converting
// it from the npm package's TF.js files on first use and caching it outside the repo.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cached, cacheKey } from '../cache.ts';
import { GroknetError } from '../../errors.ts';
import { fuseBackboneGraphs } from './fuse-graphs.ts';
import { backboneSpec, packagedId, type BackboneSpec } from './registry.ts';

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

export async function backboneOnnx(id: string, outputs: readonly string[], size?: readonly [number, number]): Promise<{ bytes: Uint8Array; path: string; built: boolean }> {
  const spec = backboneSpec(id);
  if (spec.fused) return fusedBackboneOnnx(spec, outputs);
  const inputSize = size ?? spec.input.size;
  // The size joins the key only when it is not the registry's, so existing cached graphs stay valid.
  const sized = size && (size[0] !== spec.input.size[0] || size[1] !== spec.input.size[1]) ? [`${size[0]}x${size[1]}`] : [];
  const key = cacheKey(spec.id, packageVersion(spec.packageName), CONVERTER_VERSION, ...sized, ...outputs);
  return cached(`backbones/${spec.id.replace(/\//g, '__')}-${key}.onnx`, async () => {
    // Loaded only when a conversion is needed: TF.js is slow to import and unused otherwise.
    const { loadPackagedTfjsModel } = await import('../tfjs/packaged-models.ts');
    const { convertTfjsGraphToOnnx } = await import('../convert/tfjs-to-onnx.ts');
    const model = await loadPackagedTfjsModel(packagedId(spec));
    return convertTfjsGraphToOnnx(model, { outputs: [...outputs], dynamicBatch: true, inputSize: [inputSize[0], inputSize[1]], name: spec.id });
  });
}

/** Both packaged graphs, each converted (and cached) alone, joined under one input. */
async function fusedBackboneOnnx(spec: BackboneSpec, outputs: readonly string[]): Promise<{ bytes: Uint8Array; path: string; built: boolean }> {
  const fused = spec.fused!;
  const firstOutputs = outputs.filter((o) => !o.startsWith(fused.prefix));
  const secondOutputs = outputs.filter((o) => o.startsWith(fused.prefix)).map((o) => o.slice(fused.prefix.length));
  if (firstOutputs.length === 0 || secondOutputs.length === 0) {
    throw new GroknetError('invalid_config', `backbone ${spec.id} fuses two graphs: ask for at least one tensor of each (the second's start with '${fused.prefix}')`);
  }
  const first = await backboneOnnx(fused.first, firstOutputs);
  const second = await backboneOnnx(fused.second, secondOutputs, fused.size);
  const key = cacheKey(spec.id, path.basename(first.path), path.basename(second.path), JSON.stringify(fused));
  return cached(`backbones/${spec.id.replace(/\//g, '__')}-${key}.onnx`, () =>
    fuseBackboneGraphs(first.bytes, second.bytes, { prefix: fused.prefix, from: spec.input.size, to: fused.size, scale: fused.scale }),
  );
}
