// Block 15 as trainable layers under the upper trunk: the re-created block reproduces the
// backbone, its exported inference graph agrees with its training graph, and the gradient
// chained through the upper trunk (block 16 + Conv_1, per map position) agrees with finite
// differences, for block 15's weights and for the upper trunk's input; and the product
// trainer's trunk with block 15 in it steps both blocks and checkpoints them.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { OnnxSession } from '../../src/model/backend/onnxruntime.ts';
import { backboneOnnx } from '../../src/model/backbones/convert-backbone.ts';
import { backboneSpec } from '../../src/model/backbones/registry.ts';
import { GraphBuilder } from '../../src/model/onnx/graph-builder.ts';
import { appendBlock15, BLOCK15, BLOCK15_PARAMS, block15InputNode, pretrainedBlock15, type Block15Weights } from '../../src/model/upper-trunk/block15.ts';
import { pretrainedUpperTrunk, upperTrunkInputNode, type UpperTrunkWeights } from '../../src/model/upper-trunk/block16.ts';
import { loadViewTensor } from '../../src/train/augment.ts';
import { Block15AdamW, Block15Graphs } from '../../src/train/block15.ts';
import { UpperTrunkGraphs, upperTrunkTraining } from '../../src/train/upper-trunk.ts';
import { packHalf } from '../../src/util/float16.ts';
import { rng } from '../../src/util/random.ts';

const SIDE = 7;
let block15: Block15Weights;
let upper: UpperTrunkWeights;
let graphs: Block15Graphs;
let upperGraphs: UpperTrunkGraphs;
/** Real block-14 and block-15 maps of two generated photos. */
let block14Maps: Float32Array;
let block15Maps: Float32Array;

