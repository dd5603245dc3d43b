// The ONNX decoder computes what TF.js trained: random weights, random maps, both runtimes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { parseModel } from '../../src/model/onnx/graph-builder.ts';
import { buildDecoderGraph, DECODER_OUTPUT, initDecoder, type DecoderWeights } from '../../src/segment/decoder.ts';
import { decoderForward, decoderVars, disposeVars } from '../../src/train/segmentation/decoder-tf.ts';
import { rng } from '../../src/train/fit-heads.ts';
import { readyTf } from '../../src/train/tf.ts';

function randomDecoder(seed: number, mixLevels: boolean[], context = false): DecoderWeights {
  const random = rng(seed);
  const weights = initDecoder(
    {
      levels: [
        { node: 'trunk/coarse', channels: 24, size: [3, 2], width: 16, mix: mixLevels[0]!, global: context },
        { node: 'trunk/middle', channels: 12, size: [6, 4], width: 16, mix: mixLevels[1]! },
        { node: 'trunk/fine', channels: 8, size: [12, 8], width: 10, mix: mixLevels[2]! },
      ],
      classes: 7,
    },
    random,
  );
  // Non-trivial standardisation and biases, so folding them into the lateral is exercised.
  for (const level of weights.levels) {
    level.mean = Float32Array.from(level.mean, () => random() * 3);
    level.std = Float32Array.from(level.std, () => 0.2 + random() * 2);
    for (const d of [level.lateral, level.fromCoarser, level.mix, level.global]) if (d) d.bias = Float32Array.from(d.bias, () => random() - 0.5);
  }
  weights.classifier.bias = Float32Array.from(weights.classifier.bias, () => random() - 0.5);
  return weights;
}

function randomMaps(weights: DecoderWeights, batch: number, seed: number): Float32Array[] {
  const random = rng(seed);
  // ReLU6-like activations, with exact zeros as the trunk has.
  return weights.levels.map((l) => Float32Array.from({ length: batch * l.size[0] * l.size[1] * l.channels }, () => Math.max(0, random() * 7 - 1)));
}

for (const [mix, context] of [[[false, true, false], false], [[true, true, true], true], [[false, false, false], false], [[true, false, false], true]] as const) {
  test(`ONNX Runtime agrees with TF.js on the decoder (3x3 on levels ${mix.map((m, i) => (m ? i : '-')).join('')}${context ? ', image context' : ''})`, async () => {
    const tf = await readyTf();
    const weights = randomDecoder(7, [...mix], context);
    const batch = 2;
    const maps = randomMaps(weights, batch, 3);

    const vars = decoderVars(weights);
    const expected = tf.tidy(() =>
      decoderForward(vars, weights.levels.map((l, i) => tf.tensor4d(maps[i]!, [batch, l.size[0], l.size[1], l.channels]))).dataSync(),
    ) as Float32Array;
    disposeVars(vars);

    const bytes = buildDecoderGraph(weights).toModel();
    const graph = parseModel(bytes).graph!;
    assert.deepEqual(graph.input!.map((i) => i.name), weights.levels.map((l) => l.node));
    const session = await ort.InferenceSession.create(bytes);
    const feeds = Object.fromEntries(weights.levels.map((l, i) => [l.node, new ort.Tensor('float32', maps[i]!, [batch, l.size[0], l.size[1], l.channels])]));
    const result = await session.run(feeds);
    const out = result[DECODER_OUTPUT]!;
    assert.deepEqual(out.dims, [batch, 12, 8, 7]);
    const actual = out.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - actual[i]!));
    assert.ok(maxDiff < 1e-3, `max abs diff ${maxDiff}`);
    // Not vacuous: the logits vary across positions and classes.
    const spread = Math.max(...expected) - Math.min(...expected);
    assert.ok(spread > 1, `logits spread ${spread}`);
    await session.release();
  });
}

test('a decoder whose levels do not fit together is refused before export', () => {
  const weights = randomDecoder(1, [false, false, false]);
  weights.levels[1]!.size = [5, 4];
  assert.throws(() => buildDecoderGraph(weights), /not twice/);
});
