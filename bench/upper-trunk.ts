// Does training the trunk's last layer help, and how fast can it train here? (issue: unified
// training, "trainable upper trunk"). Grocery fine classes: train.txt photos and the catalog
// images, each also mirrored; scored on val.txt. The same head (1792 -> 512 -> 81, ReLU,
// dropout 0.5, Adam with decoupled weight decay) is trained for the same epochs on
//   frozen:    the frozen trunk's Conv_1 features, average-pooled (what the shipped model uses);
//   trainable: the same, with Conv_1 itself trained (a 1x1 conv, 448 -> 1792 at 7x7, batch norm
//              folded, ReLU6), initialised from the backbone's weights and fed the cached
//              activations of the frozen layers below it.
// Conv_1's forward pass and its weight gradient run as ONNX Runtime graphs (MatMul: ~20 GFLOP/s
// here, where TF.js-wasm trains at ~1); the head runs in TF.js, which hands back the gradient of
// the loss with respect to the pooled features.
// --layers block_16 trains the whole last inverted-residual block too (expand 1x1 224 -> 1344,
// depthwise 3x3, project 1x1 -> 448; no residual: the widths differ) with Conv_1, fed block 15's
// cached output; the depthwise conv's gradients are ONNX Conv / Slice graphs as well, checked
// against finite differences before training.
// The trainer's own copy of the block-16 graphs is src/train/upper-trunk.ts (used by `groknet train`
// with model.upperTrunk); this bench keeps its graphs to also measure Conv_1 alone.
// Run: node --import tsx bench/upper-trunk.ts [--layers conv_1|block_16] [--datasets ../shared/datasets] [--epochs 8] [--trunk-lr 1e-4,3e-4] [--limit N]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OnnxSession, type NamedTensor } from '../src/model/backend/onnxruntime.ts';
import { backboneOnnx } from '../src/model/backbones/convert-backbone.ts';
import { backboneSpec } from '../src/model/backbones/registry.ts';
import { cacheDir, cacheKey } from '../src/model/cache.ts';
import { GraphBuilder } from '../src/model/onnx/graph-builder.ts';
import { BLOCK16, pretrainedUpperTrunk, UPPER_TRUNK_DIMS, UPPER_TRUNK_PARAMS } from '../src/model/upper-trunk/block16.ts';
import { blockBackward, blockForward, relu6, throughRelu6, toColumns, toRows } from '../src/train/block-graphs.ts';
import { loadViewTensor, viewRef } from '../src/train/augment.ts';
import { loadGrocery } from '../src/train/datasets/grocery.ts';
import { readyTf } from '../src/train/tf.ts';
import { rng } from '../src/util/random.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/datasets') },
    epochs: { type: 'string', default: '8' },
    batch: { type: 'string', default: '64' },
    'head-lr': { type: 'string', default: '0.002' },
    'trunk-lr': { type: 'string', default: '0.0001' },
    limit: { type: 'string' },
    layers: { type: 'string', default: 'conv_1' },
    print: { type: 'boolean', default: false },
  },
});
const EPOCHS = Number(values.epochs);
const BATCH = Number(values.batch);
const HEAD_LR = Number(values['head-lr']);
const TRUNK_LRS = values['trunk-lr']!.split(',').map(Number);
const LAYERS = values.layers!;
if (LAYERS !== 'conv_1' && LAYERS !== 'block_16') throw new Error('--layers must be conv_1 or block_16');
const WEIGHT_DECAY = 0.05;
const SIDE = 7;
const POSITIONS = SIDE * SIDE;
const OUT = 1792;

const spec = backboneSpec('nsfwjs/mobilenet_v2_mid');
const PREFIX = spec.tensors.conv_1!.node.replace('/MobilenetV2/Conv_1/Relu6', '/MobilenetV2');
const CONV1_OUTPUT = spec.tensors.conv_1!.node;
// What the trainable part is fed: Conv_1's input (448 channels) or block 16's (224).
const INPUT_NODE = LAYERS === 'conv_1' ? `${PREFIX}/expanded_conv_16/project/BatchNorm/FusedBatchNormV3` : `${PREFIX}/expanded_conv_15/add`;
const IN = LAYERS === 'conv_1' ? 448 : 224;

