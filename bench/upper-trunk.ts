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
// Run: node --import tsx bench/upper-trunk.ts [--datasets ../shared/datasets] [--epochs 8] [--trunk-lr 1e-4,3e-4] [--limit N]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { OnnxSession, type NamedTensor } from '../src/model/backend/onnxruntime.ts';
import { backboneOnnx } from '../src/model/backbones/convert-backbone.ts';
import { backboneSpec } from '../src/model/backbones/registry.ts';
import { cacheDir, cacheKey } from '../src/model/cache.ts';
import { GraphBuilder } from '../src/model/onnx/graph-builder.ts';
import { loadPackagedTfjsModel } from '../src/model/tfjs/packaged-models.ts';
import { decodeTfjsWeights } from '../src/model/tfjs/weights.ts';
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
    print: { type: 'boolean', default: false },
  },
});
const EPOCHS = Number(values.epochs);
const BATCH = Number(values.batch);
const HEAD_LR = Number(values['head-lr']);
const TRUNK_LRS = values['trunk-lr']!.split(',').map(Number);
const WEIGHT_DECAY = 0.05;
const POSITIONS = 49;
const IN = 448;
const OUT = 1792;

const spec = backboneSpec('nsfwjs/mobilenet_v2_mid');
const PREFIX = spec.tensors.conv_1!.node.replace('/MobilenetV2/Conv_1/Relu6', '/MobilenetV2');
const CONV1_INPUT = `${PREFIX}/expanded_conv_16/project/BatchNorm/FusedBatchNormV3`;
const CONV1_OUTPUT = spec.tensors.conv_1!.node;

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

