// The segmentation trainer end to end on generated photos: masks in, an artifact out that
// the runtime opens and runs; fine-tuning moves the upper trunk it carries; bad settings
// are refused with the reason.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { GroknetError } from '../../../src/errors.ts';
import { parseModel } from '../../../src/model/onnx/graph-builder.ts';
import { pretrainedBlock15 } from '../../../src/model/upper-trunk/block15.ts';
import { pretrainedUpperTrunk } from '../../../src/model/upper-trunk/block16.ts';
import { Segmenter } from '../../../src/pipelines/segment.ts';
import { readMask } from '../../../src/train/segmentation/dataset.ts';
import { trainSegmentation, type SegmentTrainSettings } from '../../../src/train/segmentation/train.ts';
import { upperTrunkFromHeads } from '../../../src/segment/trunk.ts';
import { createTinyModel } from '../../helpers/tiny-model.ts';

let root: string;
const LABELS = ['null', 'top', 'pants'];

/** A grey portrait with a red top over blue pants, placed a little differently each time; the mask says which is which. */
async function writePhoto(dir: string, i: number): Promise<{ photo: string; mask: string }> {
  const [width, height] = [120, 180];
  const shift = (i % 5) * 4;
  const top = { left: 30 + shift, top: 30, width: 60, height: 60 };
  const pants = { left: 35 + shift, top: 95, width: 50, height: 70 };
  const rect = (r: typeof top, fill: string) => `<rect x="${r.left}" y="${r.top}" width="${r.width}" height="${r.height}" fill="${fill}"/>`;
  const svg = (a: string, b: string, background: string) =>
    Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${background}"/>${rect(top, a)}${rect(pants, b)}</svg>`);
  const photo = `photos/${String(i).padStart(4, '0')}.png`;
  const mask = `masks/${String(i).padStart(4, '0')}.png`;
  await sharp(svg('#d22', '#23c', '#999')).png().toFile(path.join(dir, photo));
  // Mask values are label indices: 1 (top), 2 (pants), saved as grey.
  await sharp(svg('rgb(1,1,1)', 'rgb(2,2,2)', 'rgb(0,0,0)')).png().toFile(path.join(dir, mask));
  return { photo, mask };
}

before(async () => {
  process.env.GROKNET_CACHE ??= await mkdtemp(path.join(os.tmpdir(), 'groknet-segtrain-cache-'));
  root = await mkdtemp(path.join(os.tmpdir(), 'groknet-segtrain-'));
  const dataset = path.join(root, 'clothing-parsing');
  await mkdir(path.join(dataset, 'photos'), { recursive: true });
  await mkdir(path.join(dataset, 'masks'), { recursive: true });
  const rows: string[] = [];
  for (let i = 0; i < 20; i++) rows.push(JSON.stringify(await writePhoto(dataset, i)));
  await writeFile(path.join(dataset, 'labels.json'), JSON.stringify({ labels: LABELS }));
  await writeFile(path.join(dataset, 'annotations.jsonl'), `${rows.join('\n')}\n`);
});

function config(out: string, overrides: Partial<SegmentTrainSettings> = {}): SegmentTrainSettings {
  return { datasets: root, out, epochs: 6, batchSize: 4, evalEvery: 6, classWeightPower: 0, ...overrides };
}

test('fine-tuning the upper trunk with the decoder: the artifact carries the moved trunk and segments a photo', async () => {
  const out = path.join(root, 'fine-tuned');
  const result = await trainSegmentation(config(out, { upperTrunkLearningRate: 1e-3, learningRate: 1e-2 }));
  const history = result.manifest.training!.history as Array<{ loss: number }>;
  assert.ok(history.at(-1)!.loss < history[0]!.loss, `loss ${history.map((h) => h.loss.toFixed(3)).join(' -> ')}`);
  // Background alone is 0.67 of the pixels: the held-out photos' garments are found too.
  assert.ok(result.validation.pixelAccuracy > 0.8, `validation pixel accuracy ${result.validation.pixelAccuracy}`);
  // The artifact reads block 15 (the trunk it carries starts there), not the packaged Conv_1.
  assert.match(result.manifest.backbone.tensors[0]!, /expanded_conv_15\/add$/);
  const carried = upperTrunkFromHeads(new Uint8Array(await readFile(path.join(out, 'decoder.onnx'))));
  const pretrained = pretrainedUpperTrunk('nsfwjs/mobilenet_v2_mid');
  const moved = carried.w1.reduce((m, v, i) => Math.max(m, Math.abs(v - pretrained.w1[i]!)), 0);
  assert.ok(moved > 1e-4, `Conv_1 moved by at most ${moved}`);

  // The runtime opens it (trunk + carried upper trunk + decoder in one graph) and segments a photo.
  const segmenter = await Segmenter.open(out, { tta: 'none' });
  try {
    const [result0] = await segmenter.segmentBuffers([await readFile(path.join(root, 'clothing-parsing/photos/0003.png'))]);
    assert.ok(result0 && !(result0 instanceof Error));
    const { mask, width, height } = result0.segmentation;
    const truth = await readMask(path.join(root, 'clothing-parsing/masks/0003.png'));
    assert.deepEqual([width, height], [truth.width, truth.height]);
    const agree = mask.reduce((n, v, i) => n + (v === truth.data[i] ? 1 : 0), 0) / mask.length;
    // Background alone would be 0.67 of the pixels: the garments are found too.
    assert.ok(agree > 0.8, `agreement with the mask ${agree}`);
  } finally {
    await segmenter.close();
  }
});