// ---- data: grocery train (+ catalog images) with mirrored views, val as is
const grocery = await loadGrocery(path.join(values.datasets!, 'grocery'));
const limit = values.limit ? Number(values.limit) : Infinity;
const trainSamples = grocery.samples.filter((s) => s.split === 'train').slice(0, limit);
const valSamples = grocery.samples.filter((s) => s.split === 'val').slice(0, limit);
const trainRefs = trainSamples.flatMap((s) => [s.path, viewRef(s.path, 'flip')]);
const trainLabels = Int32Array.from(trainSamples.flatMap((s) => [s.single!.grocery_fine!, s.single!.grocery_fine!]));
const valRefs = valSamples.map((s) => s.path);
const valLabels = Int32Array.from(valSamples.map((s) => s.single!.grocery_fine!));
const CLASSES = grocery.tasks.grocery_fine!.length;
console.log(`train ${trainRefs.length} rows (${trainSamples.length} images, mirrored), val ${valRefs.length}`);

// ---- the trainable part's input maps and the backbone's pooled Conv_1, cached on disk for reruns
interface Maps { x: Float32Array; pooled: Float32Array; rows: number }
const extractTimes: string[] = [];
async function extract(refs: string[], name: string): Promise<Maps> {
  const dir = path.join(cacheDir(), 'upper-trunk');
  const file = path.join(dir, `${name}-${IN}-${cacheKey(INPUT_NODE, ...refs)}.f32`);
  const per = POSITIONS * IN + OUT;
  const cached = await readFile(file).catch(() => undefined);
  let all: Float32Array;
  if (cached && cached.byteLength === refs.length * per * 4) {
    all = new Float32Array(cached.buffer, cached.byteOffset, cached.byteLength / 4);
  } else {
    const graph = await backboneOnnx(spec.id, [INPUT_NODE, CONV1_OUTPUT]);
    const session = await OnnxSession.create(graph.bytes);
    all = new Float32Array(refs.length * per);
    const started = performance.now();
    for (let start = 0; start < refs.length; start += 16) {
      const batch = refs.slice(start, start + 16);
      const tensors = await Promise.all(batch.map((r) => loadViewTensor(r, spec.input)));
      const input = new Float32Array(tensors.length * tensors[0]!.length);
      tensors.forEach((t, i) => input.set(t, i * t.length));
      const out = await session.run(session.inputNames[0]!, input, [batch.length, 224, 224, 3], [INPUT_NODE, CONV1_OUTPUT]);
      for (let i = 0; i < batch.length; i++) {
        const row = (start + i) * per;
        all.set(out[INPUT_NODE]!.data.subarray(i * POSITIONS * IN, (i + 1) * POSITIONS * IN), row);
        const conv = out[CONV1_OUTPUT]!.data;
        for (let c = 0; c < OUT; c++) {
          let sum = 0;
          for (let p = 0; p < POSITIONS; p++) sum += conv[(i * POSITIONS + p) * OUT + c]!;
          all[row + POSITIONS * IN + c] = sum / POSITIONS;
        }
      }
      if (process.stdout.isTTY) process.stdout.write(`\r${name}: ${start + batch.length}/${refs.length} (${((start + batch.length) / ((performance.now() - started) / 1000)).toFixed(1)}/s)`);
    }
    extractTimes.push(`${name} ${refs.length} rows in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    console.log(`\n${extractTimes.at(-1)}`);
    await session.close();
    await mkdir(dir, { recursive: true });
    await writeFile(file, new Uint8Array(all.buffer));
  }
  const x = new Float32Array(refs.length * POSITIONS * IN);
  const pooled = new Float32Array(refs.length * OUT);
  for (let r = 0; r < refs.length; r++) {
    x.set(all.subarray(r * per, r * per + POSITIONS * IN), r * POSITIONS * IN);
    pooled.set(all.subarray(r * per + POSITIONS * IN, (r + 1) * per), r * OUT);
  }
  return { x, pooled, rows: refs.length };
}
const train = await extract(trainRefs, 'grocery-train');
const val = await extract(valRefs, 'grocery-val');
const extractSeconds = extractTimes.length ? extractTimes.join(', ') : 'read from ~/.cache/groknet/upper-trunk (extracted by an earlier run)';

// ---- the trainable layers' weights (batch norm folded by the TF.js export; the trainer's reader)
interface Param { name: string; dims: number[]; init: Float32Array }
const EXPAND = BLOCK16.expand;
const pretrained = pretrainedUpperTrunk(spec.id);
const params: Param[] = (LAYERS === 'block_16' ? UPPER_TRUNK_PARAMS : (['w1', 'b1'] as const)).map((name) => ({ name, dims: UPPER_TRUNK_DIMS[name], init: pretrained[name] }));

// ---- ONNX Runtime graphs: forward (pooled features and what the gradient needs) and gradients.
// Block 16's part is the trainer's (src/train/block-graphs.ts); Conv_1 and the pooling are written here,
// because this bench also trains Conv_1 alone, fed the projection's cached output.
function forwardGraph(): Uint8Array {
  const g = new GraphBuilder('upper_forward');
  const x = g.input('x', ['n', IN]);
  for (const p of params) g.input(p.name, p.dims);
  let conv1Input = x;
  if (LAYERS === 'block_16') {
    // Block 16's graphs are channel-major inside ([channels, n]); Conv_1 here reads rows.
    g.opInto('Identity', [toRows(g, blockForward(g, SIDE, SIDE, EXPAND, 448, toColumns(g, x)))], ['p']);
    conv1Input = 'p';
    for (const [name, width] of [['ze', EXPAND], ['zd', EXPAND]] as const) g.output(name, [width, 'n']);
    g.output('p', ['n', 448]);
  }
  g.opInto('Add', [g.op1('MatMul', [conv1Input, 'w1']), 'b1'], ['z1']);
  const grouped = g.op1('Reshape', [relu6(g, 'z1'), g.constInt64('grouped', [3], [-1, POSITIONS, OUT])]);
  g.opInto('ReduceMean', [grouped], ['f'], { axes: [1], keepdims: 0 });
  g.output('f', ['batch', OUT]);
  g.output('z1', ['n', OUT]);
  return g.toModel();
}

function gradientGraph(): Uint8Array {
  const g = new GraphBuilder('upper_gradient');
  const x = g.input('x', ['n', IN]);
  g.input('z1', ['n', OUT]);
  g.input('df', ['batch', OUT]);
  g.input('w1', [448, OUT]);
  // d pooled / d activation = 1/49 at every position; ReLU6 passes gradient where 0 < z < 6.
  const spread = g.op1('Expand', [g.op1('Unsqueeze', [g.op1('Mul', ['df', g.constFloat('inv', [], [1 / POSITIONS])]), g.constInt64('axis1', [1], [1])]), g.constInt64('spread', [3], [1, POSITIONS, 1])]);
  const dz1 = throughRelu6(g, g.op1('Reshape', [spread, g.constInt64('flat', [2], [-1, OUT])]), 'z1');
  const conv1Input = LAYERS === 'block_16' ? g.input('p', ['n', 448]) : x;
  g.opInto('MatMul', [g.op1('Transpose', [conv1Input], { perm: [1, 0] }), dz1], ['g_w1']);
  g.opInto('ReduceSum', [dz1, g.constInt64('axis0', [1], [0])], ['g_b1'], { keepdims: 0 });
  if (LAYERS === 'block_16') {
    g.input('ze', [EXPAND, 'n']);
    g.input('zd', [EXPAND, 'n']);
    g.input('wp', [EXPAND, 448]);
    g.input('wd', [EXPAND, 1, 3, 3]);
    blockBackward(g, SIDE, SIDE, EXPAND, toColumns(g, g.op1('MatMul', [dz1, g.op1('Transpose', ['w1'], { perm: [1, 0] })])), toColumns(g, x), false);
  }
  for (const p of params) g.output(`g_${p.name}`, p.dims);
  return g.toModel();
}
const forward = await OnnxSession.create(forwardGraph());
const gradient = await OnnxSession.create(gradientGraph());
/** Forward FLOPs per row (the MatMuls and the depthwise conv); the backward pass is counted from the same layers. */
const forwardFlopsPerRow = 2 * POSITIONS * (448 * OUT + (LAYERS === 'block_16' ? IN * EXPAND + EXPAND * 9 + EXPAND * 448 : 0));
const backwardFlopsPerRow = forwardFlopsPerRow + 2 * POSITIONS * (LAYERS === 'block_16' ? OUT * 448 + 448 * EXPAND + EXPAND * 9 : 0);

type Values = Map<string, Float32Array>;
function gather(maps: Maps, rows: ArrayLike<number>): NamedTensor {
  const x = new Float32Array(rows.length * POSITIONS * IN);
  for (let i = 0; i < rows.length; i++) x.set(maps.x.subarray(rows[i]! * POSITIONS * IN, (rows[i]! + 1) * POSITIONS * IN), i * POSITIONS * IN);
  return { data: x, dims: [rows.length * POSITIONS, IN] };
}
async function runForward(x: NamedTensor, values: Values) {
  const feeds: Record<string, NamedTensor> = { x };
  for (const p of params) feeds[p.name] = { data: values.get(p.name)!, dims: p.dims };
  return forward.runMany(feeds);
}
async function runGradient(x: NamedTensor, saved: Record<string, NamedTensor>, df: Float32Array, values: Values) {
  const available: Record<string, NamedTensor> = { x, df: { data: df, dims: [df.length / OUT, OUT] }, ...saved };
  for (const p of params) available[p.name] = { data: values.get(p.name)!, dims: p.dims };
  return gradient.runMany(Object.fromEntries(gradient.inputNames.map((n) => [n, available[n]!])));
}
const initial: Values = new Map(params.map((p) => [p.name, p.init]));

// Check: with the backbone's weights the graph reproduces the backbone's pooled Conv_1.
let maxPooledDiff = 0;
{
  const rows = Array.from({ length: Math.min(8, val.rows) }, (_, i) => i);
  const out = await runForward(gather(val, rows), initial);
  for (let i = 0; i < rows.length * OUT; i++) maxPooledDiff = Math.max(maxPooledDiff, Math.abs(out.f!.data[i]! - val.pooled[i]!));
  console.log(`re-created layers: max |pooled difference| vs the backbone ${maxPooledDiff.toExponential(2)}`);
  if (maxPooledDiff > 1e-3) throw new Error('the re-created layers do not match the backbone');
}
// Check: the gradient graph against central finite differences of L = sum(f * r), on 2 rows.
let gradientCheck = '';
{
  const random = rng(3);
  const x = gather(train, [0, 1]);
  const r = Float32Array.from({ length: 2 * OUT }, () => random() - 0.5);
  const loss = async (values: Values) => {
    const f = (await runForward(x, values)).f!.data;
    let sum = 0;
    for (let i = 0; i < f.length; i++) sum += f[i]! * r[i]!;
    return sum;
  };
  const out = await runForward(x, initial);
  const saved = Object.fromEntries(Object.entries(out).filter(([k]) => k !== 'f'));
  const grads = await runGradient(x, saved, r, initial);
  const worst: string[] = [];
  for (const p of params) {
    const g = grads[`g_${p.name}`]!.data;
    // The entries with the largest gradients (a kink of ReLU6 inside the step would spoil a small one).
    const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 3);
    let worstRel = 0;
    for (const i of order) {
      const h = 1e-2 * Math.max(1e-2, Math.abs(p.init[i]!));
      const plus = Float32Array.from(p.init);
      plus[i] = plus[i]! + h;
      const minus = Float32Array.from(p.init);
      minus[i] = minus[i]! - h;
      const numeric = ((await loss(new Map(initial).set(p.name, plus))) - (await loss(new Map(initial).set(p.name, minus)))) / (2 * h);
      worstRel = Math.max(worstRel, Math.abs(numeric - g[i]!) / Math.max(1e-6, Math.abs(numeric) + Math.abs(g[i]!)));
    }
    worst.push(`${p.name} ${worstRel.toExponential(1)}`);
    if (worstRel > 0.05) throw new Error(`gradient of ${p.name} disagrees with finite differences (relative ${worstRel})`);
  }
  gradientCheck = worst.join(', ');
  console.log(`gradient check (largest relative difference of 3 entries per tensor): ${gradientCheck}`);
}

// ---- the head, in TF.js
const tf = await readyTf();
interface Run { name: string; accuracy: number[]; seconds: number; stepMs: number; trunkMs: number }

async function trainRun(trunkLr: number | undefined): Promise<Run> {
  const random = rng(7);
  const init = (fanIn: number, size: number) => Float32Array.from({ length: size }, () => (random() * 2 - 1) * Math.sqrt(6 / fanIn));
  const w1 = tf.variable(tf.tensor2d(init(OUT, OUT * 512), [OUT, 512]));
  const b1 = tf.variable(tf.zeros([512]));
  const w2 = tf.variable(tf.tensor2d(init(512, 512 * CLASSES), [512, CLASSES]));
  const b2 = tf.variable(tf.zeros([CLASSES]));
  const headVars = [w1, b1, w2, b2];
  const optimizer = tf.train.adam(HEAD_LR);
  // Seeded masks, one seed per training call, so a rerun repeats the run exactly.
  let dropoutSeed = 0;
  const logits = (f: import('@tensorflow/tfjs').Tensor2D, training: boolean) => {
    let h = tf.relu(tf.add(tf.matMul(f, w1), b1));
    if (training) h = tf.dropout(h, 0.5, undefined, 7 * 100003 + dropoutSeed++);
    return tf.add(tf.matMul(h, w2), b2) as import('@tensorflow/tfjs').Tensor2D;
  };
  // The trainable layers' weights and Adam state (decoupled weight decay toward zero, as for the head).
  const current: Values = new Map(params.map((p) => [p.name, Float32Array.from(p.init)]));
  const moments = new Map(params.map((p) => [p.name, { m: new Float32Array(p.init.length), v: new Float32Array(p.init.length) }]));
  let t = 0;
  const adamw = (p: Float32Array, g: Float32Array, mm: Float32Array, vv: Float32Array, lr: number) => {
    const c1 = 1 - 0.9 ** t;
    const c2 = 1 - 0.999 ** t;
    for (let i = 0; i < p.length; i++) {
      mm[i] = 0.9 * mm[i]! + 0.1 * g[i]!;
      vv[i] = 0.999 * vv[i]! + 0.001 * g[i]! * g[i]!;
      p[i] = p[i]! - lr * ((mm[i]! / c1) / (Math.sqrt(vv[i]! / c2) + 1e-8) + WEIGHT_DECAY * p[i]!);
    }
  };
  const accuracy: number[] = [];
  const order = Int32Array.from({ length: train.rows }, (_, i) => i);
  let trunkMs = 0;
  let steps = 0;
  const started = performance.now();
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start + BATCH <= order.length; start += BATCH) {
      const rows = order.subarray(start, start + BATCH);
      const labels = tf.oneHot(tf.tensor1d(Array.from(rows, (r) => trainLabels[r]!), 'int32'), CLASSES);
      let pooled: Float32Array;
      let x: NamedTensor | undefined;
      let saved: Record<string, NamedTensor> = {};
      const t0 = performance.now();
      if (trunkLr === undefined) {
        pooled = new Float32Array(rows.length * OUT);
        rows.forEach((r, i) => pooled.set(train.pooled.subarray(r * OUT, (r + 1) * OUT), i * OUT));
      } else {
        x = gather(train, rows);
        const out = await runForward(x, current);
        pooled = out.f!.data;
        saved = Object.fromEntries(Object.entries(out).filter(([k]) => k !== 'f'));
      }
      trunkMs += performance.now() - t0;
      const f = tf.variable(tf.tensor2d(pooled, [rows.length, OUT]), true);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, logits(f as unknown as import('@tensorflow/tfjs').Tensor2D, true), undefined, 0.1) as import('@tensorflow/tfjs').Scalar, [...headVars, f]);
      optimizer.applyGradients(Object.fromEntries(headVars.map((hv) => [hv.name, grads[hv.name]!])) as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      tf.tidy(() => headVars.forEach((hv) => hv.assign(tf.sub(hv, tf.mul(hv, HEAD_LR * WEIGHT_DECAY)))));
      t++;
      if (trunkLr !== undefined && x) {
        const df = grads[f.name]!.dataSync() as Float32Array;
        const t1 = performance.now();
        const back = await runGradient(x, saved, df, current);
        for (const p of params) adamw(current.get(p.name)!, back[`g_${p.name}`]!.data, moments.get(p.name)!.m, moments.get(p.name)!.v, trunkLr);
        trunkMs += performance.now() - t1;
      }
      tf.dispose([labels, f, ...Object.values(grads)]);
      steps++;
    }
    // Held-out accuracy after each epoch.
    let correct = 0;
    for (let start = 0; start < val.rows; start += 128) {
      const rows = Int32Array.from({ length: Math.min(128, val.rows - start) }, (_, i) => start + i);
      const pooled = (await runForward(gather(val, rows), trunkLr === undefined ? initial : current)).f!.data;
      const predicted = tf.tidy(() => tf.argMax(logits(tf.tensor2d(pooled, [rows.length, OUT]), false), 1).dataSync());
      rows.forEach((r, i) => (correct += predicted[i] === valLabels[r] ? 1 : 0));
    }
    accuracy.push(correct / val.rows);
    console.log(`${trunkLr === undefined ? 'frozen' : `trainable (lr ${trunkLr})`} epoch ${epoch + 1}: val accuracy ${accuracy.at(-1)!.toFixed(3)} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  tf.dispose(headVars);
  const trained = LAYERS === 'conv_1' ? 'Conv_1' : 'block 16 + Conv_1';
  return { name: trunkLr === undefined ? 'frozen trunk (as the backbone has it)' : `${trained} trainable, lr ${trunkLr}`, accuracy, seconds: (performance.now() - started) / 1000, stepMs: (performance.now() - started) / steps, trunkMs: trunkMs / steps };
}

const runs: Run[] = [await trainRun(undefined)];
for (const lr of TRUNK_LRS) runs.push(await trainRun(lr));
const flop = BATCH * (forwardFlopsPerRow + backwardFlopsPerRow);
const table = runs.map(
  (r) =>
    `| ${r.name} | ${r.accuracy.map((a) => a.toFixed(3)).join(' ')} | ${r.accuracy.at(-1)!.toFixed(3)} | ${r.seconds.toFixed(0)} s | ${r.stepMs.toFixed(0)} | ${
      r.name.startsWith('frozen') ? '-' : `${r.trunkMs.toFixed(0)} ms, ${(flop / (r.trunkMs / 1000) / 1e9).toFixed(0)} GFLOP/s`
    } |`,
);
const what =
  LAYERS === 'conv_1'
    ? 'Conv_1 itself trainable (1x1 conv 448 -> 1792 at 7x7, batch norm folded, ReLU6; fed the cached 7x7x448 activations below it)'
    : "block 16 and Conv_1 trainable (expand 1x1 224 -> 1344, ReLU6, depthwise 3x3, ReLU6, project 1x1 -> 448, Conv_1 1x1 -> 1792, ReLU6; batch norms folded; fed block 15's cached 7x7x224 output)";
const section = `### ${LAYERS === 'conv_1' ? 'Conv_1' : 'Block 16 and Conv_1'} trainable

Command: \`node --import tsx bench/upper-trunk.ts --layers ${LAYERS} --epochs ${EPOCHS} --trunk-lr ${TRUNK_LRS.join(',')}${values.limit ? ` --limit ${values.limit}` : ''}\`. Machine: ${machine()}.
Grocery fine classes (${CLASSES}): ${trainSamples.length} training images (train.txt and the catalog images), each also mirrored (${train.rows} rows), scored on the ${val.rows} photos of val.txt.
The same head (1792 -> 512 -> ${CLASSES}, ReLU, dropout 0.5, Adam at ${HEAD_LR} with decoupled weight decay ${WEIGHT_DECAY}, label smoothing 0.1, batch ${BATCH}, ${EPOCHS} epochs, constant rates, the same seeded initialisation, shuffling and dropout masks) trained on the frozen trunk's
average-pooled Conv_1 features, and with ${what}, initialised from the backbone, Adam with decoupled weight decay at the rate shown.
The trainable layers' forward pass and gradients are ONNX Runtime graphs; the head runs in TF.js (wasm) and hands back the gradient with respect to the pooled features.
Checks: the re-created layers reproduce the backbone's pooled output to ${maxPooledDiff.toExponential(1)}; the gradient graph agrees with central finite differences (largest relative difference over the 3 largest entries of each tensor: ${gradientCheck}). Caching the activations: ${extractSeconds}.

| model | val accuracy per epoch | final | train time | ms per step | trainable layers per step (forward + gradients) |
|---|---|---|---|---|---|
${table.join('\n')}

Peak RSS: ${peakRssMiB().toFixed(0)} MiB.`;
if (values.print) console.log(section);
else await writeSection(`upper-trunk-${LAYERS.replace('_', '')}`, section);
console.log(os.cpus().length, 'cores');
