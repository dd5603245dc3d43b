// The segmentation trunk with a fine-tuned upper trunk: its weights come out of a heads
// graph intact (and a heads graph without one is refused), and the decoder graph that
// carries block 16 + Conv_1 computes the upper trunk followed by the TF.js decoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { GroknetError } from '../../src/errors.ts';
import { buildHeadsGraph, type DenseWeights } from '../../src/model/heads/heads-graph.ts';
import { BLOCK15_PARAMS, block15InputNode, pretrainedBlock15, type Block15Weights } from '../../src/model/upper-trunk/block15.ts';
import { GraphBuilder } from '../../src/model/onnx/graph-builder.ts';
import { appendBlock15 } from '../../src/model/upper-trunk/block15.ts';
import { BLOCK16, pretrainedUpperTrunk, UPPER_TRUNK_PARAMS, upperTrunkInputNode, type UpperTrunkWeights } from '../../src/model/upper-trunk/block16.ts';
import { buildDecoderGraph, DECODER_OUTPUT, initDecoder } from '../../src/segment/decoder.ts';
import { decoderForward, decoderVars, disposeVars } from '../../src/train/segmentation/decoder-tf.ts';
import { UPPER_CONV1_NODE, upperTrunkFromHeads, upperTrunkGraph } from '../../src/segment/trunk.ts';
import { rng } from '../../src/train/fit-heads.ts';
import { readyTf } from '../../src/train/tf.ts';

function movedTrunk(seed: number): UpperTrunkWeights {
  const random = rng(seed);
  const pretrained = pretrainedUpperTrunk('nsfwjs/mobilenet_v2_mid');
  return Object.fromEntries(UPPER_TRUNK_PARAMS.map((p) => [p, pretrained[p].map((v) => v * (1 + 0.2 * (random() - 0.5)))])) as UpperTrunkWeights;
}

function headsBytes(upperTrunk?: UpperTrunkWeights): Uint8Array {
  const dense = (inDim: number, outDim: number): DenseWeights => ({ kernel: new Float32Array(inDim * outDim).fill(0.01), bias: new Float32Array(outDim), inDim, outDim });
  return buildHeadsGraph({
    inputNode: upperTrunk ? upperTrunkInputNode() : 'conv_1',
    channels: BLOCK16.out,
    ...(upperTrunk ? { upperTrunk } : {}),
    gemP: 1,
    featureMean: new Float32Array(BLOCK16.out),
    featureStd: new Float32Array(BLOCK16.out).fill(1),
    shared: [dense(BLOCK16.out, 8)],
    heads: [{ name: 'colour', kind: 'single', dense: dense(8, 3) }],
    embedding: { dense: dense(8, 4), codeMean: new Float32Array(4), rotation: new Float32Array(16).fill(0.5), bits: 4 },
  }).toModel();
}

test('the fine-tuned upper trunk is read back from a heads graph exactly', () => {
  const weights = movedTrunk(3);
  const read = upperTrunkFromHeads(headsBytes(weights));
  for (const p of UPPER_TRUNK_PARAMS) assert.deepEqual(read[p], weights[p], p);
});

