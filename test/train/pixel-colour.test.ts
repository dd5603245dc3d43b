// The colour-histogram classifier (issue #25): features, the file and its checks, training it
// into a model beside its colour head, the analyzer's blended answer, and the CLI's refusals.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { GroknetError } from '../../src/errors.ts';
import { colourFeatureCount, pixelColourFeatures } from '../../src/image/colour-features.ts';
import { blendScores, encodeWeights, PixelColour } from '../../src/model/heads/pixel-colour.ts';
import { readManifest } from '../../src/model/manifest.ts';
import { ModelAnalyzer } from '../../src/pipelines/analyze.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import type { LabelledDataset, Sample } from '../../src/train/datasets/types.ts';
import { trainPixelColour } from '../../src/train/pixel-colour.ts';
import { runCli } from '../helpers/cli.ts';
import { createTinyModel, TINY_COLOURS } from '../helpers/tiny-model.ts';
import { tempDir } from '../helpers/tmp.ts';

const isCode = (code: string) => (e: unknown) => e instanceof GroknetError && e.code === code;
const LABELS = Object.keys(TINY_COLOURS);

let tmp: Awaited<ReturnType<typeof tempDir>>;
before(async () => {
  tmp = await tempDir('groknet-pixel-colour-');
});
after(() => tmp.cleanup());

/** A product shot: a coloured rectangle on a white backdrop, off-centre by `shift` pixels. */
function productShot(rgb: readonly number[], shift = 0, size = 48): Buffer {
  const pixels = Buffer.alloc(size * size * 3, 250);
  for (let y = 12; y < 40; y++) for (let x = 14 + shift; x < 34 + shift; x++) pixels.set(rgb.map((v) => Math.max(0, Math.min(255, v))), (y * size + x) * 3);
  return pixels;
}

async function shotFile(name: string, rgb: readonly number[], shift: number): Promise<string> {
  const file = path.join(tmp.path, name);
  await writeFile(file, await sharp(productShot(rgb, shift), { raw: { width: 48, height: 48, channels: 3 } }).png().toBuffer());
  return file;
}

test('colour features: the product is told from its backdrop, shares sum to one, a blank photo has no product', () => {
  const size = 48;
  const features = pixelColourFeatures(productShot([220, 30, 30]), size, size, 4);
  assert.equal(features.length, colourFeatureCount(4));
  const cells = 4 ** 3;
  const red = (3 * 4 + 0) * 4 + 0;
  assert.ok(features[red]! > 0.99, `the product histogram is the red cell (${features[red]})`);
  const productShare = features[2 * cells]!;
  assert.ok(productShare > 0.2 && productShare < 0.6, `the rectangle covers part of the photo (${productShare})`);
  const squares = (from: number) => features.slice(from, from + cells).reduce((a, v) => a + v * v, 0);
  assert.ok(Math.abs(squares(0) - 1) < 1e-5 && Math.abs(squares(cells) - 1) < 1e-5, 'square roots of shares: their squares sum to one');
  const blank = pixelColourFeatures(Buffer.alloc(size * size * 3, 250), size, size, 4);
  assert.equal(blank[2 * cells], 0);
  assert.ok(blank.every((v) => Number.isFinite(v)));
});

test('blend: weight 1 follows the histograms, 0 the head, labels the head did not rank count as unlikely', () => {
  const pixels = [0.7, 0.2, 0.1];
  const head = [{ label: 'b', score: 0.9 }, { label: 'a', score: 0.05 }];
  const argmax = (s: Float32Array) => s.indexOf(Math.max(...s));
  assert.equal(argmax(blendScores(pixels, head, ['a', 'b', 'c'], 1)), 0);
  assert.equal(argmax(blendScores(pixels, head, ['a', 'b', 'c'], 0)), 1);
  const mixed = blendScores(pixels, head, ['a', 'b', 'c'], 0.5);
  assert.ok(Math.abs(mixed.reduce((a, v) => a + v, 0) - 1) < 1e-5);
  assert.ok(mixed[2]! < 0.01, 'c: unranked by the head');
});

test('the classifier file is checked: weights, biases, labels, where it lives', async () => {
  const good = { formatVersion: 1, head: 'colour', labels: ['a', 'b'], bins: 2, stride: 1, weights: encodeWeights(new Float32Array(colourFeatureCount(2) * 2)), bias: [0, 0], blendWeight: 0.5, abstainBelow: 0.4 };
  assert.equal(PixelColour.fromFile(good).file.labels.length, 2);
  assert.throws(() => PixelColour.fromFile({ ...good, weights: encodeWeights(new Float32Array(5)) }), (e: unknown) => isCode('model_invalid')(e) && /5 weights, 34 expected/.test((e as Error).message));
  assert.throws(() => PixelColour.fromFile({ ...good, bias: [0] }), isCode('model_invalid'));
  assert.throws(() => PixelColour.fromFile({ ...good, blendWeight: 2 }), isCode('model_invalid'));
  assert.throws(() => PixelColour.fromFile({ ...good, surprise: true }), isCode('model_invalid'));
  await writeFile(path.join(tmp.path, 'p.json'), JSON.stringify(good));
  await assert.rejects(PixelColour.load(tmp.path, 'p.json', ['a', 'c']), (e: unknown) => isCode('model_invalid')(e) && /labels differ/.test((e as Error).message));
  await assert.rejects(PixelColour.load(tmp.path, 'missing.json', ['a', 'b']), isCode('model_not_found'));
  await assert.rejects(PixelColour.load(tmp.path, '../p.json', ['a', 'b']), isCode('model_invalid'));
  await writeFile(path.join(tmp.path, 'bad.json'), '{');
  await assert.rejects(PixelColour.load(tmp.path, 'bad.json', ['a', 'b']), isCode('model_invalid'));
});

