// One PreprocessSpec schema (src/image/spec.ts) for the product model's model.json, the
// segmentation artifact's model.json and the specs code builds: the same limits everywhere,
// and the shipped artifacts still load.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { isGroknetError } from '../../src/errors.ts';
import { MAX_INPUT_SIDE, PreprocessSpecSchema, validatePreprocessSpec, type PreprocessSpec } from '../../src/image/spec.ts';
import { BACKBONES } from '../../src/model/backbones/registry.ts';
import { parseManifest, readManifestJson } from '../../src/model/manifest.ts';
import { parseSegmentManifest } from '../../src/segment/manifest.ts';
import { SEGMENT_INPUT } from '../../src/segment/taps.ts';

const modelJson = (name: string) => readManifestJson(fileURLToPath(new URL(`../../models/${name}/model.json`, import.meta.url)));

const SPEC: PreprocessSpec = { size: [224, 224], mode: 'center-crop', layout: 'NHWC', channelOrder: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };

/** The error `fn` throws, with its code and message. */
function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(isGroknetError(error), `not a GroknetError: ${String(error)}`);
    return { code: error.code, message: error.message };
  }
  assert.fail('did not throw');
}

describe('PreprocessSpecSchema', () => {
  it('accepts every spec the code builds: the backbones, the detectors, the segmentation trunk', () => {
    for (const [id, backbone] of Object.entries(BACKBONES)) assert.ok(PreprocessSpecSchema.safeParse(backbone.input).success, id);
    assert.ok(PreprocessSpecSchema.safeParse(SEGMENT_INPUT).success);
    assert.ok(PreprocessSpecSchema.safeParse({ ...SPEC, mode: 'letterbox', fill: [255, 255, 255] }).success);
  });

  it('refuses each bad field, naming its path', () => {
    const bad: Array<[Partial<Record<keyof PreprocessSpec, unknown>>, string]> = [
      [{ size: [0, 10] }, 'size.0'],
      [{ size: [10, MAX_INPUT_SIDE + 1] }, 'size.1'],
      [{ size: [10.5, 10] }, 'size.0'],
      [{ mode: 'cover' }, 'mode'],
      [{ layout: 'CHW' }, 'layout'],
      [{ channelOrder: 'RGBA' }, 'channelOrder'],
      [{ mean: [0, Number.POSITIVE_INFINITY, 0] }, 'mean.1'],
      [{ std: [1, 0, 1] }, 'std.1'],
      [{ scale: -1 }, 'scale'],
      [{ fill: [0, 0, 256] }, 'fill.2'],
    ];
    for (const [patch, path] of bad) {
      const { code, message } = thrown(() => validatePreprocessSpec({ ...SPEC, ...patch } as PreprocessSpec));
      assert.equal(code, 'invalid_argument');
      assert.match(message, new RegExp(`preprocess spec: ${path.replace('.', '\\.')}: `), JSON.stringify(patch));
    }
    assert.equal(thrown(() => validatePreprocessSpec({ ...SPEC, extra: 1 } as PreprocessSpec)).code, 'invalid_argument');
  });
});

describe('model manifests use the one PreprocessSpec schema', () => {
  it('the shipped product and segmentation models still load', async () => {
    const product = parseManifest(await modelJson('groknet-base'));
    assert.deepEqual(product.input.size, [224, 224]);
    validatePreprocessSpec(product.input);
    const segment = parseSegmentManifest(await modelJson('groknet-segment'));
    assert.deepEqual(segment.input.size, [448, 288]);
    validatePreprocessSpec(segment.input);
  });

  it('a manifest takes what code-built specs take (small sides, a letterbox fill) and refuses what they refuse', async () => {
    const product = (await modelJson('groknet-base')) as { input: PreprocessSpec };
    // A manifest once refused sides under 16 and a fill that validatePreprocessSpec accepts.
    assert.deepEqual(parseManifest({ ...product, input: { ...SPEC, size: [8, 12] } }).input.size, [8, 12]);
    assert.deepEqual(parseManifest({ ...product, input: { ...SPEC, mode: 'letterbox', fill: [0, 0, 0] } }).input.fill, [0, 0, 0]);
    // ... and code-built specs once took sides up to 8192, which no manifest could declare.
    const huge = { ...SPEC, size: [4096, 4096] as const };
    assert.equal(thrown(() => validatePreprocessSpec(huge)).code, 'invalid_argument');
    const { code, message } = thrown(() => parseManifest({ ...product, input: huge }));
    assert.equal(code, 'model_invalid');
    assert.match(message, /model\.json: input\.size\.0: /);
  });

  it('a segmentation manifest also requires NHWC: its trunk is a TF graph', async () => {
    const segment = (await modelJson('groknet-segment')) as { input: PreprocessSpec };
    const nchw = { ...segment.input, layout: 'NCHW' };
    assert.match(thrown(() => parseSegmentManifest({ ...segment, input: nchw })).message, /input\.layout: /);
    const product = (await modelJson('groknet-base')) as { input: PreprocessSpec };
    assert.equal(parseManifest({ ...product, input: { ...product.input, layout: 'NCHW' } }).input.layout, 'NCHW');
  });
});
