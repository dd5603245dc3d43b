// The Segmenter's test-time mirroring option, over the real trunk and a generated decoder
// with random weights (so the logits depend on the photo): option checks, the default path
// unchanged (the mask straight from one run's logits), and the mirrored run's batching.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { GroknetError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { DEFAULT_IMAGE_LIMITS } from '../../src/image/limits.ts';
import { preprocessDecoded } from '../../src/image/preprocess.ts';
import { DEFAULT_TTA, Segmenter, type SegmentOptions } from '../../src/pipelines/segment.ts';
import { labelMapFromLogits } from '../../src/segment/grid.ts';
import { combineFlip, mirrorNHWC } from '../../src/segment/tta.ts';
import { rng } from '../../src/util/random.ts';
import { testDecoder, writeSegmentModel } from '../segment/helpers.ts';

/** A decoder with seeded random weights over the real trunk. */
async function createRandomSegmentModel(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-segment-tta-'));
  const weights = testDecoder(rng(12345));
  // A classifier strong enough that classes change across the photo.
  weights.classifier.kernel = weights.classifier.kernel.map((v) => v * 30);
  await writeSegmentModel(dir, weights, 'test-segment-tta');
  return dir;
}

/** A photo with structure: coloured blocks and a gradient, not mirror-symmetric. */
async function photo(width: number, height: number, shift: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inBlock = x > width * 0.2 + shift && x < width * 0.55 + shift && y > height * 0.3 && y < height * 0.8;
      data[i] = inBlock ? 220 : (x * 255) / width;
      data[i + 1] = inBlock ? 40 : (y * 255) / height;
      data[i + 2] = (x + y) % 64 < 32 ? 200 : 30;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

let modelDir: string;
const open: Segmenter[] = [];
async function segmenter(options: SegmentOptions = {}): Promise<Segmenter> {
  const s = await Segmenter.open(modelDir, options);
  open.push(s);
  return s;
}

before(async () => {
  modelDir = await createRandomSegmentModel();
});
after(async () => {
  for (const s of open) await s.close();
});

test('tta options are checked before the model is loaded', async () => {
  const missing = path.join(os.tmpdir(), 'no-such-segment-model');
  for (const options of [{ tta: 'mirror' }, { tta: 'flip', ttaAverage: 'max' }, { ttaAlign: 'round' }] as unknown as SegmentOptions[]) {
    await assert.rejects(Segmenter.open(missing, options), (error: unknown) => error instanceof GroknetError && error.code === 'invalid_argument', JSON.stringify(options));
  }
});

test("tta 'none': the mask is one run's logits upsampled, as before the option", async () => {
  const bytes = await photo(120, 180, 0);
  const plain = await segmenter({ tta: 'none' });
  assert.equal(plain.tta, 'none');
  const [result] = await plain.segmentBuffers([bytes]);
  assert.ok(result && !(result instanceof GroknetError), 'segmented');
  // The pre-TTA path, by hand: one input, one run, labelMapFromLogits.
  const { manifest, session } = plain.model;
  const input = await preprocessDecoded(await decodeImage(bytes, DEFAULT_IMAGE_LIMITS), manifest.input);
  const [h, w] = manifest.input.size;
  const logits = (await session.run(session.inputNames[0]!, input.tensor, [1, h, w, 3], [manifest.output]))[manifest.output]!.data;
  const expected = labelMapFromLogits(logits, manifest.grid, input.geometry, manifest.classLabels);
  assert.deepEqual(result.segmentation.mask, expected);
  assert.ok(new Set(expected).size > 1, 'the random decoder gives more than one class');
  // batchSize > 1 and several photos: the same masks.
  const batched = await (await segmenter({ tta: 'none', batchSize: 4 })).segmentBuffers([bytes, bytes]);
  for (const r of batched) {
    assert.ok(r && !(r instanceof GroknetError), 'segmented');
    let diff = 0;
    for (let p = 0; p < expected.length; p++) if (r.segmentation.mask[p] !== expected[p]) diff++;
    assert.ok(diff <= expected.length * 0.001, `batched: ${diff} pixels differ`);
  }
});

test("the default is tta 'flip' (logits averaged, mirrored grid interpolated)", async () => {
  const s = await segmenter();
  assert.deepEqual([s.tta, s.ttaAverage, s.ttaAlign], [DEFAULT_TTA, 'logits', 'interpolate']);
  assert.equal(DEFAULT_TTA, 'flip');
});

test("tta 'flip': the mirrored run is averaged in, and batching keeps each photo with its own mirror", async () => {
  const photos = [await photo(120, 180, 0), await photo(150, 150, 20), await photo(200, 120, -10)];
  const flip1 = await segmenter({ tta: 'flip', batchSize: 1 });
  const flip3 = await segmenter({ tta: 'flip', batchSize: 3 });
  const probs = await segmenter({ tta: 'flip', ttaAverage: 'probs', batchSize: 2 });
  const one = await flip1.segmentBuffers(photos);
  const three = await flip3.segmentBuffers(photos);
  const viaProbs = await probs.segmentBuffers(photos);
  const plain = await (await segmenter({ tta: 'none' })).segmentBuffers(photos);
  const { manifest, session } = flip1.model;
  const [h, w] = manifest.input.size;
  const classes = manifest.classLabels.length;
  let differsFromPlain = false;
  for (const [i, bytes] of photos.entries()) {
    const input = await preprocessDecoded(await decodeImage(bytes, DEFAULT_IMAGE_LIMITS), manifest.input);
    const run = async (t: Float32Array): Promise<Float32Array> => (await session.run(session.inputNames[0]!, t, [1, h, w, 3], [manifest.output]))[manifest.output]!.data;
    const a = await run(input.tensor);
    const b = await run(mirrorNHWC(input.tensor, h, w, 3));
    const expected = labelMapFromLogits(combineFlip(a, b, manifest.grid, w, classes), manifest.grid, input.geometry, manifest.classLabels);
    const expectedProbs = labelMapFromLogits(combineFlip(a, b, manifest.grid, w, classes, { average: 'probs' }), manifest.grid, input.geometry, manifest.classLabels);
    for (const [what, results, want] of [
      ['batch 1', one, expected],
      ['batch 3', three, expected],
      ['probs', viaProbs, expectedProbs],
    ] as const) {
      const r = results[i];
      assert.ok(r && !(r instanceof GroknetError), `${what} ${i}`);
      // Batched runs may differ in the last float bits; allow a handful of pixels on ties.
      let diff = 0;
      for (let p = 0; p < want.length; p++) if (r.segmentation.mask[p] !== want[p]) diff++;
      assert.ok(diff <= want.length * 0.001, `${what} photo ${i}: ${diff} pixels differ`);
    }
    const p = plain[i];
    assert.ok(p && !(p instanceof GroknetError), `plain ${i}`);
    if (p.segmentation.mask.some((v, j) => v !== expected[j])) differsFromPlain = true;
  }
  assert.ok(differsFromPlain, 'the mirrored run changes some pixels');
});
