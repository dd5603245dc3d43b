// Training throughput next to what the hardware can do: one AdamW step of groknet's head
// MLP (1792 -> 512 -> heads, batch 128) on TF.js's wasm and cpu backends, against ONNX
// Runtime's float32 MatMul on the same machine as a practical ceiling.
// Run: node --import tsx bench/train-throughput.ts
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/model/onnx/graph-builder.ts';
import { matMul } from '../src/train/mat-mul.ts';
import { tf } from '../src/train/tf.ts';
import { machine, writeSection } from './report.ts';

const BATCH = 128;
const IN = 1792;
const HIDDEN = 512;
const OUT = 18 + 81 + 43 + 10 + 55 + 256; // the shipped heads and the embedding
const stepFlops = 3 * 2 * BATCH * (IN * HIDDEN + HIDDEN * OUT); // forward + two backward matmuls per layer
const stepFlopsNoInputGradient = stepFlops - 2 * BATCH * IN * HIDDEN; // the first layer's input needs no gradient

type Product = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
/** TF.js's own product: its gradient uses MatMul with transpose flags. */
const flagged: Product = (a, b) => tf.matMul(a, b);
/** The trainer's (src/train/mat-mul.ts): explicit transposes, no flags, no gradient for the input features. */
const trainers: Product = (a, b) => matMul(a, b);

async function tfjsStep(backend: 'wasm' | 'cpu', product: Product = flagged, firstLayer: Product = product): Promise<number> {
  await tf.setBackend(backend);
  await tf.ready();
  const x = tf.randomNormal([BATCH, IN]);
  const w1 = tf.variable(tf.randomNormal([IN, HIDDEN], 0, 0.02));
  const w2 = tf.variable(tf.randomNormal([HIDDEN, OUT], 0, 0.02));
  const y = tf.oneHot(tf.randomUniform([BATCH], 0, OUT, 'int32'), OUT);
  const optimizer = tf.train.adam(1e-3);
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, product(tf.relu(firstLayer(x as tf.Tensor2D, w1 as tf.Tensor2D)) as tf.Tensor2D, w2 as tf.Tensor2D)) as tf.Scalar);
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const repeats = backend === 'wasm' ? 20 : 5;
  const start = performance.now();
  for (let i = 0; i < repeats; i++) step();
  const seconds = (performance.now() - start) / 1000 / repeats;
  tf.dispose([x, w1, w2, y]);
  optimizer.dispose();
  return seconds;
}

async function ortMatmulGflops(threads: number): Promise<number> {
  const n = 1024;
  const g = new GraphBuilder('mm');
  g.input('a', [n, n]);
  g.input('b', [n, n]);
  g.opInto('MatMul', ['a', 'b'], ['c']);
  g.output('c', [n, n]);
  const session = await ort.InferenceSession.create(g.toModel(), { intraOpNumThreads: threads });
  const a = new ort.Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]);
  await session.run({ a, b: a });
  const repeats = 10;
  const start = performance.now();
  for (let i = 0; i < repeats; i++) await session.run({ a, b: a });
  const seconds = (performance.now() - start) / 1000 / repeats;
  return (2 * n ** 3) / seconds / 1e9;
}

const wasm = await tfjsStep('wasm');
const wasmTrainer = await tfjsStep('wasm', trainers, (a, b) => matMul(a, b, true));
const cpu = await tfjsStep('cpu');
const ort1 = await ortMatmulGflops(1);
const ort2 = await ortMatmulGflops(2);
const rows = [
  `| TF.js wasm (SIMD, 1 thread), tf.matMul | ${(wasm * 1000).toFixed(0)} | ${(stepFlops / wasm / 1e9).toFixed(1)} |`,
  `| TF.js wasm (SIMD, 1 thread), the trainer's matMul (src/train/mat-mul.ts) | ${(wasmTrainer * 1000).toFixed(0)} | ${(stepFlopsNoInputGradient / wasmTrainer / 1e9).toFixed(1)} (of ${(stepFlopsNoInputGradient / 1e9).toFixed(2)} GFLOP: no gradient for the input features) |`,
  `| TF.js cpu (pure JS) | ${(cpu * 1000).toFixed(0)} | ${(stepFlops / cpu / 1e9).toFixed(1)} |`,
];
await writeSection(
  'train-throughput',
  `## Training throughput (issue: unified training)

Command: \`node --import tsx bench/train-throughput.ts\`. Machine: ${machine()}.
One AdamW step of the head MLP (${IN} -> ${HIDDEN} -> ${OUT} outputs, batch ${BATCH}; ${(stepFlops / 1e9).toFixed(2)} GFLOP per step).
TF.js differentiates a product as MatMul with its transpose flags set, and the wasm backend runs flagged products in a slow loop;
the trainer's own product (src/train/mat-mul.ts) transposes the operand first and multiplies without flags (same gradients, to float rounding: test/train/mat-mul.test.ts):

| backend | ms per step | GFLOP/s |
|---|---|---|
${rows.join('\n')}

Ceiling on this machine: ONNX Runtime's float32 MatMul (1024x1024) runs at ${ort1.toFixed(1)} GFLOP/s on 1 thread and ${ort2.toFixed(1)} GFLOP/s on 2.
The trainer uses the wasm backend (src/train/tf.ts); its threads do not start in Node (the worker is given a blob: URL), so it uses one core.
Back-propagating through the backbone's last 1x1 conv (Conv_1, 448 -> 1792 channels at 7x7) would cost ${((3 * 2 * 49 * 448 * 1792) / 1e6).toFixed(0)} MFLOP per image per step,
about ${((3 * 2 * 49 * 448 * 1792 * 8000) / (stepFlopsNoInputGradient / wasmTrainer) / 60).toFixed(0)} minutes per epoch of 8,000 images at the trainer's wasm rate measured above. As ONNX Runtime graphs instead
(forward pass and weight gradient, the head's gradient handed over from TF.js) it trains at ~90 GFLOP/s, ~10 s per epoch of 5,400 images: section "Trainable upper trunk" (bench/upper-trunk.ts).`,
);
console.log(rows.join('\n'), { ort1, ort2 });