// ---- Conv_1's input maps and pooled output, cached on disk for reruns
interface Maps { x: Float32Array; pooled: Float32Array; rows: number }
const extractTimes: string[] = [];
async function extract(refs: string[], name: string): Promise<Maps> {
  const dir = path.join(cacheDir(), 'upper-trunk');
  const file = path.join(dir, `${name}-${cacheKey(...refs)}.f32`);
  const per = POSITIONS * IN + OUT;
  const cached = await readFile(file).catch(() => undefined);
  let all: Float32Array;
  if (cached && cached.byteLength === refs.length * per * 4) {
    all = new Float32Array(cached.buffer, cached.byteOffset, cached.byteLength / 4);
  } else {
    const graph = await backboneOnnx(spec.id, [CONV1_INPUT, CONV1_OUTPUT]);
    const session = await OnnxSession.create(graph.bytes);
    all = new Float32Array(refs.length * per);
    const started = performance.now();
    for (let start = 0; start < refs.length; start += 16) {
      const batch = refs.slice(start, start + 16);
      const tensors = await Promise.all(batch.map((r) => loadViewTensor(r, spec.input)));
      const input = new Float32Array(tensors.length * tensors[0]!.length);
      tensors.forEach((t, i) => input.set(t, i * t.length));
      const out = await session.run(session.inputNames[0]!, input, [batch.length, 224, 224, 3], [CONV1_INPUT, CONV1_OUTPUT]);
      for (let i = 0; i < batch.length; i++) {
        const row = (start + i) * per;
        all.set(out[CONV1_INPUT]!.data.subarray(i * POSITIONS * IN, (i + 1) * POSITIONS * IN), row);
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
const extractSeconds = extractTimes.length ? extractTimes.join(', ') : `read from ~/.cache/groknet/upper-trunk (extracted by an earlier run: ${train.rows + val.rows} rows took 79 s)`;

// ---- Conv_1's weights (batch norm folded by the TF.js export) as [448, 1792] and [1792]
const weights = decodeTfjsWeights(loadPackagedTfjsModel(spec.id));
const kernel = weights.get(`${PREFIX}/Conv_1/Conv2D_weights`)!;
const offset = weights.get(`${PREFIX}/Conv_1/Conv2D_bn_offset`)!;
if (kernel.shape.join('x') !== `1x1x${IN}x${OUT}`) throw new Error(`unexpected Conv_1 kernel ${kernel.shape}`);
const W0 = Float32Array.from(kernel.data); // HWIO with H = W = 1: already [in, out]
const B0 = Float32Array.from(offset.data);

// ---- ONNX Runtime graphs: forward (pooled features and pre-activations) and weight gradient
function forwardGraph(): Uint8Array {
  const g = new GraphBuilder('conv1_forward');
  const x = g.input('x', ['n', IN]);
  const w = g.input('w', [IN, OUT]);
  const b = g.input('b', [OUT]);
  const z = g.op1('Add', [g.op1('MatMul', [x, w]), b]);
  g.opInto('Identity', [z], ['z']);
  const a = g.op1('Clip', [z, g.constFloat('zero', [], [0]), g.constFloat('six', [], [6])]);
  const grouped = g.op1('Reshape', [a, g.constInt64('grouped', [3], [-1, POSITIONS, OUT])]);
  g.opInto('ReduceMean', [grouped], ['f'], { axes: [1], keepdims: 0 });
  g.output('f', ['batch', OUT]);
  g.output('z', ['n', OUT]);
  return g.toModel();
}
function gradientGraph(): Uint8Array {
  const g = new GraphBuilder('conv1_gradient');
  const x = g.input('x', ['n', IN]);
  const z = g.input('z', ['n', OUT]);
  const df = g.input('df', ['batch', OUT]);
  // d pooled / d activation = 1/49 at every position; ReLU6 passes gradient where 0 < z < 6.
  const spread = g.op1('Expand', [g.op1('Unsqueeze', [g.op1('Mul', [df, g.constFloat('inv', [], [1 / POSITIONS])]), g.constInt64('axis1', [1], [1])]), g.constInt64('spread', [3], [1, POSITIONS, 1])]);
  const da = g.op1('Reshape', [spread, g.constInt64('flat', [2], [-1, OUT])]);
  const open = g.op1('Cast', [g.op1('And', [g.op1('Greater', [z, g.constFloat('zero', [], [0])]), g.op1('Less', [z, g.constFloat('six', [], [6])])])], { to: 1 });
  const dz = g.op1('Mul', [da, open]);
  g.opInto('MatMul', [g.op1('Transpose', [x], { perm: [1, 0] }), dz], ['dw']);
  g.opInto('ReduceSum', [dz, g.constInt64('axis0', [1], [0])], ['db'], { keepdims: 0 });
  g.output('dw', [IN, OUT]);
  g.output('db', [OUT]);
  return g.toModel();
}
const forward = await OnnxSession.create(forwardGraph());
const gradient = await OnnxSession.create(gradientGraph());

// Check: the graph with the backbone's weights reproduces the backbone's pooled Conv_1.
let maxPooledDiff = 0;
{
  const rows = Math.min(8, val.rows);
  const out = await forward.runMany({ x: { data: val.x.subarray(0, rows * POSITIONS * IN), dims: [rows * POSITIONS, IN] }, w: { data: W0, dims: [IN, OUT] }, b: { data: B0, dims: [OUT] } }, ['f']);
  for (let i = 0; i < rows * OUT; i++) maxPooledDiff = Math.max(maxPooledDiff, Math.abs(out.f!.data[i]! - val.pooled[i]!));
  console.log(`Conv_1 re-created: max |pooled difference| vs the backbone ${maxPooledDiff.toExponential(2)}`);
  if (maxPooledDiff > 1e-3) throw new Error('the re-created Conv_1 does not match the backbone');
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
  const logits = (f: import('@tensorflow/tfjs').Tensor2D, training: boolean) => {
    let h = tf.relu(tf.add(tf.matMul(f, w1), b1));
    if (training) h = tf.dropout(h, 0.5);
    return tf.add(tf.matMul(h, w2), b2) as import('@tensorflow/tfjs').Tensor2D;
  };
  // Conv_1's own weights and Adam state (decoupled weight decay toward zero, as for the head).
  const W = Float32Array.from(W0);
  const B = Float32Array.from(B0);
  const m = { w: new Float32Array(W.length), b: new Float32Array(B.length) };
  const v = { w: new Float32Array(W.length), b: new Float32Array(B.length) };
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
  const features = async (maps: Maps, rows: Int32Array, w: Float32Array, b: Float32Array) => {
    const x = new Float32Array(rows.length * POSITIONS * IN);
    rows.forEach((r, i) => x.set(maps.x.subarray(r * POSITIONS * IN, (r + 1) * POSITIONS * IN), i * POSITIONS * IN));
    const xs: NamedTensor = { data: x, dims: [rows.length * POSITIONS, IN] };
    const out = await forward.runMany({ x: xs, w: { data: w, dims: [IN, OUT] }, b: { data: b, dims: [OUT] } });
    return { x: xs, f: out.f!, z: out.z! };
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
      let fwd: Awaited<ReturnType<typeof features>> | undefined;
      const t0 = performance.now();
      if (trunkLr === undefined) {
        pooled = new Float32Array(rows.length * OUT);
        rows.forEach((r, i) => pooled.set(train.pooled.subarray(r * OUT, (r + 1) * OUT), i * OUT));
      } else {
        fwd = await features(train, rows, W, B);
        pooled = fwd.f.data;
      }
      trunkMs += performance.now() - t0;
      const f = tf.variable(tf.tensor2d(pooled, [rows.length, OUT]), true);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, logits(f as unknown as import('@tensorflow/tfjs').Tensor2D, true), undefined, 0.1) as import('@tensorflow/tfjs').Scalar, [...headVars, f]);
      optimizer.applyGradients(Object.fromEntries(headVars.map((hv) => [hv.name, grads[hv.name]!])) as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      tf.tidy(() => headVars.forEach((hv) => hv.assign(tf.sub(hv, tf.mul(hv, HEAD_LR * WEIGHT_DECAY)))));
      t++;
      if (trunkLr !== undefined && fwd) {
        const df = grads[f.name]!.dataSync() as Float32Array;
        const t1 = performance.now();
        const back = await gradient.runMany({ x: fwd.x, z: fwd.z, df: { data: df, dims: [rows.length, OUT] } });
        adamw(W, back.dw!.data, m.w, v.w, trunkLr);
        adamw(B, back.db!.data, m.b, v.b, trunkLr);
        trunkMs += performance.now() - t1;
      }
      tf.dispose([labels, f, ...Object.values(grads)]);
      steps++;
    }
    // Held-out accuracy after each epoch.
    let correct = 0;
    for (let start = 0; start < val.rows; start += 128) {
      const rows = Int32Array.from({ length: Math.min(128, val.rows - start) }, (_, i) => start + i);
      const pooled = (await features(val, rows, trunkLr === undefined ? W0 : W, trunkLr === undefined ? B0 : B)).f.data;
      const predicted = tf.tidy(() => tf.argMax(logits(tf.tensor2d(pooled, [rows.length, OUT]), false), 1).dataSync());
      rows.forEach((r, i) => (correct += predicted[i] === valLabels[r] ? 1 : 0));
    }
    accuracy.push(correct / val.rows);
    console.log(`${trunkLr === undefined ? 'frozen' : `trainable (lr ${trunkLr})`} epoch ${epoch + 1}: val accuracy ${accuracy.at(-1)!.toFixed(3)} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  tf.dispose(headVars);
  return { name: trunkLr === undefined ? 'frozen trunk (Conv_1 as the backbone has it)' : `Conv_1 trainable, lr ${trunkLr}`, accuracy, seconds: (performance.now() - started) / 1000, stepMs: (performance.now() - started) / steps, trunkMs: trunkMs / steps };
}

const runs: Run[] = [await trainRun(undefined)];
for (const lr of TRUNK_LRS) runs.push(await trainRun(lr));
const flop = 2 * 2 * BATCH * POSITIONS * IN * OUT; // forward MatMul + weight-gradient MatMul
const table = runs.map(
  (r) =>
    `| ${r.name} | ${r.accuracy.map((a) => a.toFixed(3)).join(' ')} | ${r.accuracy.at(-1)!.toFixed(3)} | ${r.seconds.toFixed(0)} s | ${r.stepMs.toFixed(0)} | ${
      r.name.startsWith('Conv_1') ? `${r.trunkMs.toFixed(0)} ms, ${(flop / (r.trunkMs / 1000) / 1e9).toFixed(0)} GFLOP/s` : '-'
    } |`,
);
const section = `## Trainable upper trunk: Conv_1 trained through ONNX Runtime (issue: unified training)

Command: \`node --import tsx bench/upper-trunk.ts --epochs ${EPOCHS} --trunk-lr ${TRUNK_LRS.join(',')}\`${values.limit ? ` --limit ${values.limit}` : ''}. Machine: ${machine()}.
Grocery fine classes (${CLASSES}): ${trainSamples.length} training images (train.txt and the catalog images), each also mirrored (${train.rows} rows), scored on the ${val.rows} photos of val.txt.
The same head (1792 -> 512 -> ${CLASSES}, ReLU, dropout 0.5, Adam at ${HEAD_LR} with decoupled weight decay ${WEIGHT_DECAY}, label smoothing 0.1, batch ${BATCH}, ${EPOCHS} epochs, constant rates, the same seeded initialisation and shuffling; TF.js's dropout masks are not seeded, so reruns differ) trained on the frozen trunk's
average-pooled Conv_1 features, and with Conv_1 itself trainable (1x1 conv 448 -> 1792 at 7x7, batch norm folded, ReLU6; initialised from the backbone, fed the cached
7x7x448 activations below it; Adam with decoupled weight decay at the rate shown). Conv_1's forward pass and weight gradient are two ONNX Runtime graphs
(MatMul, Clip, ReduceMean; the gate of ReLU6, Transpose, MatMul), the head runs in TF.js (wasm) and hands back the gradient with respect to the pooled features.
The re-created Conv_1 reproduces the backbone's pooled output to ${maxPooledDiff.toExponential(1)}. Caching the activations: ${extractSeconds}.

| model | val accuracy per epoch | final | train time | ms per step | Conv_1 forward + weight gradient per step |
|---|---|---|---|---|---|
${table.join('\n')}

Peak RSS: ${peakRssMiB().toFixed(0)} MiB.`;
if (values.print) console.log(section);
else await writeSection('upper-trunk', section);
