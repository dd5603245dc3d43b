// The trunk converted for the segmentation input size. backboneOnnx() converts at the
// registry's 224x224; ONNX Runtime refuses other sizes for that graph, so the decoder's
// trunk is converted here with its own size and cached under its own key.
import { CONVERTER_VERSION, packageVersion } from '../model/backbones/convert-backbone.ts';
import { backboneSpec, packagedId } from '../model/backbones/registry.ts';
import { cached, cacheKey } from '../model/cache.ts';

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
    const model = await loadPackagedTfjsModel(packagedId(spec));
    return convertTfjsGraphToOnnx(model, { outputs: [...outputs], dynamicBatch: true, inputSize: [size[0], size[1]], name: spec.id });
  });
}
