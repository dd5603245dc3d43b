// Head design experiments on cached backbone features (one dataset, one head): which GeM
// exponent, depth and regularisation generalise. Prints validation accuracy per setting.
// Run: node --import tsx bench/head-experiments.ts grocery '[["name",p,[hidden],dropout,weightDecay,epochs],...]'
import path from 'node:path';
import { createProgress } from '../src/cli/progress.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import { loadClothing } from '../src/train/datasets/clothing.ts';
import { extractPooledFeatures } from '../src/train/extract-features.ts';
import { loadClothingParsing } from '../src/train/datasets/clothing-parsing.ts';
import { fitHeads } from '../src/train/fit-heads.ts';
import { topKAccuracy } from '../src/train/evaluate.ts';
const root = '/work/shared/datasets';
const clothing = await loadClothing(path.join(root, 'clothing'));
const grocery = await loadGrocery(path.join(root, 'grocery'));
const parsing = await loadClothingParsing(path.join(root, 'clothing-parsing'));
const samples = [...clothing.samples, ...grocery.samples, ...parsing.samples];
const feats = await extractPooledFeatures(samples.map((s) => s.path), { backboneId: 'nsfwjs/mobilenet_v2_mid', tensors: ['conv_1'], pValues: [1, 3], startProgress: createProgress });
const which = process.argv[2] ?? 'grocery';
const subset = (which === 'grocery' ? grocery.samples : clothing.samples);
const task = which === 'grocery' ? 'grocery_fine' : 'clothing';
const labels = which === 'grocery' ? grocery.tasks.grocery_fine! : clothing.tasks.clothing!;
for (const [name, p, shared, dropout, wd, epochs] of JSON.parse(process.argv[3]!) as Array<[string, number, number[], number, number, number]>) {
  const src = feats.byP.get(p)!;
  const dim = 1792;
  const f = new Float32Array(subset.length * dim);
  subset.forEach((s, i) => f.set(src.subarray(feats.rowOf.get(s.path)! * dim, (feats.rowOf.get(s.path)! + 1) * dim), i * dim));
  const targets = Int32Array.from(subset.map((s) => s.single[task]!));
  const train = Int32Array.from(subset.map((s, i) => (s.split === 'train' ? i : -1)).filter((i) => i >= 0));
  const val = Int32Array.from(subset.map((s, i) => (s.split === 'val' ? i : -1)).filter((i) => i >= 0));
  const t = Date.now();
  const fit = await fitHeads({ features: f, dim, trainRows: train, tasks: [{ name: task, labels, targets, weight: 1 }], productIds: new Int32Array(subset.length).fill(-1), productCount: 0, sharedSizes: shared, dropout, embeddingDim: 8, epochs, batchSize: 128, learningRate: 2e-3, weightDecay: wd, labelSmoothing: 0.1, arcface: { scale: 1, margin: 0, weight: 0 }, seed: 7 });
  const probs = fit.predict(val).probs[task]!;
  const acc = topKAccuracy(probs, labels.length, Array.from(val, (i) => targets[i]!), 1);
  console.log(which, name, 'val acc', acc.toFixed(3), ((Date.now() - t) / 1000).toFixed(0), 's');
  fit.dispose();
}
