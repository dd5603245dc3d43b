// The trainable upper trunk (block 16 + Conv_1): the re-created layers reproduce the
// backbone, the hand-written gradient graph agrees with finite differences, the exported
// inference graph agrees with the training graph, AdamW steps lower a loss, and the
// optimiser state survives a checkpoint round trip.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { GroknetError } from '../../src/errors.ts';
import { OnnxSession } from '../../src/model/backend/onnxruntime.ts';
import { backboneOnnx } from '../../src/model/backbones/convert-backbone.ts';
import { backboneSpec } from '../../src/model/backbones/registry.ts';
import { GraphBuilder } from '../../src/model/onnx/graph-builder.ts';
import { appendUpperTrunk, BLOCK16, pretrainedUpperTrunk, upperTrunkInputNode, UPPER_TRUNK_PARAMS, type UpperTrunkParam, type UpperTrunkWeights } from '../../src/model/upper-trunk/block16.ts';
import { loadViewTensor } from '../../src/train/augment.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { UpperTrunkGraphs, upperTrunkTraining } from '../../src/train/upper-trunk.ts';
import { gemPoolNHWC } from '../../src/train/gem-pool.ts';
import { packHalf } from '../../src/util/float16.ts';
import { rng } from '../../src/util/random.ts';

const SIDE = 7;
const PER = SIDE * SIDE * BLOCK16.in;
let pretrained: UpperTrunkWeights;
let graphs: UpperTrunkGraphs;
/** Real block-15 maps and the backbone's own Conv_1 output for two generated photos. */
let realMaps: Float32Array;
let backboneConv1: Float32Array;

before(async () => {
  process.env.GROKNET_CACHE ??= await mkdtemp(path.join(os.tmpdir(), 'groknet-upper-'));
  pretrained = pretrainedUpperTrunk('nsfwjs/mobilenet_v2_mid');
  graphs = await UpperTrunkGraphs.create(SIDE, SIDE);
  const spec = backboneSpec('nsfwjs/mobilenet_v2_mid');
  const conv1 = spec.tensors.conv_1!.node;
  const session = await OnnxSession.create((await backboneOnnx(spec.id, [upperTrunkInputNode(), conv1])).bytes);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'groknet-upper-img-'));
  const tensors: Float32Array[] = [];
  for (const [i, colour] of ['#c33', '#36c'].entries()) {
    const file = path.join(dir, `${i}.png`);
    await sharp({ create: { width: 160, height: 120, channels: 3, background: '#eee' } })
      .composite([{ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120"><circle cx="${60 + i * 30}" cy="60" r="40" fill="${colour}"/></svg>`) }])
      .png()
      .toFile(file);
    tensors.push(await loadViewTensor(file, spec.input));
  }
  const input = new Float32Array(tensors.length * tensors[0]!.length);
  tensors.forEach((t, i) => input.set(t, i * t.length));
  const out = await session.run(session.inputNames[0]!, input, [2, 224, 224, 3], [upperTrunkInputNode(), conv1]);
  realMaps = out[upperTrunkInputNode()]!.data;
  backboneConv1 = out[conv1]!.data;
  await session.close();
});

function meanPool(map: Float32Array, images: number, channels: number): Float32Array {
  const positions = map.length / images / channels;
  const out = new Float32Array(images * channels);
  for (let i = 0; i < images; i++) for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) out[i * channels + c]! += map[(i * positions + p) * channels + c]! / positions;
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/**
 * Central finite differences of `loss` against the analytic gradients, on the `entries`
 * largest-gradient entries of each named weight (a ReLU6 kink inside the step would spoil a
 * small one).
 */
async function expectFiniteDifferences(grads: UpperTrunkWeights, names: readonly UpperTrunkParam[], loss: (w: UpperTrunkWeights) => Promise<number>, entries = 1): Promise<void> {
  for (const name of names) {
    const g = grads[name];
    const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, entries);
    for (const i of order) {
      const h = 1e-2 * Math.max(1e-2, Math.abs(pretrained[name][i]!));
      const shifted = (delta: number) => ({ ...pretrained, [name]: pretrained[name].map((v, j) => (j === i ? v + delta : v)) });
      const numeric = ((await loss(shifted(h))) - (await loss(shifted(-h)))) / (2 * h);
      const relative = Math.abs(numeric - g[i]!) / Math.max(1e-6, Math.abs(numeric) + Math.abs(g[i]!));
      assert.ok(relative < 0.05, `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`);
    }
  }
}

