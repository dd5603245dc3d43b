// Augmented views: names (parsing and refusals), the colour-jittered view (shape kept,
// colours moved, stable across runs, grey stays grey), combinations of transforms, the
// config's views by name and its refusal of colour jitter on a dataset that teaches colours,
// and the rows those views become.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { GroknetError } from '../../src/errors.ts';
import type { PreprocessSpec } from '../../src/image/spec.ts';
import { jitterAmounts, loadViewTensor, splitViewRef, thumbnailOf, viewTransforms } from '../../src/train/augment.ts';
import { buildRows } from '../../src/train/build-rows.ts';
import { datasetViews, parseTrainConfig } from '../../src/train/config.ts';
import type { LabelledDataset } from '../../src/train/datasets/types.ts';

const isCode = (code: string) => (e: unknown) => e instanceof GroknetError && e.code === code;
// Pixels straight through (no normalisation), at the image's own size: tensors compare as pixels.
const spec: PreprocessSpec = { size: [24, 32], mode: 'stretch', layout: 'NHWC', channelOrder: 'RGB', mean: [0, 0, 0], std: [1, 1, 1], scale: 1 };
let colourful: string;
let grey: string;

before(async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'groknet-augment-'));
  // The amounts are drawn from the path, and the folder's name is random: pick names whose
  // brightness change is clearly visible, so the tests below do not depend on the draw.
  const visible = (stem: string) => {
    for (let i = 0; ; i++) if (Math.abs(jitterAmounts(path.join(root, `${stem}-${i}.png`)).brightness - 1) > 0.12) return path.join(root, `${stem}-${i}.png`);
  };
  colourful = visible('colourful');
  grey = visible('grey');
  // Left half red, right half a blue-green gradient: a flip moves colour from side to side.
  const rgb = Buffer.alloc(32 * 24 * 3);
  for (let y = 0; y < 24; y++) {
    for (let x = 0; x < 32; x++) {
      const at = (y * 32 + x) * 3;
      rgb.set(x < 16 ? [200, 40, 30] : [20, 60 + 4 * x, 90 + 3 * y], at);
    }
  }
  await writeFile(colourful, await sharp(rgb, { raw: { width: 32, height: 24, channels: 3 } }).png().toBuffer());
  const g = Buffer.alloc(32 * 24 * 3);
  for (let i = 0; i < 32 * 24; i++) g.fill(40 + (i % 150), i * 3, i * 3 + 3);
  await writeFile(grey, await sharp(g, { raw: { width: 32, height: 24, channels: 3 } }).png().toBuffer());
});

test('view names: transforms in order, each once; references split at the last @', () => {
  assert.deepEqual(viewTransforms('flip+jitter'), ['flip', 'jitter']);
  assert.deepEqual(viewTransforms('crop+flip+jitter'), ['crop', 'flip', 'jitter']);
  for (const bad of ['jitter+flip', 'flip+flip', 'blur', '', 'flip+']) assert.throws(() => viewTransforms(bad), /not a view/);
  assert.deepEqual(splitViewRef('/d/a@b/c.jpg@flip+jitter'), { source: '/d/a@b/c.jpg', view: 'flip+jitter' });
  assert.deepEqual(splitViewRef('/d/user@example.jpg'), { source: '/d/user@example.jpg' });
  assert.deepEqual(splitViewRef('/d/x.jpg@jitter+flip'), { source: '/d/x.jpg@jitter+flip' });
});

test('the jittered view keeps the shape, moves the colours, and is the same on every run', async () => {
  const original = await loadViewTensor(colourful, spec);
  const jittered = await loadViewTensor(`${colourful}@jitter`, spec);
  assert.equal(jittered.length, original.length);
  const moved = jittered.reduce((sum, v, i) => sum + Math.abs(v - original[i]!), 0) / original.length;
  assert.ok(moved > 3, `mean change ${moved.toFixed(2)} of 255`);
  assert.ok(jittered.every((v) => v >= 0 && v <= 255));
  assert.deepEqual(await loadViewTensor(`${colourful}@jitter`, spec), jittered, 'stable across runs, so cached features stay true');
  const { brightness, contrast, saturation, hue } = jitterAmounts(colourful);
  assert.ok(brightness >= 0.75 && brightness <= 1.25 && contrast >= 0.75 && contrast <= 1.25 && saturation >= 0.6 && saturation <= 1.4 && Math.abs(hue) <= 12);
  assert.notDeepEqual(jitterAmounts(colourful), jitterAmounts(grey), 'each image draws its own amounts');
});