test('a heads graph without an upper trunk is refused with the reason', () => {
  assert.throws(
    () => upperTrunkFromHeads(headsBytes()),
    (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid' && /no fine-tuned upper trunk/.test(e.message),
  );
});

test('a decoder carrying the upper trunk computes the upper trunk, then the decoder', async () => {
  const tf = await readyTf();
  const trunk = movedTrunk(5);
  const random = rng(8);
  const decoder = initDecoder(
    {
      levels: [
        { node: UPPER_CONV1_NODE, channels: BLOCK16.out, size: [3, 2], width: 16, mix: true, global: true },
        { node: 'trunk/middle', channels: 12, size: [6, 4], width: 8, mix: false },
      ],
      classes: 5,
    },
    random,
  );
  decoder.levels[0]!.mean = Float32Array.from(decoder.levels[0]!.mean, () => random());
  decoder.levels[0]!.std = Float32Array.from(decoder.levels[0]!.std, () => 0.5 + random());
  const batch = 2;
  const block15 = Float32Array.from({ length: batch * 3 * 2 * BLOCK16.in }, () => Math.max(0, random() * 6 - 2));
  const middle = Float32Array.from({ length: batch * 6 * 4 * 12 }, () => random() * 3);

  // Reference: the upper trunk on its own in ONNX Runtime, its map into the TF.js decoder.
  const upper = await ort.InferenceSession.create(upperTrunkGraph(trunk));
  const conv1 = (await upper.run({ [upperTrunkInputNode()]: new ort.Tensor('float32', block15, [batch, 3, 2, BLOCK16.in]) }))[UPPER_CONV1_NODE]!.data as Float32Array;
  await upper.release();
  const vars = decoderVars(decoder);
  const expected = tf.tidy(() => decoderForward(vars, [tf.tensor4d(conv1, [batch, 3, 2, BLOCK16.out]), tf.tensor4d(middle, [batch, 6, 4, 12])]).dataSync()) as Float32Array;
  disposeVars(vars);

  const bytes = buildDecoderGraph({ ...decoder, upperTrunk: { input: upperTrunkInputNode(), weights: trunk } }).toModel();
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual(session.inputNames, [upperTrunkInputNode(), 'trunk/middle']);
  const out = await session.run({
    [upperTrunkInputNode()]: new ort.Tensor('float32', block15, [batch, 3, 2, BLOCK16.in]),
    'trunk/middle': new ort.Tensor('float32', middle, [batch, 6, 4, 12]),
  });
  await session.release();
  const actual = out[DECODER_OUTPUT]!.data as Float32Array;
  const diff = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  assert.ok(diff < 1e-3, `max abs diff ${diff}`);
  const spread = Math.max(...expected) - Math.min(...expected);
  assert.ok(spread > 0.1, `logits spread ${spread}`);
});

test('a decoder whose coarsest level does not read the upper trunk width is refused', () => {
  const decoder = initDecoder({ levels: [{ node: 'trunk/coarse', channels: 24, size: [3, 2], width: 8, mix: false }], classes: 3 }, rng(1));
  assert.throws(() => buildDecoderGraph({ ...decoder, upperTrunk: { input: upperTrunkInputNode(), weights: movedTrunk(2) } }), /upper trunk writes 1792 channels/);
});

test('a decoder carrying block 15 too reads block 14 and computes block 15, then the upper trunk and the decoder', async () => {
  const random = rng(21);
  const pretrained15 = pretrainedBlock15();
  const block15 = Object.fromEntries(BLOCK15_PARAMS.map((p) => [p, pretrained15[p].map((v) => v * (1 + 0.2 * (random() - 0.5)))])) as Block15Weights;
  const decoder = initDecoder({ levels: [{ node: UPPER_CONV1_NODE, channels: BLOCK16.out, size: [3, 2], width: 16, mix: true, global: true }], classes: 4 }, random);
  const trunk = movedTrunk(6);
  const batch = 2;
  const block14 = Float32Array.from({ length: batch * 3 * 2 * BLOCK16.in }, () => random() * 4 - 2);
  const feed = (name: string, data: Float32Array) => ({ [name]: new ort.Tensor('float32', data, [batch, 3, 2, BLOCK16.in]) });

  // Reference: block 15 on its own, its output into the decoder that carries only block 16 + Conv_1.
  const g = new GraphBuilder('block15_only');
  g.opInto('Identity', [appendBlock15(g, g.input('in', ['batch', 3, 2, BLOCK16.in]), block15)], ['out']);
  g.output('out', ['batch', 3, 2, BLOCK16.in]);
  const alone = await ort.InferenceSession.create(g.toModel());
  const mid = (await alone.run(feed('in', block14))).out!.data as Float32Array;
  await alone.release();
  const upperOnly = await ort.InferenceSession.create(buildDecoderGraph({ ...decoder, upperTrunk: { input: upperTrunkInputNode(), weights: trunk } }).toModel());
  const expected = (await upperOnly.run(feed(upperTrunkInputNode(), mid)))[DECODER_OUTPUT]!.data as Float32Array;
  await upperOnly.release();

  const session = await ort.InferenceSession.create(buildDecoderGraph({ ...decoder, upperTrunk: { input: block15InputNode(), weights: trunk, block15 } }).toModel());
  assert.deepEqual(session.inputNames, [block15InputNode()]);
  const actual = (await session.run(feed(block15InputNode(), block14)))[DECODER_OUTPUT]!.data as Float32Array;
  await session.release();
  const diff = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
  assert.ok(diff < 1e-3, `max abs diff ${diff}`);
  assert.throws(() => buildDecoderGraph({ ...decoder, upperTrunk: { input: block15InputNode(), weights: trunk, block15: { ...block15, bd: new Float32Array(1) } } }), /block 15 weight bd/);
});