before(async () => {
  process.env.GROKNET_CACHE ??= await mkdtemp(path.join(os.tmpdir(), 'groknet-block15-'));
  block15 = pretrainedBlock15();
  upper = pretrainedUpperTrunk('nsfwjs/mobilenet_v2_mid');
  graphs = await Block15Graphs.create(SIDE, SIDE);
  upperGraphs = await UpperTrunkGraphs.create(SIDE, SIDE, 'map', true);
  const spec = backboneSpec('nsfwjs/mobilenet_v2_mid');
  const session = await OnnxSession.create((await backboneOnnx(spec.id, [block15InputNode(), upperTrunkInputNode()])).bytes);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-block15-img-'));
  const tensors: Float32Array[] = [];
  for (const [i, colour] of ['#3a3', '#c6c'].entries()) {
    const file = path.join(dir, `${i}.png`);
    await sharp({ create: { width: 160, height: 120, channels: 3, background: '#ddd' } })
      .composite([{ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><rect x="${30 + i * 40}" y="20" width="70" height="80" fill="${colour}"/></svg>`) }])
      .png()
      .toFile(file);
    tensors.push(await loadViewTensor(file, spec.input));
  }
  const input = new Float32Array(tensors.length * tensors[0]!.length);
  tensors.forEach((t, i) => input.set(t, i * t.length));
  const out = await session.run(session.inputNames[0]!, input, [2, 224, 224, 3], [block15InputNode(), upperTrunkInputNode()]);
  block14Maps = out[block15InputNode()]!.data;
  block15Maps = out[upperTrunkInputNode()]!.data;
  await session.close();
});

after(async () => {
  await graphs.close();
  await upperGraphs.close();
});

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const largest = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function moved(seed: number): Block15Weights {
  const random = rng(seed);
  return Object.fromEntries(BLOCK15_PARAMS.map((p) => [p, block15[p].map((v) => v * (1 + 0.2 * (random() - 0.5)))])) as Block15Weights;
}

test('with the backbone weights, the training graph reproduces the backbone block 15 (shortcut included)', async () => {
  assert.equal(block14Maps.length, 2 * SIDE * SIDE * BLOCK15.in);
  const { output } = await graphs.forward(block14Maps, block15);
  assert.ok(maxDiff(output, block15Maps) < 1e-4 * Math.max(1, largest(block15Maps)), `max difference ${maxDiff(output, block15Maps)}`);
  // The block changes its input: agreement is not the shortcut alone.
  assert.ok(maxDiff(block14Maps, block15Maps) > 1e-2);
  // Inference: the same output, nothing kept for a gradient.
  const inference = await graphs.forward(block14Maps, block15, { gradients: false });
  assert.deepEqual(inference.output, output);
  await assert.rejects(inference.gradients(new Float32Array(output.length)), /without gradients/);
});

test('the exported inference graph computes what the training graph computes', async () => {
  const weights = moved(4);
  const g = new GraphBuilder('block15_only');
  const input = g.input('maps', ['batch', 'h', 'w', BLOCK15.in]);
  g.opInto('Identity', [appendBlock15(g, input, weights)], ['out']);
  g.output('out', ['batch', 'h', 'w', BLOCK15.out]);
  const session = await OnnxSession.create(g.toModel());
  const exported = (await session.run('maps', block14Maps, [2, SIDE, SIDE, BLOCK15.in], ['out'])).out!.data;
  await session.close();
  const trained = (await graphs.forward(block14Maps, weights)).output;
  assert.ok(maxDiff(exported, trained) < 1e-3);
  assert.ok(maxDiff(exported, (await graphs.forward(block14Maps, block15)).output) > 1e-2);
});

test('gradients chained through the upper trunk agree with central finite differences', async () => {
  const random = rng(11);
  const upstream = Float32Array.from({ length: 2 * SIDE * SIDE * 1792 }, () => random() - 0.5);
  const loss = async (w: Block15Weights, input = block14Maps) => {
    const mid = (await graphs.forward(input, w)).output;
    return (await upperGraphs.forward(mid, upper)).map.reduce((s, v, i) => s + v * upstream[i]!, 0);
  };
  const first = await graphs.forward(block14Maps, block15);
  const upperGrads = await (await upperGraphs.forward(first.output, upper)).gradients(upstream);
  assert.ok(upperGrads.input, 'the upper trunk hands back the gradient at its input');
  assert.equal(upperGrads.input.length, first.output.length);
  // The upper trunk's input gradient, checked on its own against finite differences.
  const mapLoss = async (x: Float32Array) => (await upperGraphs.forward(x, upper)).map.reduce((s, v, i) => s + v * upstream[i]!, 0);
  const dx = upperGrads.input;
  for (const i of Array.from(dx.keys()).sort((a, b) => Math.abs(dx[b]!) - Math.abs(dx[a]!)).slice(0, 2)) {
    const h = 1e-2 * Math.max(0.1, Math.abs(first.output[i]!));
    const at = (delta: number) => first.output.map((v, j) => (j === i ? v + delta : v));
    const numeric = ((await mapLoss(at(h))) - (await mapLoss(at(-h)))) / (2 * h);
    assert.ok(Math.abs(numeric - dx[i]!) / (Math.abs(numeric) + Math.abs(dx[i]!)) < 0.05, `input[${i}]: analytic ${dx[i]} vs numeric ${numeric}`);
  }
  const grads = await first.gradients(upperGrads.input);
  for (const name of BLOCK15_PARAMS) {
    const g = grads[name];
    const i = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!))[0]!;
    const h = 1e-2 * Math.max(1e-2, Math.abs(block15[name][i]!));
    const shifted = (delta: number) => ({ ...block15, [name]: block15[name].map((v, j) => (j === i ? v + delta : v)) });
    const numeric = ((await loss(shifted(h))) - (await loss(shifted(-h)))) / (2 * h);
    const relative = Math.abs(numeric - g[i]!) / Math.max(1e-6, Math.abs(numeric) + Math.abs(g[i]!));
    assert.ok(relative < 0.05, `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`);
  }
});

test('bad shapes are refused with the reason', async () => {
  await assert.rejects(graphs.forward(block14Maps.subarray(1), block15), /not whole 7x7x224 maps/);
  await assert.rejects(graphs.forward(block14Maps, { ...block15, wp: new Float32Array(3) }), /block 15 weight wp has 3 values/);
  const forward = await graphs.forward(block14Maps, block15);
  await assert.rejects(forward.gradients(new Float32Array(5)), /5 gradient values/);
  assert.throws(() => new Block15AdamW({ ...block15, we: new Float32Array(2) }, 0.01), /block 15 weight we/);
  const adam = new Block15AdamW(block15, 0.01);
  assert.throws(() => adam.restore([new Float32Array(1)]), /does not match/);
});

test('upperTrunkTraining with block 15: pools block 16 over block 15, steps both blocks, lowers a loss, restores from its state', async () => {
  const pooledGraphs = await UpperTrunkGraphs.create(SIDE, SIDE, 'pooled', true);
  try {
    const options = { graphs: pooledGraphs, initial: upper, maps: packHalf(block14Maps), fromEpoch: 0, learningRate: 1e-3, weightDecay: 0.01, block15: { graphs, initial: block15 } };
    const trunk = upperTrunkTraining(options);
    // Before any step: the pooled features are block 16 + Conv_1 over block 15's own output (maps read back from float16).
    const expected = await pooledGraphs.pool((await graphs.forward(block14Maps, block15)).output, upper);
    const pooled = await trunk.forward([0, 1]);
    assert.ok(maxDiff(pooled, expected) < 2e-2 * Math.max(1, largest(expected)), `pooled features differ by ${maxDiff(pooled, expected)}`);
    // Loss: every pooled feature toward zero (L = sum f^2 / 2, gradient f).
    const lossOf = (f: Float32Array) => f.reduce((sum, v) => sum + (v * v) / 2, 0);
    const first = lossOf(pooled);
    await trunk.backward(Float32Array.from(pooled), 1e-3);
    for (let i = 0; i < 4; i++) await trunk.backward(Float32Array.from(await trunk.forward([0, 1])), 1e-3);
    const after = lossOf(await trunk.forward([0, 1]));
    assert.ok(after < first * 0.95, `loss ${first} -> ${after}`);
    const trained = trunk.block15Weights()!;
    for (const p of BLOCK15_PARAMS) assert.ok(maxDiff(trained[p], block15[p]) > 0, `block 15 ${p} moved`);
    assert.ok(maxDiff(trunk.weights().we, upper.we) > 0, 'block 16 moved');

    const copy = upperTrunkTraining(options);
    copy.restore(trunk.state().map((a) => Float32Array.from(a)));
    await trunk.forward([0, 1]);
    await copy.forward([0, 1]);
    const step = Float32Array.from({ length: 2 * 1792 }, (_, i) => (i % 5) / 5);
    await trunk.backward(step, 1e-3);
    await copy.backward(step, 1e-3);
    for (const p of BLOCK15_PARAMS) assert.deepEqual(copy.block15Weights()![p], trunk.block15Weights()![p], `block 15 ${p} after a restored step`);
    assert.deepEqual(copy.weights().w1, trunk.weights().w1);
    assert.equal((await trunk.poolAll()).length, 2 * 1792);

    // A checkpoint without block 15 does not restore into a trunk with it, nor the other way.
    const without = upperTrunkTraining({ ...options, graphs: pooledGraphs, block15: undefined });
    assert.equal(without.block15Weights(), undefined);
    assert.throws(() => without.restore(trunk.state()), /does not match/);
    assert.throws(() => copy.restore(without.state()), /does not match/);
    // Block 15 needs the gradient at the upper trunk's input.
    const noInputGradient = await UpperTrunkGraphs.create(SIDE, SIDE, 'pooled', false);
    try {
      assert.throws(() => upperTrunkTraining({ ...options, graphs: noInputGradient }), /inputGradient/);
    } finally {
      await noInputGradient.close();
    }
    // And both blocks' graphs must be built for one map size.
    const otherSize = await Block15Graphs.create(SIDE + 1, SIDE);
    try {
      assert.throws(() => upperTrunkTraining({ ...options, block15: { graphs: otherSize, initial: block15 } }), /same map size/);
    } finally {
      await otherSize.close();
    }
  } finally {
    await pooledGraphs.close();
  }
});