test('trained beside a colour head: histograms learn product colours the head cannot see, the analyzer blends them', async () => {
  const { dir } = await createTinyModel(path.join(tmp.path, 'model'));
  const samples: Sample[] = [];
  for (const [c, label] of LABELS.entries()) {
    for (let i = 0; i < 12; i++) {
      const jitter = TINY_COLOURS[label]!.map((v, k) => v + ((i * 7 + k * 5) % 21) - 10);
      samples.push({ path: await shotFile(`${label}-${i}.png`, jitter, (i % 5) - 2), dataset: 'shots', single: { colour: c }, split: i % 4 === 0 ? 'val' : 'train' });
    }
  }
  // An unreadable photo is left out and counted, not fatal.
  await writeFile(path.join(tmp.path, 'broken.png'), 'not an image');
  samples.push({ path: path.join(tmp.path, 'broken.png'), dataset: 'shots', single: { colour: 0 }, split: 'train' });
  const data: LabelledDataset = { name: 'shots', tasks: { colour: LABELS }, samples };
  const before = await readFile(path.join(dir, 'model.json'), 'utf8');

  // Refusals first: nothing is written by any of them.
  await assert.rejects(trainPixelColour({ modelDir: dir, head: 'colour', data: { ...data, tasks: { colour: [...LABELS].reverse() } } }), (e: unknown) => isCode('invalid_config')(e) && /does not label head 'colour'/.test((e as Error).message));
  await assert.rejects(trainPixelColour({ modelDir: dir, head: 'material', data }), (e: unknown) => isCode('invalid_config')(e) && /no single-label head 'material'/.test((e as Error).message));
  await assert.rejects(trainPixelColour({ modelDir: dir, head: 'colour', data: { ...data, samples: samples.slice(0, 5) } }), (e: unknown) => isCode('invalid_config')(e) && /too few labelled photos/.test((e as Error).message));
  const stop = new AbortController();
  stop.abort();
  await assert.rejects(trainPixelColour({ modelDir: dir, head: 'colour', data, signal: stop.signal }), isCode('interrupted'));
  assert.equal(await readFile(path.join(dir, 'model.json'), 'utf8'), before, 'model.json untouched by refusals and a stop');

  const { manifest, report } = await trainPixelColour({ modelDir: dir, head: 'colour', data, epochs: 40, version: '0.0.2' });
  assert.equal(report.unreadable, 1);
  assert.equal(report.heldOutImages, 18);
  assert.ok(report.pixelAccuracy >= 0.9, `histograms of product shots name their colour (${report.pixelAccuracy})`);
  assert.ok(report.blendAccuracy >= report.headAccuracy, `the blend does no worse than the head (${report.blendAccuracy} vs ${report.headAccuracy})`);
  assert.equal(manifest.version, '0.0.2');
  const onDisk = await readManifest(path.join(dir, 'model.json'));
  const head = onDisk.heads.find((h) => h.name === 'colour');
  assert.equal(head?.kind === 'single' ? head.pixels?.file : undefined, 'colour-pixels.json');
  assert.ok(onDisk.evaluation?.colour_with_pixels, 'evaluation recorded');
  assert.match(await readFile(path.join(dir, 'EVAL.md'), 'utf8'), /## colour_with_pixels/);

  const analyzer = await ModelAnalyzer.open(dir);
  try {
    const shot = await sharp(productShot(TINY_COLOURS.blue!, 1), { raw: { width: 48, height: 48, channels: 3 } }).png().toBuffer();
    const [analysis] = await analyzer.analyzeBuffers([shot]);
    assert.ok(analysis && !(analysis instanceof GroknetError));
    const colour = analysis.heads.colour;
    assert.equal(colour?.kind, 'single');
    assert.equal(colour?.kind === 'single' ? colour.top[0]?.label : undefined, 'blue');
    assert.equal(colour?.kind === 'single' ? colour.source : undefined, 'model');
  } finally {
    await analyzer.close();
  }
});

test('config: "pixels" only on a head that names colours', () => {
  const config = (task: Record<string, unknown>) => () => parseTrainConfig({ datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }], tasks: [{ loss: 'softmax', dataset: 'a', ...task }], model: {}, optimizer: {} });
  assert.equal(config({ head: 'colour', pixels: true })().tasks[0]!.head, 'colour');
  assert.equal(config({ head: 'shade', pixels: true, labelsNameColours: true })().tasks.length, 1);
  assert.throws(config({ head: 'category', pixels: true }), (e: unknown) => isCode('invalid_config')(e) && /only a head that names colours/.test((e as Error).message));
  assert.throws(config({ head: 'colour', pixels: 'yes' }), isCode('invalid_config'));
});

test('groknet train --only: what it takes and refuses', async () => {
  const folder = path.join(tmp.path, 'folder-data');
  const configFile = path.join(tmp.path, 'config.json');
  const write = (tasks: unknown[]) => writeFile(configFile, JSON.stringify({ datasets: [{ name: 'shots', adapter: 'folder', path: folder, head: 'colour' }], tasks, model: {}, optimizer: {} }));
  await write([{ head: 'colour', loss: 'softmax', dataset: 'shots' }]);
  const wrong = await runCli(['train', configFile, '--only', 'heads', '--out', tmp.path]);
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /--only takes "pixels"/);
  const both = await runCli(['train', configFile, '--only', 'pixels', '--resume', '--out', tmp.path]);
  assert.equal(both.code, 2, both.stderr);
  const none = await runCli(['train', configFile, '--only', 'pixels', '--out', tmp.path]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no task with "pixels": true/);
});
