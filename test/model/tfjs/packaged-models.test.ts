// Loading TF.js models from installed npm packages, and decoding their quantised weights.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GroknetError } from '../../../src/errors.ts';
import { defaultOutputs, placeholders } from '../../../src/model/tfjs/model-json.ts';
import { loadPackagedTfjsModel, PACKAGED_MODEL_IDS, type PackagedModelId } from '../../../src/model/tfjs/packaged-models.ts';
import { decodeTfjsWeights } from '../../../src/model/tfjs/weights.ts';

const bytesPerValue = (dtype: string | undefined, fallback: string) => {
  const t = dtype ?? fallback;
  return t === 'uint8' ? 1 : t === 'float16' ? 2 : 4;
};

describe('loadPackagedTfjsModel', () => {
  for (const id of PACKAGED_MODEL_IDS) {
    it(`${id}: weight bytes match the manifest and decode to every weight`, () => {
      const model = loadPackagedTfjsModel(id);
      assert.ok(model.modelJson.modelTopology.node.length > 0);
      assert.equal(placeholders(model.modelJson).length, 1);
      const expected = model.weightSpecs.reduce(
        (n, w) => n + w.shape.reduce((a, b) => a * b, 1) * bytesPerValue(w.quantization?.dtype, w.dtype),
        0,
      );
      assert.equal(model.weightData.byteLength, expected);
      const weights = decodeTfjsWeights(model);
      assert.equal(weights.size, model.weightSpecs.length);
      for (const spec of model.weightSpecs) {
        const w = weights.get(spec.name);
        assert.ok(w, spec.name);
        assert.deepEqual(w.shape, spec.shape);
        // -Infinity is legitimate (nanodet's max-pool padding value); NaN never is
        assert.ok(!w.data.some(Number.isNaN), `${spec.name} has NaN values`);
      }
    });
  }

  it('dequantises nsfwjs uint8 weights to min + q * scale', () => {
    const model = loadPackagedTfjsModel('nsfwjs/mobilenet_v2_mid');
    const spec = model.weightSpecs[0];
    assert.ok(spec?.quantization?.dtype === 'uint8');
    const { min = 0, scale = 1 } = spec.quantization;
    const first = new Uint8Array(model.weightData, 0, 1)[0] as number;
    const decoded = decodeTfjsWeights(model).get(spec.name)?.data[0] as number;
    assert.ok(Math.abs(decoded - (min + first * scale)) < 1e-6);
  });

  it('reports the models outputs from their signatures', () => {
    const outputs = (id: PackagedModelId) => defaultOutputs(loadPackagedTfjsModel(id).modelJson).sort();
    assert.deepEqual(outputs('nsfwjs/mobilenet_v2_mid'), ['Identity']);
    assert.deepEqual(outputs('human-models/centernet'), ['tower_0/detections', 'tower_0/keypoints', 'tower_0/wh']);
    assert.equal(outputs('human-models/nanodet').length, 6);
  });

  it('rejects an unknown model id with model_not_found', () => {
    assert.throws(
      () => loadPackagedTfjsModel('nsfwjs/inception' as PackagedModelId),
      (e: unknown) => e instanceof GroknetError && e.code === 'model_not_found',
    );
  });
});