test('the shrunk view is a thumbnail: detail lost, colours kept, the same on every run', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'groknet-augment-shrink-'));
  const file = path.join(root, 'stripes.png');
  // Stripes one pixel wide on a 240 x 180 photo: a 40-96 px thumbnail cannot keep them.
  const rgb = Buffer.alloc(240 * 180 * 3);
  for (let i = 0; i < 240 * 180; i++) rgb.set(i % 2 === 0 ? [250, 250, 250] : [10, 10, 200], i * 3);
  await writeFile(file, await sharp(rgb, { raw: { width: 240, height: 180, channels: 3 } }).png().toBuffer());
  const big: PreprocessSpec = { ...spec, size: [180, 240] };
  const original = await loadViewTensor(file, big);
  const shrunk = await loadViewTensor(`${file}@shrink`, big);
  assert.equal(shrunk.length, original.length);
  const contrast = (t: Float32Array) => t.reduce((sum, v, i) => (i >= 3 && i % 3 === 2 ? sum + Math.abs(v - t[i - 3]!) : sum), 0) / (t.length / 3);
  assert.ok(contrast(shrunk) < contrast(original) / 4, `neighbouring pixels: ${contrast(original).toFixed(1)} -> ${contrast(shrunk).toFixed(1)}`);
  const mean = (t: Float32Array, c: number) => t.reduce((sum, v, i) => (i % 3 === c ? sum + v : sum), 0) / (t.length / 3);
  assert.ok(Math.abs(mean(shrunk, 2) - mean(original, 2)) < 12, 'the colours stay');
  assert.deepEqual(await loadViewTensor(`${file}@shrink`, big), shrunk, 'stable across runs, so cached features stay true');
  const [side, quality] = thumbnailOf(file);
  assert.ok(side >= 40 && side <= 96 && quality >= 50 && quality <= 85);
  assert.deepEqual(viewTransforms('crop+flip+shrink'), ['crop', 'flip', 'shrink']);
  assert.throws(() => viewTransforms('shrink+crop'), /not a view/);
});

test('a grey image stays grey under colour jitter (Fashion-MNIST keeps its statistic)', async () => {
  const jittered = await loadViewTensor(`${grey}@jitter`, spec);
  let worst = 0;
  for (let i = 0; i < jittered.length; i += 3) worst = Math.max(worst, Math.abs(jittered[i]! - jittered[i + 1]!), Math.abs(jittered[i + 1]! - jittered[i + 2]!));
  assert.ok(worst <= 3, `largest channel spread ${worst}`);
});

test('flip+jitter is one view that is both mirrored and recoloured', async () => {
  const flipped = await loadViewTensor(`${colourful}@flip`, spec);
  const jittered = await loadViewTensor(`${colourful}@jitter`, spec);
  const both = await loadViewTensor(`${colourful}@flip+jitter`, spec);
  // Mirrored: the red half is now on the right.
  const redAt = (t: Float32Array, x: number) => t[(12 * 32 + x) * 3]!;
  assert.ok(redAt(flipped, 28) > 150 && redAt(flipped, 3) < 60);
  // At the image's own size nothing is resampled, and colour changes work pixel by pixel:
  // the combined view is the jittered view mirrored, to rounding.
  let worst = 0;
  for (let y = 0; y < 24; y++) {
    for (let x = 0; x < 32; x++) {
      for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(both[(y * 32 + x) * 3 + c]! - jittered[(y * 32 + (31 - x)) * 3 + c]!));
    }
  }
  assert.ok(worst <= 1, `largest difference from the mirrored jittered view: ${worst}`);
  const moved = both.reduce((sum, v, i) => sum + Math.abs(v - flipped[i]!), 0) / both.length;
  assert.ok(moved > 3, `recoloured: mean change ${moved.toFixed(2)} from the mirrored view`);
});

const base = (views: unknown, task: Record<string, unknown> = { head: 'kind', loss: 'softmax', dataset: 'a' }) => ({
  datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: task.head, views }],
  tasks: [task],
  model: {},
  optimizer: {},
});

