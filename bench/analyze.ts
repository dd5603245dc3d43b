// Analyze throughput on real photos: end to end (bytes -> heads, embedding, code) against
// the shipped model's own graph run on ready tensors, at batch 1 and 16; ONNX Runtime
// against TF.js-wasm for MobileNetV2 (the converted packaged backbone; TF.js cannot run the
// fused graph); converter equivalence on real photos; peak RSS.
// Rates are the median of several timed passes (this 2-core machine runs the same graph in
// two modes, ~40 or ~65 img/s, from one pass to the next), with the range beside them.
// Run: node --import tsx bench/analyze.ts [--datasets ../shared/datasets] [--images 64] [--passes 5]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadForModel } from '../src/image/preprocess.ts';
import { OnnxSession } from '../src/model/backend/onnxruntime.ts';
import { backboneOnnx } from '../src/model/backbones/convert-backbone.ts';
import { BACKBONES, packagedId } from '../src/model/backbones/registry.ts';
import { loadModel } from '../src/model/load-model.ts';
import { loadPackagedTfjsModel } from '../src/model/tfjs/packaged-models.ts';
import { runTfjsGraph, ensureTfjsBackend } from '../src/model/tfjs/run-tfjs.ts';
import { ModelAnalyzer } from '../src/pipelines/analyze.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({ options: { datasets: { type: 'string', default: '../shared/datasets' }, images: { type: 'string', default: '64' }, passes: { type: 'string', default: '5' } } });
const datasets = path.resolve(values.datasets!);
const count = Number(values.images);
const passes = Number(values.passes);
if (!Number.isInteger(passes) || passes < 1) throw new Error('--passes must be a positive integer');

async function photoPaths(): Promise<string[]> {
  const lines = (await readFile(path.join(datasets, 'grocery/val.txt'), 'utf8')).split('\n').filter(Boolean);
  const clothing = (await readFile(path.join(datasets, 'clothing/labels.csv'), 'utf8')).split('\n').slice(1).filter(Boolean);
  const grocery = lines.filter((_, i) => i % 9 === 0).map((l) => path.join(datasets, 'grocery', l.split(',')[0]!.trim()));
  const clothes = clothing.filter((_, i) => i % 70 === 0).map((l) => path.join(datasets, 'clothing', l.split(',')[0]!));
  const mixed: string[] = [];
  for (let i = 0; mixed.length < count && (i < grocery.length || i < clothes.length); i++) {
    if (grocery[i]) mixed.push(grocery[i]!);
    if (clothes[i] && mixed.length < count) mixed.push(clothes[i]!);
  }
  return mixed;
}

/** Seconds per pass of `fn`: the median of `passes` timed passes after a warm-up, and their range. */
async function timeIt(fn: () => Promise<void>): Promise<{ median: number; min: number; max: number }> {
  await fn(); // warm-up
  const seconds: number[] = [];
  for (let i = 0; i < passes; i++) {
    const start = performance.now();
    await fn();
    seconds.push((performance.now() - start) / 1000);
  }
  seconds.sort((a, b) => a - b);
  return { median: seconds[Math.floor(seconds.length / 2)]!, min: seconds[0]!, max: seconds[seconds.length - 1]! };
}

/** Images per second at the median pass, with the range over the passes. */
const rate = (images: number, t: { median: number; min: number; max: number }) =>
  `${(images / t.median).toFixed(1)} (${(images / t.max).toFixed(1)}-${(images / t.min).toFixed(1)})`;

const spec = BACKBONES['nsfwjs/mobilenet_v2_mid'];
const packaged = packagedId(spec);
const featureNode = spec.tensors.conv_1!.node;
const pooledNode = spec.tensors.feature_vector!.node;
const files = await photoPaths();
const bytes = await Promise.all(files.map((f) => readFile(f)));
const tensors = await Promise.all(bytes.map(async (b) => (await loadForModel(b, spec.input)).tensor));
const [h, w] = spec.input.size;
const per = h * w * 3;
const batchFrom = (source: readonly Float32Array[], start: number, n: number): Float32Array => {
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) out.set(source[(start + i) % source.length]!, i * per);
  return out;
};
const batchOf = (start: number, n: number): Float32Array => batchFrom(tensors, start, n);

const conversionStart = performance.now();
const backbone = await backboneOnnx(spec.id, [featureNode, pooledNode]);
const conversionSeconds = (performance.now() - conversionStart) / 1000;
const bare = await OnnxSession.create(backbone.bytes);
// The shipped model's whole graph (its backbone, fused where it is, and every head), on
// tensors preprocessed as its manifest says.
const shipped = await loadModel();
const shippedInput = shipped.manifest.input;
if (shippedInput.layout !== 'NHWC' || shippedInput.size[0] !== h || shippedInput.size[1] !== w) throw new Error('the bench expects a 224 px NHWC model');
const modelTensors = await Promise.all(bytes.map(async (b) => (await loadForModel(b, shippedInput)).tensor));
const modelOutputs = shipped.session.outputNames;
const analyzer1 = await ModelAnalyzer.open(undefined, { batchSize: 1 });
const analyzer16 = await ModelAnalyzer.open(undefined, { batchSize: 16 });

