// Probe (issue #25): how well can colour be learned from the pixels themselves? Histograms of
// the product's pixels (background left out as the palette does) of fashion-products training
// shots, a small classifier on them, scored on the held-out shots against baseColour.
// A linear classifier (--hidden 0) or one hidden layer; the blend with the shipped model's colour
// head has its weight chosen on one half of the held-out shots and is scored on the other.
// Measured 2026-12-07 (1,200 held-out shots): learned head 0.529, palette 0.313; 6 bins:
// linear 0.637, 64 hidden 0.640, 256 hidden 0.632; 8 bins: linear 0.651, 64 hidden 0.647,
// blends 0.64-0.68. The shipped classifier (src/train/pixel-colour.ts) is the linear one on 8 bins.
// Run: node --import tsx bench/colour-pixels-probe.ts [--bins 8] [--hidden 0,64] [--datasets ../shared/datasets]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadForModel } from '../src/image/preprocess.ts';
import { readManifest } from '../src/model/manifest.ts';
import { tensorToRgb } from '../src/image/tensor.ts';
import { measureColour } from '../src/pipelines/measure-colour.ts';
import { loadFashionProducts } from '../src/train/datasets/fashion-products.ts';
import { pixelColourFeatures } from '../src/image/colour-features.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { readyTf } from '../src/train/tf.ts';
import { REPO } from '../scripts/reliability/lib/common.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, hidden: { type: 'string', default: '0,64' }, bins: { type: 'string', default: '8' }, epochs: { type: 'string', default: '60' } } });
const root = path.resolve(REPO, values.datasets!, 'fashion-products');
const manifest = await readManifest(path.join(REPO, 'models/groknet-base/model.json'));
const data = await loadFashionProducts(root);
const colours = data.tasks.colour!;
const rows = data.samples.filter((s) => s.single.colour !== undefined);
const started = Date.now();
const feats: Float32Array[] = [];
const paletteTop: (string | undefined)[] = [];
for (const [i, s] of rows.entries()) {
  const input = await loadForModel(await readFile(s.path), manifest.input);
  const { rgb, width, height } = tensorToRgb(input.tensor, manifest.input, 2);
  feats.push(pixelColourFeatures(rgb, width, height, Number(values.bins)));
  const p = measureColour(input.tensor, manifest.input);
  paletteTop.push(p.kind === 'single' ? p.top[0]?.label : undefined);
  if (i % 1000 === 0) process.stderr.write(`${i}/${rows.length} ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
const dim = feats[0]!.length;
const tf = await readyTf();
const split = (which: 'train' | 'val') => rows.map((r, i) => (r.split === which ? i : -1)).filter((i) => i >= 0);
const trainIdx = split('train');
const valIdx = split('val');
const toX = (idx: number[]) => {
  const x = new Float32Array(idx.length * dim);
  idx.forEach((r, k) => x.set(feats[r]!, k * dim));
  return tf.tensor2d(x, [idx.length, dim]);
};
const toY = (idx: number[]) => tf.oneHot(tf.tensor1d(idx.map((r) => rows[r]!.single.colour!), 'int32'), colours.length);
const xTrain = toX(trainIdx);
const yTrain = toY(trainIdx);
const xVal = toX(valIdx);
const yVal = toY(valIdx);
// The shipped model's learned colour head on the same held-out shots, for the blend.
const analyzer = await ModelAnalyzer.open(path.join(REPO, 'models/groknet-base'), { rawHeads: true, batchSize: 16 });
const learnedProbs: Map<string, number>[] = [];
for (let i = 0; i < valIdx.length; i += 32) {
  const batch = valIdx.slice(i, i + 32);
  const analyses = await analyzer.analyzeBuffers(await Promise.all(batch.map((r) => readFile(rows[r]!.path))));
  for (const a of analyses) {
    const h = a instanceof Error ? undefined : a.heads.colour;
    learnedProbs.push(new Map(h?.kind === 'single' ? h.top.map((t) => [t.label, t.score]) : []));
  }
}
const accuracy = (scores: (k: number) => number[], idx: number[]) => {
  let right = 0;
  for (const k of idx) {
    const s = scores(k);
    if (s.indexOf(Math.max(...s)) === rows[valIdx[k]!]!.single.colour) right++;
  }
  return right / idx.length;
};
const all = valIdx.map((_, k) => k);
const halves = [all.filter((k) => k % 2 === 0), all.filter((k) => k % 2 === 1)];
const learnedScores = (k: number) => colours.map((c) => learnedProbs[k]!.get(c) ?? 1e-4);
console.log(`learned head ${accuracy(learnedScores, all).toFixed(3)}, palette ${(valIdx.filter((r) => paletteTop[r] === colours[rows[r]!.single.colour!]).length / valIdx.length).toFixed(3)}`);
for (const hidden of (values.hidden ?? '64').split(',').map(Number)) {
  const model = tf.sequential();
  if (hidden > 0) model.add(tf.layers.dense({ inputShape: [dim], units: hidden, activation: 'relu', kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }) }));
  model.add(tf.layers.dense({ ...(hidden > 0 ? {} : { inputShape: [dim] }), units: colours.length, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(3e-3), loss: 'categoricalCrossentropy' });
  await model.fit(xTrain, yTrain, { epochs: Number(values.epochs), batchSize: 64, shuffle: true, verbose: 0 });
  const probs = (model.predict(xVal) as import('@tensorflow/tfjs').Tensor).arraySync() as number[][];
  const pixelScores = (k: number) => probs[k]!;
  const blend = (w: number) => (k: number) => probs[k]!.map((p, c) => w * Math.log(p + 1e-6) + (1 - w) * Math.log(learnedScores(k)[c]!));
  // Blend weight chosen on one half of the held-out shots, scored on the other (both ways).
  const weights = [0, 0.2, 0.35, 0.5, 0.65, 0.8, 1];
  const crossed = halves.map((tune, h) => {
    const best = weights.reduce((a, w) => (accuracy(blend(w), tune) > accuracy(blend(a), tune) ? w : a), 0.5);
    return { w: best, acc: accuracy(blend(best), halves[1 - h]!) };
  });
  console.log(`features ${dim}, train ${trainIdx.length}, val ${valIdx.length}, hidden ${hidden}: pixel classifier ${accuracy(pixelScores, all).toFixed(3)}; blend (weight tuned on the other half) ${crossed.map((c) => `${c.acc.toFixed(3)} at w=${c.w}`).join(', ')}; ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
