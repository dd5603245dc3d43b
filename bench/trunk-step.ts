// One training step of the trainable trunk (issue: unified training): block 15, block 16 and
// Conv_1 as the product trainer runs them (src/train/block15.ts, src/train/upper-trunk.ts), on
// 7x7 maps of a batch of images, with the backbone's own weights: each ONNX Runtime graph's
// median time over the repeats and its rate in GFLOP/s (the layers' nominal multiply-adds:
// 1x1 convs, and the depthwise convs counted as 9 per position and channel, as a direct conv does
// them, whatever the graph does instead). A trunk epoch of the shipped config is ~227 such
// steps of 128 images, plus the heads' own step in TF.js.
// Run: node --import tsx bench/trunk-step.ts [--batch 128] [--repeats 9] [--print]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BLOCK15, pretrainedBlock15 } from '../src/model/upper-trunk/block15.ts';
import { BLOCK16, pretrainedUpperTrunk, UPPER_TRUNK_BACKBONE } from '../src/model/upper-trunk/block16.ts';
import { Block15Graphs } from '../src/train/block15.ts';
import { UpperTrunkGraphs } from '../src/train/upper-trunk.ts';
import { rng } from '../src/util/random.ts';
import { machine, peakRssMiB, writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '128' },
    repeats: { type: 'string', default: '9' },
    print: { type: 'boolean', default: false },
  },
});
const BATCH = Number(values.batch);
const REPEATS = Number(values.repeats);
if (!Number.isInteger(BATCH) || BATCH < 1 || !Number.isInteger(REPEATS) || REPEATS < 1) throw new Error('--batch and --repeats must be positive integers');
const SIDE = 7;
const ROWS = BATCH * SIDE * SIDE;

// Nominal multiply-adds per map position.
const block15Forward = 2 * BLOCK15.in * BLOCK15.expand + 9 * BLOCK15.expand;
const block16Forward = BLOCK16.in * BLOCK16.expand + 9 * BLOCK16.expand + BLOCK16.expand * BLOCK16.project + BLOCK16.project * BLOCK16.out;
const flops = {
  block15Forward: 2 * ROWS * block15Forward,
  upperForward: 2 * ROWS * block16Forward,
  // Kernel gradients and input gradients of every layer (block 16's input gradient feeds block 15).
  upperGradient: 2 * ROWS * 2 * block16Forward,
  // Block 15's kernel gradients and its depthwise input gradient; its own input gradient is not needed.
  block15Gradient: 2 * ROWS * (block15Forward + BLOCK15.expand * BLOCK15.out + 9 * BLOCK15.expand),
};

const random = rng(5);
// Block-14 maps look like ReLU6 outputs summed with a shortcut: non-negative, a few units wide.
const maps = Float32Array.from({ length: ROWS * BLOCK15.in }, () => Math.max(0, random() * 4 - 1));
const upstream = Float32Array.from({ length: BATCH * BLOCK16.out }, () => (random() - 0.5) * 1e-3);
const block15 = await Block15Graphs.create(SIDE, SIDE);
const upper = await UpperTrunkGraphs.create(SIDE, SIDE, 'pooled', true);
const block15Weights = pretrainedBlock15();
const upperWeights = pretrainedUpperTrunk(UPPER_TRUNK_BACKBONE);

const times: Record<keyof typeof flops, number[]> = { block15Forward: [], upperForward: [], upperGradient: [], block15Gradient: [] };
const steps: number[] = [];
for (let i = 0; i <= REPEATS; i++) {
  const t0 = performance.now();
  const below = await block15.forward(maps, block15Weights);
  const t1 = performance.now();
  const forward = await upper.forward(below.output, upperWeights);
  const t2 = performance.now();
  const gradients = await forward.gradients(upstream);
  const t3 = performance.now();
  await below.gradients(gradients.input!);
  const t4 = performance.now();
  if (i === 0) continue; // the first run allocates
  times.block15Forward.push(t1 - t0);
  times.upperForward.push(t2 - t1);
  times.upperGradient.push(t3 - t2);
  times.block15Gradient.push(t4 - t3);
  steps.push(t4 - t0);
}
await block15.close();
await upper.close();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const names: Record<keyof typeof flops, string> = {
  block15Forward: 'block 15 forward',
  upperForward: 'block 16 + Conv_1 forward (pooled features)',
  upperGradient: 'block 16 + Conv_1 gradients (weights and input)',
  block15Gradient: 'block 15 gradients (weights)',
};
const rows = (Object.keys(flops) as (keyof typeof flops)[]).map((k) => `| ${names[k]} | ${median(times[k]).toFixed(0)} | ${(flops[k] / median(times[k]) / 1e6).toFixed(1)} |`);
const total = Object.values(flops).reduce((a, b) => a + b, 0);
const markdown = `### One training step of blocks 15 and 16 with Conv_1

Command: \`node --import tsx bench/trunk-step.ts --batch ${BATCH} --repeats ${REPEATS}\`. Machine: ${machine()}.
${BATCH} images of 7x7x224 block-14 maps (random, non-negative), the backbone's own weights, ONNX Runtime on the CPU with ${os.availableParallelism()} intra-op threads, as the trainer creates its sessions; median of ${REPEATS} steps after one unmeasured step. GFLOP/s counts the layers' nominal multiply-adds (depthwise convs at 9 per position and channel).

| graph | ms | GFLOP/s |
|---|---|---|
${rows.join('\n')}
| **whole step** | **${median(steps).toFixed(0)}** | **${(total / median(steps) / 1e6).toFixed(1)}** (${(BATCH / (median(steps) / 1000)).toFixed(0)} images/s) |

Peak RSS: ${peakRssMiB().toFixed(0)} MiB.`;
if (values.print) console.log(markdown);
else await writeSection('trunk-step', markdown);