const rows: string[] = [];
for (const batch of [1, 16]) {
  const bareSeconds = await timeIt(async () => {
    for (let s = 0; s < files.length; s += batch) {
      const n = Math.min(batch, files.length - s);
      await shipped.session.run(shipped.session.inputNames[0]!, batchFrom(modelTensors, s, n), [n, h, w, 3], modelOutputs);
    }
  });
  const analyzer = batch === 1 ? analyzer1 : analyzer16;
  const e2eSeconds = await timeIt(async () => {
    await analyzer.analyzeBuffers(bytes);
  });
  rows.push(`| ${batch} | ${rate(files.length, bareSeconds)} | ${rate(files.length, e2eSeconds)} | ${(bareSeconds.median / e2eSeconds.median).toFixed(2)} |`);
}

// TF.js-wasm on the same backbone and the converter's equivalence on real photos.
const tfjsModel = await loadPackagedTfjsModel(packaged);
const backend = await ensureTfjsBackend('wasm');
let maxDiff = 0;
const checked = Math.min(8, files.length);
for (let i = 0; i < checked; i++) {
  const ref = await runTfjsGraph(tfjsModel, tensors[i]!, [1, h, w, 3], [featureNode, pooledNode]);
  const onnx = await bare.run(bare.inputNames[0]!, tensors[i]!, [1, h, w, 3], [featureNode, pooledNode]);
  for (const name of [featureNode, pooledNode]) {
    const a = ref[name]!.data;
    const b = onnx[name]!.data;
    for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j]! - b[j]!));
  }
}
const tfjsRows: string[] = [];
for (const batch of [1, 16]) {
  const n = Math.min(32, files.length);
  const seconds = await timeIt(async () => {
    for (let s = 0; s < n; s += batch) {
      const k = Math.min(batch, n - s);
      await runTfjsGraph(tfjsModel, batchOf(s, k), [k, h, w, 3], [pooledNode]);
    }
  });
  const ortSeconds = await timeIt(async () => {
    for (let s = 0; s < n; s += batch) {
      const k = Math.min(batch, n - s);
      await bare.run(bare.inputNames[0]!, batchOf(s, k), [k, h, w, 3], [pooledNode]);
    }
  });
  tfjsRows.push(`| ${batch} | ${((seconds.median / n) * 1000).toFixed(1)} | ${((ortSeconds.median / n) * 1000).toFixed(1)} | ${(seconds.median / ortSeconds.median).toFixed(2)}x |`);
}

await writeSection(
  'analyze',
  `## Analyze throughput (issue: foundation)

Command: \`node --import tsx bench/analyze.ts --images ${files.length} --passes ${passes}\` (part of \`npm run bench\`). Machine: ${machine()}.
Photos: ${files.length} real photos (grocery val.txt and clothing, mixed), read into memory first.
Model: models/groknet-base ${shipped.manifest.version} (backbone \`${shipped.manifest.backbone.id}\`, the graph composed from the packaged weights and the model's heads.onnx).

Rates: the median of ${passes} timed passes after a warm-up, the slowest and fastest pass in brackets.

| batch | the model's graph, session.run on ready tensors (img/s) | end to end analyze from JPEG bytes (img/s) | end to end / graph |
|---|---|---|---|
${rows.join('\n')}

ONNX Runtime (CPU EP, ${bare.provider}) against TF.js (${backend} backend) on MobileNetV2-1.4 alone (nsfwjs, converted by src/model/convert; conversion ${backbone.built ? `took ${conversionSeconds.toFixed(1)} s` : 'was cached'}), ms per image at the median pass (${Math.min(32, files.length)} photos):

| batch | TF.js ${backend} | ONNX Runtime | ORT speed-up |
|---|---|---|---|
${tfjsRows.join('\n')}

Converter equivalence on ${checked} real photos (ONNX vs TF.js execution, conv map and pooled feature): max abs diff ${maxDiff.toExponential(2)}.
Peak RSS of the benchmark process: ${peakRssMiB().toFixed(0)} MiB.`,
);
console.log(rows.join('\n'));
console.log(tfjsRows.join('\n'));
console.log('max abs diff', maxDiff, 'peak RSS MiB', peakRssMiB().toFixed(0));
await Promise.all([bare.close(), shipped.session.close(), analyzer1.close(), analyzer16.close()]);