test('with the backbone weights, the training graph reproduces the backbone pooled Conv_1', async () => {
  assert.equal(realMaps.length, 2 * PER);
  const features = await graphs.pool(realMaps, pretrained);
  assert.equal(features.length, 2 * BLOCK16.out);
  assert.ok(maxDiff(features, meanPool(backboneConv1, 2, BLOCK16.out)) < 1e-4);
  // Inference (pool) keeps nothing for a gradient, and computes what a training pass computes.
  const training = await graphs.forward(realMaps, pretrained);
  assert.deepEqual(training.features, features);
  const inference = await graphs.forward(realMaps, pretrained, undefined, { gradients: false });
  await assert.rejects(inference.gradients(new Float32Array(2 * BLOCK16.out)), /without gradients/);
});

test('the exported inference graph computes what the training graph computes', async () => {
  // Weights moved away from the backbone's, so agreement is not inherited from it.
  const random = rng(5);
  const moved = Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, pretrained[p].map((v) => v * (1 + 0.2 * (random() - 0.5)))])) as UpperTrunkWeights;
  const g = new GraphBuilder('upper_only');
  const input = g.input('maps', ['batch', 'h', 'w', BLOCK16.in]);
  const conv1 = appendUpperTrunk(g, input, moved);
  g.opInto('ReduceMean', [conv1], ['pooled'], { axes: [1, 2], keepdims: 0 });
  g.output('pooled', ['batch', BLOCK16.out]);
  const session = await OnnxSession.create(g.toModel());
  const exported = (await session.run('maps', realMaps, [2, SIDE, SIDE, BLOCK16.in], ['pooled'])).pooled!.data;
  await session.close();
  assert.ok(maxDiff(exported, await graphs.pool(realMaps, moved)) < 1e-3);
  // And the weights matter: the backbone's weights give other features.
  assert.ok(maxDiff(exported, await graphs.pool(realMaps, pretrained)) > 1e-2);
});

test('the gradient graph agrees with central finite differences', async () => {
  const random = rng(3);
  const upstream = Float32Array.from({ length: 2 * BLOCK16.out }, () => random() - 0.5);
  const loss = async (w: UpperTrunkWeights) => (await graphs.pool(realMaps, w)).reduce((s, v, i) => s + v * upstream[i]!, 0);
  const grads = await (await graphs.forward(realMaps, pretrained)).gradients(upstream);
  await expectFiniteDifferences(grads, UPPER_TRUNK_PARAMS, loss, 2);
});

