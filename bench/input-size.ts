// Does a larger input help the product heads, as it helped segmentation? The frozen
// backbone's mean-pooled Conv_1 features of the centre crop at each input size, the same
// head (the shipped config's: 1792 -> 512 -> classes, dropout 0.5, AdamW 2e-3, decay 0.05,
// label smoothing 0.1, 10 epochs, seed 7) trained on each, scored on the held-out rows;
// and the backbone's time per image at each size (what the 45-minute budget pays).
// Run: node --import tsx bench/input-size.ts [--datasets ../shared/datasets] [--sizes 224,288,320]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OnnxSession } from '../src/model/backend/onnxruntime.ts';
import { backboneSpec } from '../src/model/backbones/registry.ts';
import { segmentBackboneOnnx } from '../src/segment/backbone.ts';
import { loadViewTensor } from '../src/train/augment.ts';
import { loadClothing } from '../src/train/datasets/clothing.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import type { LabelledDataset } from '../src/train/datasets/types.ts';
import { topKAccuracy } from '../src/train/evaluate.ts';
import { fitHeads } from '../src/train/fit-heads.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, sizes: { type: 'string', default: '224,288,320' } } });
const sizes = values.sizes!.split(',').map(Number);
const spec = backboneSpec('nsfwjs/mobilenet_v2_mid');
const CONV1 = spec.tensors.conv_1!.node;
const DIM = 1792;
const clothing = await loadClothing(path.join(values.datasets!, 'clothing'));
const grocery = await loadGrocery(path.join(values.datasets!, 'grocery'));
const sets: Array<{ dataset: LabelledDataset; task: string }> = [
  { dataset: clothing, task: 'clothing' },
  { dataset: grocery, task: 'grocery_fine' },
  { dataset: grocery, task: 'grocery_coarse' },
];
const images = [...new Set([...clothing.samples, ...grocery.samples].filter((s) => s.split === 'train' || s.split === 'val').map((s) => s.path))];

async function pooled(size: number): Promise<{ features: Map<string, Float32Array>; msPerImage: number }> {
  const graph = await segmentBackboneOnnx(spec.id, [CONV1], [size, size]);
  const session = await OnnxSession.create(graph.bytes);
  const input = { ...spec.input, size: [size, size] as [number, number] };
  const features = new Map<string, Float32Array>();
  let modelMs = 0;
  const batch = 16;
  for (let start = 0; start < images.length; start += batch) {
    const refs = images.slice(start, start + batch);
    const tensors = await Promise.all(refs.map((r) => loadViewTensor(r, input).catch(() => undefined)));
    const ok = refs.map((ref, i) => ({ ref, tensor: tensors[i] })).filter((x): x is { ref: string; tensor: Float32Array } => x.tensor !== undefined);
    const data = new Float32Array(ok.length * size * size * 3);
    ok.forEach((x, i) => data.set(x.tensor, i * x.tensor.length));
    const t = performance.now();
    const map = (await session.run(session.inputNames[0]!, data, [ok.length, size, size, 3], [CONV1]))[CONV1]!.data;
    modelMs += performance.now() - t;
    const positions = map.length / ok.length / DIM;
    ok.forEach((x, i) => {
      const f = new Float32Array(DIM);
      for (let p = 0; p < positions; p++) for (let c = 0; c < DIM; c++) f[c]! += map[(i * positions + p) * DIM + c]! / positions;
      features.set(x.ref, f);
    });
    if (process.stderr.isTTY) process.stderr.write(`\r${size}px ${start + refs.length}/${images.length}`);
  }
  await session.close();
  return { features, msPerImage: modelMs / features.size };
}

const rows: string[] = [];
const results: Record<number, Record<string, number>> = {};
for (const size of sizes) {
  const { features, msPerImage } = await pooled(size);
  results[size] = { ms: msPerImage };
  for (const { dataset, task } of sets) {
    const subset = dataset.samples.filter((s) => (s.split === 'train' || s.split === 'val') && features.has(s.path) && s.single[task] !== undefined);
    const f = new Float32Array(subset.length * DIM);
    subset.forEach((s, i) => f.set(features.get(s.path)!, i * DIM));
    const labels = dataset.tasks[task]!;
    const targets = Int32Array.from(subset.map((s) => s.single[task]!));
    const pick = (split: string) => Int32Array.from(subset.flatMap((s, i) => (s.split === split ? [i] : [])));
    const [train, val] = [pick('train'), pick('val')];
    const fit = await fitHeads({ features: f, dim: DIM, trainRows: train, tasks: [{ name: task, labels, targets, weight: 1 }], productIds: new Int32Array(subset.length).fill(-1), productCount: 0, sharedSizes: [512], dropout: 0.5, embeddingDim: 8, epochs: 10, batchSize: 128, learningRate: 2e-3, weightDecay: 0.05, labelSmoothing: 0.1, arcface: { scale: 1, margin: 0, weight: 0 }, seed: 7 });
    const probs = fit.predict(val).probs[task]!;
    results[size]![task] = topKAccuracy(probs, labels.length, Array.from(val, (i) => targets[i]!), 1);
    results[size]![`${task}:n`] = val.length;
    fit.dispose();
  }
  process.stderr.write(`\n${size}px: ${JSON.stringify(results[size])}\n`);
}
const n = (task: string) => results[sizes[0]!]![`${task}:n`];
rows.push(
  `Command: \`node --import tsx bench/input-size.ts --sizes ${sizes.join(',')}\`. Machine: ${machine()}.`,
  `The frozen backbone (nsfwjs MobileNetV2-1.4, packaged weights) on the centre crop at each size, Conv_1 mean-pooled; the same head trained on each (1792 -> 512 -> classes, dropout 0.5, AdamW 2e-3 with decay 0.05, label smoothing 0.1, 10 epochs, seed 7; no augmented views, no trunk fine-tuning). Scored on the held-out rows: clothing ${n('clothing')} (all 18 labels), grocery val.txt ${n('grocery_fine')}.`,
  '',
  `| input | backbone ms per image (batch 16, ONNX Runtime, 2 threads) | clothing | grocery fine | grocery coarse |`,
  '|---|---|---|---|---|',
  ...sizes.map((s) => `| ${s}x${s} | ${results[s]!.ms!.toFixed(1)} | ${results[s]!.clothing!.toFixed(3)} | ${results[s]!.grocery_fine!.toFixed(3)} | ${results[s]!.grocery_coarse!.toFixed(3)} |`),
);
await writeSection('input-size', ['## Product heads at a larger input (issue: unified training)', '', ...rows].join('\n'));
process.stdout.write(`${JSON.stringify(results)}\n`);