test('config: views by count or by name; bad names, repeats and colour jitter on colour labels are refused', () => {
  assert.deepEqual(datasetViews(parseTrainConfig(base(2)).datasets[0]!), ['flip', 'crop']);
  assert.deepEqual(datasetViews(parseTrainConfig(base(0)).datasets[0]!), []);
  assert.deepEqual(datasetViews(parseTrainConfig(base(['flip+jitter', 'crop'])).datasets[0]!), ['flip+jitter', 'crop']);
  assert.throws(() => parseTrainConfig(base(['jitter+flip'])), (e: unknown) => isCode('invalid_config')(e) && /in that order/.test((e as Error).message));
  assert.throws(() => parseTrainConfig(base(['flip', 'flip'])), (e: unknown) => isCode('invalid_config')(e) && /listed twice/.test((e as Error).message));
  assert.throws(() => parseTrainConfig(base(3)), isCode('invalid_config'));
  // A head that names colours must not learn from recoloured photos.
  const colourHead = { head: 'colour', loss: 'softmax', dataset: 'a' };
  assert.throws(() => parseTrainConfig(base(['flip+jitter'], colourHead)), (e: unknown) => isCode('invalid_config')(e) && /learns colours/.test((e as Error).message));
  assert.doesNotThrow(() => parseTrainConfig(base(['flip'], colourHead)));
  assert.throws(() => parseTrainConfig(base(['jitter'], { head: 'paint', loss: 'bce', dataset: 'a', labelsNameColours: true })), /learns colours/);
  assert.doesNotThrow(() => parseTrainConfig(base(['jitter'], { ...colourHead, labelsNameColours: false })));
});

test('rows: each training image gets its named views; held-out images get the crop query view', () => {
  const config = parseTrainConfig(base(['flip+jitter', 'crop'])).datasets[0]!;
  const data: LabelledDataset = {
    name: 'a',
    tasks: { kind: ['p', 'q'] },
    samples: [
      { path: '/x/1.png', dataset: 'a', single: { kind: 0 }, split: 'train' },
      { path: '/x/2.png', dataset: 'a', single: { kind: 1 }, split: 'val' },
    ],
  };
  const rows = buildRows([{ config, data }]);
  assert.deepEqual(
    rows.rows.map((r) => r.ref),
    ['/x/1.png', '/x/1.png@flip+jitter', '/x/1.png@crop', '/x/2.png', '/x/2.png@crop'],
  );
  assert.deepEqual(rows.rows.map((r) => r.view), [undefined, 'flip+jitter', 'crop', undefined, 'crop']);
});

test('rows: a view entry with alternatives gives each training image one of them, the same one every run', () => {
  const config = parseTrainConfig(base(['crop+flip|crop+flip+shrink'])).datasets[0]!;
  const samples = Array.from({ length: 40 }, (_, i) => ({ path: `/x/${i}.png`, dataset: 'a', single: { kind: i % 2 }, split: 'train' as const }));
  const data: LabelledDataset = { name: 'a', tasks: { kind: ['p', 'q'] }, samples };
  const views = buildRows([{ config, data }]).rows.filter((r) => r.view).map((r) => r.view);
  assert.equal(views.length, 40, 'one augmented row per image, as a single view gives');
  const shrunk = views.filter((v) => v === 'crop+flip+shrink').length;
  assert.ok(shrunk > 10 && shrunk < 30, `about half shrunk: ${shrunk} of 40`);
  assert.ok(views.every((v) => v === 'crop+flip' || v === 'crop+flip+shrink'));
  assert.deepEqual(buildRows([{ config, data }]).rows.map((r) => r.ref), buildRows([{ config, data }]).rows.map((r) => r.ref));
  // Bad alternatives, and one view offered by two entries, are refused.
  assert.throws(() => parseTrainConfig(base(['crop|shrink+crop'])), (e: unknown) => isCode('invalid_config')(e) && /in that order/.test((e as Error).message));
  assert.throws(() => parseTrainConfig(base(['crop|crop'])), isCode('invalid_config'));
  assert.throws(() => parseTrainConfig(base(['flip', 'crop|flip'])), (e: unknown) => isCode('invalid_config')(e) && /listed twice/.test((e as Error).message));
  assert.throws(() => parseTrainConfig(base(['crop|'])), isCode('invalid_config'));
});
