// The fused backbone (MobileNetV2 with CenterNet's backbone beside it, one input): each part
// computes what it computes alone. A constant image upsamples to the same constant, so the
// second trunk's output can be checked exactly against CenterNet run on its own at 320 px.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { GroknetError } from '../../../src/errors.ts';
import { OnnxSession } from '../../../src/model/backend/onnxruntime.ts';
import { backboneOnnx } from '../../../src/model/backbones/convert-backbone.ts';
import { fuseBackboneGraphs } from '../../../src/model/backbones/fuse-graphs.ts';
import { backboneSpec, packagedId } from '../../../src/model/backbones/registry.ts';
import { GraphBuilder } from '../../../src/model/onnx/graph-builder.ts';

const FUSED = 'fused/mobilenet_v2_mid+centernet';

before(async () => {
  process.env.GROKNET_CACHE ??= await mkdtemp(path.join(os.tmpdir(), 'groknet-fuse-'));
});

/** A batch of constant NHWC images, one value per image and channel. */
function constantImages(size: number, values: number[][], scale = 1): Float32Array {
  const per = size * size * 3;
  const out = new Float32Array(values.length * per);
  values.forEach((rgb, i) => {
    for (let p = 0; p < size * size; p++) for (let c = 0; c < 3; c++) out[i * per + p * 3 + c] = rgb[c]! * scale;
  });
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('the fused backbone: one input, MobileNetV2 as alone, CenterNet as alone on the image upsampled to 320 px and scaled to 0-255', async () => {
  const spec = backboneSpec(FUSED);
  const conv1 = spec.tensors.conv_1!.node;
  const second = spec.tensors.centernet_extern1!.node;
  const fused = await OnnxSession.create((await backboneOnnx(FUSED, [conv1, second])).bytes);
  const mobilenet = await OnnxSession.create((await backboneOnnx(spec.fused!.first, [conv1])).bytes);
  const centernetNode = backboneSpec(spec.fused!.second).tensors.extern1!.node;
  const centernet = await OnnxSession.create((await backboneOnnx(spec.fused!.second, [centernetNode], [320, 320])).bytes);
  assert.equal(fused.inputNames.length, 1, 'one input');

  const values = [
    [0.2, 0.5, 0.8],
    [0.9, 0.1, 0.4],
  ];
  const out = await fused.run(fused.inputNames[0]!, constantImages(224, values), [2, 224, 224, 3], [conv1, second]);
  const alone = await mobilenet.run(mobilenet.inputNames[0]!, constantImages(224, values), [2, 224, 224, 3], [conv1]);
  const seen = await centernet.run(centernet.inputNames[0]!, constantImages(320, values, 255), [2, 320, 320, 3], [centernetNode]);
  assert.deepEqual(out[conv1]!.dims, [2, 7, 7, 1792]);
  assert.deepEqual(out[second]!.dims, [2, 10, 10, 480], 'CenterNet at 320 px: a 10x10 map');
  assert.equal(maxDiff(out[conv1]!.data, alone[conv1]!.data), 0, 'MobileNetV2 is untouched');
  const diff = maxDiff(out[second]!.data, seen[centernetNode]!.data);
  assert.ok(diff <= 1e-4 * Math.max(1, maxAbs(seen[centernetNode]!.data)), `CenterNet part differs by ${diff}`);
  // The two images differ, so the second trunk does read its own image of the batch.
  assert.ok(maxDiff(out[second]!.data.subarray(0, 48000), out[second]!.data.subarray(48000)) > 1e-3);
  await Promise.all([fused.close(), mobilenet.close(), centernet.close()]);
});

test('the fused backbone refuses requests for one part only, and cannot be loaded as one package', async () => {
  const spec = backboneSpec(FUSED);
  await assert.rejects(backboneOnnx(FUSED, [spec.tensors.conv_1!.node]), (e: unknown) => e instanceof GroknetError && e.code === 'invalid_config' && /at least one tensor of each/.test(e.message));
  assert.throws(() => packagedId(spec), /fused from nsfwjs\/mobilenet_v2_mid and human-models\/centernet/);
  assert.equal(packagedId(backboneSpec('human-models/centernet')), 'human-models/centernet');
});

test('fusing graphs with more than one input is refused', () => {
  const twoInputs = new GraphBuilder('two');
  twoInputs.input('a', ['n', 4, 4, 3]);
  twoInputs.input('b', ['n', 4, 4, 3]);
  twoInputs.opInto('Add', ['a', 'b'], ['y']);
  twoInputs.output('y', ['n', 4, 4, 3]);
  const one = new GraphBuilder('one');
  one.input('x', ['n', 4, 4, 3]);
  one.opInto('Identity', ['x'], ['y']);
  one.output('y', ['n', 4, 4, 3]);
  assert.throws(
    () => fuseBackboneGraphs(twoInputs.toModel(), one.toModel(), { prefix: 'second/', from: [4, 4], to: [8, 8], scale: 1 }),
    (e: unknown) => e instanceof GroknetError && e.code === 'model_invalid' && /exactly one input/.test(e.message),
  );
});

test('two small graphs fused: the second reads the first input resized and scaled, under its prefix', async () => {
  const first = new GraphBuilder('first');
  first.input('x', ['n', 4, 4, 3]);
  first.opInto('Identity', ['x'], ['y']);
  first.output('y', ['n', 4, 4, 3]);
  const second = new GraphBuilder('second');
  second.input('x', ['n', 8, 8, 3]);
  second.opInto('ReduceMean', ['x'], ['y'], { axes: [1, 2], keepdims: 0 });
  second.output('y', ['n', 3]);
  const session = await OnnxSession.create(fuseBackboneGraphs(first.toModel(), second.toModel(), { prefix: 'second/', from: [4, 4], to: [8, 8], scale: 10 }));
  const image = constantImages(4, [[0.1, 0.2, 0.3]]);
  const out = await session.run(session.inputNames[0]!, image, [1, 4, 4, 3], ['y', 'second/y']);
  assert.deepEqual(Array.from(out.y!.data), Array.from(image), 'the first graph is unchanged');
  assert.deepEqual(out['second/y']!.dims, [1, 3]);
  assert.ok(maxDiff(out['second/y']!.data, Float32Array.of(1, 2, 3)) < 1e-5, `the second graph read ${Array.from(out['second/y']!.data)}`);
  await session.close();
});