/** A float initializer of an ONNX graph, by name. */
function initializer(bytes: Uint8Array, name: string): Float32Array {
  const tensor = parseModel(bytes).graph?.initializer?.find((t) => t.name === name);
  assert.ok(tensor?.rawData, `initializer ${name}`);
  const raw = tensor.rawData;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

test('fine-tuning block 15 too, at another input size: the artifact reads block 14, carries the moved block 15 and segments a photo', async () => {
  const out = path.join(root, 'block15');
  const result = await trainSegmentation(config(out, { upperTrunkLearningRate: 1e-3, block15LearningRate: 1e-3, learningRate: 1e-2, inputSize: [288, 192] }));
  assert.match(result.manifest.backbone.tensors[0]!, /expanded_conv_14\/add$/);
  assert.deepEqual(result.manifest.input.size, [288, 192]);
  assert.deepEqual([result.manifest.grid.height, result.manifest.grid.width], [36, 24]);
  assert.equal(result.manifest.version, '0.3.0');
  assert.ok(result.validation.pixelAccuracy > 0.8, `validation pixel accuracy ${result.validation.pixelAccuracy}`);
  const bytes = new Uint8Array(await readFile(path.join(out, 'decoder.onnx')));
  const pretrained = pretrainedBlock15();
  const carried = initializer(bytes, 'block15/we');
  assert.equal(carried.length, pretrained.we.length);
  const moved = carried.reduce((m, v, i) => Math.max(m, Math.abs(v - pretrained.we[i]!)), 0);
  assert.ok(moved > 1e-4, `block 15's expansion moved by at most ${moved}`);

  const segmenter = await Segmenter.open(out, { tta: 'none' });
  try {
    const [segmented] = await segmenter.segmentBuffers([await readFile(path.join(root, 'clothing-parsing/photos/0007.png'))]);
    assert.ok(segmented && !(segmented instanceof Error));
    const truth = await readMask(path.join(root, 'clothing-parsing/masks/0007.png'));
    const agree = segmented.segmentation.mask.reduce((n, v, i) => n + (v === truth.data[i] ? 1 : 0), 0) / truth.data.length;
    assert.ok(agree > 0.8, `agreement with the mask ${agree}`);
  } finally {
    await segmenter.close();
  }
});

test('a frozen trunk stays the packaged one', async () => {
  const out = path.join(root, 'frozen');
  const result = await trainSegmentation(config(out, { epochs: 1, evalEvery: 1 }));
  assert.match(result.manifest.backbone.tensors[0]!, /Conv_1\/Relu6$/);
  assert.throws(() => upperTrunkFromHeads(new Uint8Array(Buffer.alloc(0))), GroknetError);
});

test('bad trunk settings are refused with the reason, before any photo is read', async () => {
  const invalid = (message: RegExp) => (e: unknown) => e instanceof GroknetError && e.code === 'invalid_config' && message.test(e.message);
  // A dataset folder that does not exist: the settings are refused before it is looked at.
  const nowhere = (overrides: Partial<SegmentTrainSettings>) => ({ ...config(path.join(root, 'never-written'), overrides), datasets: path.join(root, 'no-such-folder') });
  await assert.rejects(trainSegmentation(nowhere({ upperTrunkLearningRate: -1 })), invalid(/upperTrunkLearningRate: must be 0 \(frozen\) or positive/));
  await assert.rejects(trainSegmentation(nowhere({ upperTrunkLearningRate: 1e-3, block15LearningRate: -1 })), invalid(/block15LearningRate: must be 0 \(frozen\) or positive/));
  await assert.rejects(trainSegmentation(nowhere({ inputSize: [300, 224] })), invalid(/inputSize: must be \[height, width\], each a multiple of 32/));
  // Block 15 trains only under a trained block 16: its gradient comes through it.
  await assert.rejects(trainSegmentation(nowhere({ block15LearningRate: 1e-3 })), invalid(/block15LearningRate: needs upperTrunkLearningRate > 0/));
  // A product model without a fine-tuned upper trunk cannot lend one.
  const tiny = await createTinyModel();
  await assert.rejects(trainSegmentation(config(path.join(root, 'bad-from'), { upperTrunkFrom: tiny.dir })), (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid');
});