test('per-position upstream (the segmentation decoder): the map is the backbone Conv_1 and the gradients agree with finite differences', async () => {
  const mapGraphs = await UpperTrunkGraphs.create(SIDE, SIDE, 'map');
  try {
    const forward = await mapGraphs.forward(realMaps, pretrained);
    assert.equal(forward.map.length, 2 * SIDE * SIDE * BLOCK16.out);
    // Inference keeps the map (what the decoder reads) and nothing for a gradient.
    const inference = await mapGraphs.forward(realMaps, pretrained, undefined, { gradients: false });
    assert.deepEqual(inference.map, forward.map);
    await assert.rejects(inference.gradients(new Float32Array(forward.map.length)), /without gradients/);
    assert.ok(maxDiff(forward.map, backboneConv1) < 1e-4);
    const random = rng(9);
    const upstream = Float32Array.from({ length: forward.map.length }, () => random() - 0.5);
    const loss = async (w: UpperTrunkWeights) => (await mapGraphs.forward(realMaps, w)).map.reduce((s, v, i) => s + v * upstream[i]!, 0);
    const grads = await forward.gradients(upstream);
    await expectFiniteDifferences(grads, ['we', 'wd', 'w1', 'b1'], loss);
    // The pooled graphs' gradient of a uniform upstream is the map graphs' gradient of that upstream spread evenly.
    const pooledUpstream = Float32Array.from({ length: 2 * BLOCK16.out }, () => random() - 0.5);
    const spread = new Float32Array(forward.map.length);
    for (let i = 0; i < 2; i++) for (let p = 0; p < SIDE * SIDE; p++) for (let c = 0; c < BLOCK16.out; c++) spread[(i * SIDE * SIDE + p) * BLOCK16.out + c] = pooledUpstream[i * BLOCK16.out + c]! / (SIDE * SIDE);
    const viaPool = await (await graphs.forward(realMaps, pretrained)).gradients(pooledUpstream);
    const viaMap = await forward.gradients(spread);
    assert.ok(maxDiff(viaPool.we, viaMap.we) < 1e-4 * viaPool.we.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
  } finally {
    await mapGraphs.close();
  }
});

test('upperTrunkTraining: AdamW steps lower a loss; state restores the weights and moments exactly', async () => {
  const maps = packHalf(realMaps);
  const options = { graphs, initial: pretrained, maps, fromEpoch: 0, learningRate: 1e-3, weightDecay: 0.01 };
  const trunk = upperTrunkTraining(options);
  // Loss: push every pooled feature of both photos toward zero (L = sum f^2 / 2, gradient f).
  const lossOf = (f: Float32Array) => f.reduce((s, v) => s + (v * v) / 2, 0);
  const first = lossOf(await trunk.forward([0, 1]));
  for (let i = 0; i < 5; i++) await trunk.backward(Float32Array.from(await trunk.forward([0, 1])), 1e-3);
  const after = lossOf(await trunk.forward([0, 1]));
  assert.ok(after < first * 0.95, `loss ${first} -> ${after}`);
  await assert.rejects(async () => {
    const fresh = upperTrunkTraining(options);
    await fresh.backward(new Float32Array(2 * BLOCK16.out), 1e-3);
  }, /without a forward pass/);

  const saved = trunk.state();
  const copy = upperTrunkTraining(options);
  copy.restore(saved.map((a) => Float32Array.from(a)));
  await trunk.forward([0, 1]);
  await copy.forward([0, 1]);
  const step = Float32Array.from({ length: 2 * BLOCK16.out }, (_, i) => (i % 7) / 7);
  await trunk.backward(step, 1e-3);
  await copy.backward(step, 1e-3);
  for (const p of UPPER_TRUNK_PARAMS) assert.deepEqual(copy.weights()[p], trunk.weights()[p], `${p} after a restored step`);
  assert.equal((await trunk.poolAll()).length, 2 * BLOCK16.out);
  assert.throws(() => copy.restore(saved.slice(1)), /does not match/);
});

test('learned GeM: at q = 1 the mean, at q = 3 GeM of the Conv_1 map; the gradients (q and weights) agree with finite differences', async () => {
  const gemGraphs = await UpperTrunkGraphs.create(SIDE, SIDE, 'pooled', false, true);
  try {
    const mean = await graphs.pool(realMaps, pretrained);
    assert.ok(maxDiff(await gemGraphs.pool(realMaps, pretrained, 1), mean) < 1e-5);
    // Pooled graphs do not hand out the map (it would cost a transpose of every position).
    const pooledForward = await graphs.forward(realMaps, pretrained);
    assert.throws(() => pooledForward.map, /map upstream/);
    const mapGraphs = await UpperTrunkGraphs.create(SIDE, SIDE, 'map');
    const map = (await mapGraphs.forward(realMaps, pretrained)).map;
    await mapGraphs.close();
    const expected = new Float32Array(2 * BLOCK16.out);
    for (let i = 0; i < 2; i++) gemPoolNHWC(map, i * SIDE * SIDE * BLOCK16.out, SIDE * SIDE, BLOCK16.out, 3, expected, i * BLOCK16.out);
    assert.ok(maxDiff(await gemGraphs.pool(realMaps, pretrained, 3), expected) < 1e-4);
    await assert.rejects(gemGraphs.forward(realMaps, pretrained), /exponent/);
    await assert.rejects(graphs.forward(realMaps, pretrained, 2), /mean/);

    const q = 2.5;
    const random = rng(11);
    const upstream = Float32Array.from({ length: 2 * BLOCK16.out }, () => random() - 0.5);
    const loss = async (w: UpperTrunkWeights, exponent: number) => (await gemGraphs.pool(realMaps, w, exponent)).reduce((s, v, i) => s + v * upstream[i]!, 0);
    const grads = await (await gemGraphs.forward(realMaps, pretrained, q)).gradients(upstream);
    const h = 1e-2;
    const numericQ = ((await loss(pretrained, q + h)) - (await loss(pretrained, q - h))) / (2 * h);
    const analyticQ = grads.gemQ![0]!;
    assert.ok(Math.abs(numericQ - analyticQ) / Math.max(1e-6, Math.abs(numericQ) + Math.abs(analyticQ)) < 0.02, `q: analytic ${analyticQ} vs numeric ${numericQ}`);
    await expectFiniteDifferences(grads, ['we', 'w1', 'b1'], (w) => loss(w, q));
  } finally {
    await gemGraphs.close();
  }
});

test('learned GeM in training: the exponent follows its gradient, stays within [1, 8], and survives a checkpoint', async () => {
  const gemGraphs = await UpperTrunkGraphs.create(SIDE, SIDE, 'pooled', false, true);
  try {
    const maps = packHalf(realMaps);
    const options = { graphs: gemGraphs, initial: pretrained, maps, fromEpoch: 0, learningRate: 1e-3, weightDecay: 0, gem: { initial: 1, learningRateRatio: 50 } };
    const trunk = upperTrunkTraining(options);
    assert.equal(trunk.gemP(), 1);
    // Loss -sum(f): GeM grows with q (towards the max), so q must rise.
    for (let i = 0; i < 4; i++) {
      await trunk.forward([0, 1]);
      await trunk.backward(new Float32Array(2 * BLOCK16.out).fill(-1), 1e-3);
    }
    const raised = trunk.gemP()!;
    assert.ok(raised > 1.1 && raised <= 8, `q ${raised}`);
    const copy = upperTrunkTraining(options);
    copy.restore(trunk.state().map((a) => Float32Array.from(a)));
    assert.equal(copy.gemP(), raised);
    // The other way, q stops at 1 (the mean).
    for (let i = 0; i < 40; i++) {
      await trunk.forward([0, 1]);
      await trunk.backward(new Float32Array(2 * BLOCK16.out).fill(1), 1e-3);
    }
    assert.equal(trunk.gemP(), 1);
    assert.throws(() => upperTrunkTraining({ ...options, graphs }), /gem/);
    assert.throws(() => upperTrunkTraining({ ...options, gem: { initial: 0.5, learningRateRatio: 50 } }), /within/);
    assert.throws(() => upperTrunkTraining({ graphs, initial: pretrained, maps, fromEpoch: 0, learningRate: 1e-3, weightDecay: 0 }).restore(trunk.state()), /does not match/);
  } finally {
    await gemGraphs.close();
  }
});

test('upper trunk config: refused where it cannot work, with the reason', () => {
  const base = {
    datasets: [{ name: 'a', adapter: 'folder', path: '/x', head: 'a' }],
    tasks: [{ head: 'a', loss: 'softmax', dataset: 'a' }],
    optimizer: { epochs: 4 },
  };
  const ok = parseTrainConfig({ ...base, model: { gemP: 1, upperTrunk: { layers: 'block_16', fromEpoch: 2 } } });
  assert.equal(ok.model.upperTrunk?.learningRate, 1e-4);
  assert.equal(ok.model.upperTrunk?.learnGemP, false);
  assert.equal(parseTrainConfig({ ...base, model: { gemP: 1, upperTrunk: { layers: 'block_16', learnGemP: true } } }).model.upperTrunk?.learnGemP, true);
  const refused = (model: unknown, reason: RegExp) =>
    assert.throws(() => parseTrainConfig({ ...base, model }), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_config' && reason.test(e.message));
  refused({ gemP: 2, upperTrunk: { layers: 'block_16' } }, /gemP must be one of/);
  assert.equal(parseTrainConfig({ ...base, model: { gemP: 3, upperTrunk: { layers: 'block_16' } } }).model.gemP, 3);
  refused({ gemP: 1, upperTrunk: { layers: 'block_16', fromEpoch: 4 } }, /fromEpoch/);
  refused({ gemP: 1, tensors: ['feature_vector'], upperTrunk: { layers: 'block_16' } }, /conv_1/);
  refused({ gemP: 1, backbone: 'human-models/centernet', upperTrunk: { layers: 'block_16' } }, /mobilenet_v2_mid/);
  assert.equal(parseTrainConfig({ ...base, model: { gemP: 1, upperTrunk: { layers: 'block_15' } } }).model.upperTrunk?.layers, 'block_15', 'block 15 may train too');
  refused({ gemP: 1, upperTrunk: { layers: 'block_14' } }, /layers/);
  refused({ gemP: 1, upperTrunk: { layers: 'block_16', learnGemP: 'yes' } }, /learnGemP/);
  refused({ gemP: 1, upperTrunk: { layers: 'block_16', surprise: true } }, /surprise|Unrecognized/);
  assert.throws(() => pretrainedUpperTrunk('human-models/nanodet'), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_config');
});
